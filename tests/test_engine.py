"""The local engine against transformers' own scores (reference.npz, computed once with torch)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ner_tui.core.backend import PoolingBackend
from ner_tui.core.engine import InvalidPrompt, LocalEngine
from ner_tui.core.errors import InputTooLong, ModelLoadError, UnknownModel

TINY = Path(__file__).parent / "fixtures" / "tiny-bert-ner"
REF = np.load(TINY / "reference.npz")
TEXTS = [str(t) for t in REF["texts"]]
N = len(TEXTS)


@pytest.fixture(scope="module")
def engine() -> Iterator[LocalEngine]:
    eng = LocalEngine.load(TINY, threads=1)
    yield eng
    eng.close()


def _copy_model(tmp_path: Path, *, weights: tuple[str, ...] = ()) -> Path:
    """Config + tokenizer files of the tiny model, plus the named weight files."""
    out = tmp_path / "model"
    out.mkdir()
    for name in (
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
    ):
        shutil.copy(TINY / name, out / name)
    for rel in weights:
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(TINY / rel, out / rel)
    return out


def test_is_a_pooling_backend(engine: LocalEngine) -> None:
    assert isinstance(engine, PoolingBackend)
    assert engine.describe == "local engine · ONNX Runtime · model.onnx · 1 thread"
    assert engine.id2label[:3] == ("O", "B-PER", "I-PER")
    assert engine.max_model_len == 128


def test_rows_equal_transformers_softmax(engine: LocalEngine) -> None:
    rows = engine.score(TEXTS)
    for i, row in enumerate(rows):
        expected = REF[f"probs_{i}"]
        assert row.dtype == np.float32
        assert row.shape == expected.shape  # one row per token, [CLS] and [SEP] included
        np.testing.assert_allclose(row, expected, atol=1e-4, rtol=0)


def test_tokenizer_matches_transformers(engine: LocalEngine) -> None:
    for i, text in enumerate(TEXTS):
        assert engine.tokenize(text) == REF[f"ids_{i}"].tolist()
        assert engine.tokenize(text, add_special_tokens=False) == REF[f"ids_{i}"].tolist()[1:-1]


async def test_pool_logits_vs_probs(engine: LocalEngine) -> None:
    logits = await engine.pool(TEXTS, use_activation=False)
    probs = await engine.pool(TEXTS)
    assert logits.model == probs.model == str(TINY)
    assert logits.prompt_tokens == sum(len(REF[f"ids_{i}"]) for i in range(N))
    for i in range(N):
        np.testing.assert_allclose(logits.rows[i], REF[f"logits_{i}"], atol=1e-4, rtol=0)
        np.testing.assert_allclose(probs.rows[i], REF[f"probs_{i}"], atol=1e-4, rtol=0)
        assert not np.allclose(logits.rows[i].sum(-1), 1.0)
        np.testing.assert_allclose(probs.rows[i].sum(-1), 1.0, atol=1e-5)


async def test_str_and_id_prompts_agree(engine: LocalEngine) -> None:
    by_text = await engine.pool(TEXTS)
    by_ids = await engine.pool([REF[f"ids_{i}"].tolist() for i in range(N)])
    for a, b in zip(by_text.rows, by_ids.rows, strict=True):
        np.testing.assert_array_equal(a, b)
    # ids are used as given: no special tokens are added around them
    inner = REF["ids_0"].tolist()[1:-1]
    (row,) = engine.run_ids([inner])
    assert row.shape[0] == len(inner)


def test_padding_invariance(engine: LocalEngine) -> None:
    """A short text scores the same alone and padded into a batch of longer texts."""
    alone = engine.score(["Hi"])[0]
    long = "Shares of Toyota fell after Li Wei resigned, Reuters reported from Tokyo. " * 3
    together = engine.score([long, "Hi", long + long, TEXTS[0]])
    np.testing.assert_allclose(together[1], alone, atol=1e-4, rtol=0)
    np.testing.assert_allclose(together[3], REF["probs_0"], atol=1e-4, rtol=0)


def test_sub_batches_keep_prompt_order(
    engine: LocalEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "max_batch_rows", 2)
    prompts = [TEXTS[i % N] for i in range(11)]
    rows = engine.score(prompts)
    for k, row in enumerate(rows):
        np.testing.assert_allclose(row, REF[f"probs_{k % N}"], atol=1e-4, rtol=0)


def test_sub_batches_split_rather_than_pad(engine: LocalEngine) -> None:
    """Short prompts are not padded to long ones once a sub-batch has enough rows."""
    short, long = [2, 40, 41, 42, 3], [2, *range(40, 98), 3]
    prompts = [long if i % 3 else short for i in range(20)]  # 7 short, 13 long
    shapes: list[tuple[int, int]] = []
    runner = engine._runner

    def recording(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        shapes.append(input_ids.shape)
        return runner(input_ids, attention_mask)

    engine._runner = recording  # type: ignore[assignment]
    try:
        rows = engine.run_ids(prompts * 2)  # 14 short, 26 long
    finally:
        engine._runner = runner  # type: ignore[assignment]
    assert shapes == [(14, 5), (26, 60)]
    (alone_short,), (alone_long,) = engine.run_ids([short]), engine.run_ids([long])
    for prompt, row in zip(prompts * 2, rows, strict=True):
        np.testing.assert_allclose(row, alone_short if prompt is short else alone_long, atol=1e-5)


def test_too_long_input(engine: LocalEngine) -> None:
    with pytest.raises(InputTooLong, match="maximum context length is 128 tokens"):
        engine.run_ids([[5] * 129])
    (row,) = engine.run_ids([[5] * 128])  # exactly the limit is fine
    assert row.shape == (128, 9)


def test_max_model_len_option(tmp_path: Path) -> None:
    eng = LocalEngine.load(TINY, max_model_len=8, served_model_name="tiny")
    assert eng.model_card().id == "tiny" and eng.model_card().max_model_len == 8
    with pytest.raises(InputTooLong, match="maximum context length"):
        eng.score([TEXTS[0]])
    with pytest.raises(ModelLoadError, match="larger than the model's 128 positions"):
        LocalEngine.load(TINY, max_model_len=4096)


def test_bad_prompts(engine: LocalEngine) -> None:
    with pytest.raises(InvalidPrompt, match="out of vocabulary"):
        engine.run_ids([[2, 10**6, 3]])
    with pytest.raises(InvalidPrompt, match="out of vocabulary"):
        engine.run_ids([[-1]])
    with pytest.raises(InvalidPrompt, match="no tokens"):
        engine.run_ids([[]])


async def test_unknown_model_and_empty_batch(engine: LocalEngine) -> None:
    with pytest.raises(UnknownModel, match=r"The model `nope` does not exist\."):
        await engine.pool(["x"], model="nope")
    with pytest.raises(InvalidPrompt, match="at least one prompt"):
        await engine.pool([])


def test_missing_weights_message(tmp_path: Path) -> None:
    model = _copy_model(tmp_path)
    with pytest.raises(ModelLoadError) as info:
        LocalEngine.load(model)
    assert "onnx/model.onnx" in str(info.value) and "model.safetensors" in str(info.value)


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is installed")
def test_safetensors_only_without_torch_says_how(tmp_path: Path) -> None:
    model = _copy_model(tmp_path, weights=("model.safetensors",))
    with pytest.raises(ModelLoadError, match="torch is not installed") as info:
        LocalEngine.load(model)
    assert "pip install" in info.value.hint and "optimum-cli export onnx" in info.value.hint


def test_not_a_model_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="No such model directory"):
        LocalEngine.load(tmp_path / "nothing-here")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ModelLoadError, match="no id2label"):
        LocalEngine.load(tmp_path)


@pytest.mark.parametrize("name", ["models/ner/v2", "./ner", "org/name/", "my model"])
def test_a_missing_path_is_not_looked_up_on_the_hub(name: str) -> None:
    """The engine uses the one hub-id rule (alignment.looks_like_hub_id): a name that cannot be
    a hub repo is a missing directory, said as such, not a hub error."""
    with pytest.raises(ModelLoadError, match="No such model directory"):
        LocalEngine.load(name)


@pytest.mark.parametrize("name", ["no-such-org/no-such-model", "no-such-model"])
def test_a_hub_id_is_looked_up_on_the_hub(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """One-word repo ids ("bert-base-cased") are hub ids too, as for the tokenizer."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="the Hugging Face hub did not provide it"):
        LocalEngine.load(name)


def test_config_that_does_not_fit_the_weights(tmp_path: Path) -> None:
    model = _copy_model(tmp_path, weights=("onnx/model.onnx",))
    config = json.loads((model / "config.json").read_text())
    config["id2label"] = {str(i): f"L{i}" for i in range(5)}
    (model / "config.json").write_text(json.dumps(config))
    # Found by the load-time probe, before any request.
    with pytest.raises(ModelLoadError, match=r"5 labels of config\.json"):
        LocalEngine.load(model)


@pytest.mark.parametrize(
    ("id2label", "message"),
    [
        ({"first": "O", "second": "B-PER"}, "id2label key 'first' is not an integer"),
        ({"0": "O", "2": "B-PER"}, r"id2label ids must be exactly 0\.\.1; missing \[1\]"),
        ({"0": "O", "1": 5}, "gives label 1 a name of type int"),
    ],
)
def test_id2label_that_is_not_label_names_in_id_order(
    tmp_path: Path, id2label: dict[str, object], message: str
) -> None:
    """config.json's id2label is read by the one parser (labels.id2label_names); its
    complaint comes back as a ModelLoadError naming the file, before any weights load."""
    model = _copy_model(tmp_path, weights=("onnx/model.onnx",))
    config = json.loads((model / "config.json").read_text())
    config["id2label"] = id2label
    (model / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match=message) as info:
        LocalEngine.load(model)
    assert str(model / "config.json") in info.value.message


def test_vocab_size_larger_than_the_weights(tmp_path: Path) -> None:
    """config.json promising more embedding rows than the weights have (a config from another
    export) fails at load with an explanation, not later with the runtime's Gather error."""
    model = _copy_model(tmp_path, weights=("onnx/model.onnx",))
    config = json.loads((model / "config.json").read_text())
    rows = config["vocab_size"]
    config["vocab_size"] = rows * 10
    (model / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match=f"config.json says vocab_size {rows * 10}") as info:
        LocalEngine.load(model)
    assert "same export" in info.value.hint
    config["vocab_size"] = rows
    (model / "config.json").write_text(json.dumps(config))
    assert LocalEngine.load(model).score(["Hi"])[0].shape[1] == len(config["id2label"])


def test_onnx_preference_order(tmp_path: Path) -> None:
    model = _copy_model(tmp_path)
    (model / "onnx").mkdir()
    shutil.copy(TINY / "onnx" / "model.onnx", model / "onnx" / "model_quantized.onnx")
    assert LocalEngine.load(model).runtime == "ONNX Runtime · model_quantized.onnx"
    shutil.copy(TINY / "onnx" / "model.onnx", model / "model.onnx")
    assert LocalEngine.load(model).runtime == "ONNX Runtime · model.onnx"
    eng = LocalEngine.load(model, onnx_file="model_quantized.onnx")
    assert eng.runtime.endswith("model_quantized.onnx")
    with pytest.raises(ModelLoadError, match="No ONNX file"):
        LocalEngine.load(model, onnx_file="model_fp16.onnx")


def test_graph_without_token_type_ids(engine: LocalEngine) -> None:
    eng = LocalEngine.load(TINY, onnx_file="onnx/model_no_token_type_ids.onnx")
    for a, b in zip(eng.score(TEXTS), engine.score(TEXTS), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)


def test_graph_with_int32_inputs_is_fed_int32(tmp_path: Path, engine: LocalEngine) -> None:
    """Inputs are cast to the dtypes the graph declares (some exports take int32 ids)."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph_model = onnx.load(str(TINY / "onnx" / "model.onnx"))
    graph = graph_model.graph
    casts = []
    for arg in graph.input:
        arg.type.tensor_type.elem_type = TensorProto.INT32
        for node in graph.node:
            node.input[:] = [f"{arg.name}_int64" if x == arg.name else x for x in node.input]
        casts.append(
            helper.make_node("Cast", [arg.name], [f"{arg.name}_int64"], to=TensorProto.INT64)
        )
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    model = _copy_model(tmp_path)
    (model / "onnx").mkdir()
    onnx.save(graph_model, str(model / "onnx" / "model.onnx"))
    eng = LocalEngine.load(model)
    assert [dtype for _, dtype in eng._runner.inputs] == [np.int32] * 3  # type: ignore[attr-defined]
    for a, b in zip(eng.score(TEXTS), engine.score(TEXTS), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    ("problem_type", "expected"),
    [
        ("multi_label_classification", lambda x: 1 / (1 + np.exp(-x))),
        ("regression", lambda x: x),
    ],
)
def test_activation_follows_problem_type(tmp_path: Path, problem_type: str, expected) -> None:  # type: ignore[no-untyped-def]
    model = _copy_model(tmp_path, weights=("onnx/model.onnx",))
    config = json.loads((model / "config.json").read_text())
    config["problem_type"] = problem_type
    (model / "config.json").write_text(json.dumps(config))
    eng = LocalEngine.load(model)
    for i, row in enumerate(eng.score(TEXTS)):
        np.testing.assert_allclose(row, expected(REF[f"logits_{i}"]), atol=1e-4, rtol=0)
    np.testing.assert_allclose(
        eng.score(TEXTS[:1], use_activation=False)[0], REF["logits_0"], atol=1e-4, rtol=0
    )


def test_dynamic_int8_runs_each_sequence_alone(tmp_path: Path) -> None:
    """Dynamic quantization scales activations per batch, so such graphs run unbatched and
    a text's scores never depend on its batch neighbours."""
    pytest.importorskip("onnx")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = _copy_model(tmp_path)
    (model / "onnx").mkdir()
    quantize_dynamic(
        str(TINY / "onnx" / "model.onnx"),
        str(model / "onnx" / "model_quantized.onnx"),
        weight_type=QuantType.QInt8,
    )
    eng = LocalEngine.load(model)
    assert not eng.batch_invariant and eng.max_batch_rows == 1
    alone = [eng.score([t])[0] for t in TEXTS]
    together = eng.score([*TEXTS, "Nokia " * 60])
    for a, b in zip(alone, together, strict=False):
        np.testing.assert_array_equal(a, b)


async def test_concurrent_pool_calls_share_forward_passes(tmp_path: Path) -> None:
    """pool() calls waiting while the inference thread is busy go in its next pass together,
    and every text scores exactly as alone."""
    import asyncio
    import threading

    eng = LocalEngine.load(TINY)
    runner = eng._runner
    gate = threading.Event()
    calls: list[int] = []

    def gated(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        calls.append(input_ids.shape[0])
        gate.wait(timeout=10)
        return runner(input_ids, attention_mask)

    eng._runner = gated  # type: ignore[assignment]
    ids0 = REF["ids_0"].tolist()
    tasks = [asyncio.ensure_future(eng.pool([t])) for t in TEXTS]
    tasks.append(asyncio.ensure_future(eng.pool([ids0], use_activation=False)))
    await asyncio.sleep(0)  # every task has submitted its call
    gate.set()
    results = await asyncio.gather(*tasks)
    assert len(calls) <= 2 and sum(calls) == N + 1
    for i in range(N):
        np.testing.assert_allclose(results[i].rows[0], REF[f"probs_{i}"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(results[N].rows[0], REF["logits_0"], atol=1e-4, rtol=0)
    assert results[N].prompt_tokens == len(ids0)
    # a bad call in the same pass fails alone
    bad = asyncio.ensure_future(eng.pool([[10**6]]))
    good = asyncio.ensure_future(eng.pool(["Hi"]))
    with pytest.raises(InvalidPrompt):
        await bad
    assert (await good).rows[0].shape == REF["probs_2"].shape
    await eng.aclose()
    with pytest.raises(Exception, match="closed"):
        await eng.pool(["Hi"])


def test_torch_path_when_only_safetensors(tmp_path: Path) -> None:
    """Runs where torch is installed (the benchmark venv); the product venv skips it."""
    pytest.importorskip("torch")
    model = _copy_model(tmp_path, weights=("model.safetensors",))
    eng = LocalEngine.load(model, threads=1)
    assert eng.runtime.startswith("transformers + torch")
    for i, row in enumerate(eng.score(TEXTS)):
        np.testing.assert_allclose(row, REF[f"probs_{i}"], atol=1e-4, rtol=0)


def _bundled() -> Path:
    from ner_tui.models import bundled_model_path

    return bundled_model_path()


@pytest.mark.skipif(
    not (_bundled() / "config.json").exists(), reason="the bundled model is not built yet"
)
def test_bundled_model_scores_do_not_depend_on_batch_neighbours() -> None:
    """Whatever ONNX file the bundled model ships, a text scores the same alone and in a
    padded batch with longer texts (within 1e-2), the way the server batches it."""
    eng = LocalEngine.load(_bundled(), threads=1)
    texts = [
        "Barack Obama visited Microsoft headquarters in Seattle on January 2025.",
        "Apple is looking at buying U.K. startup for $1 billion.",
        "Hi",
        "Angela Merkel met Emmanuel Macron in Paris to discuss the European Union budget, "
        "officials in Berlin and Brussels said on Tuesday after a long night of talks.",
    ]
    alone = [eng.score([t])[0] for t in texts]
    together = eng.score(texts[::-1])[::-1]
    for a, b in zip(alone, together, strict=True):
        assert a.shape == b.shape
        assert np.abs(a - b).max() < 1e-2
    np.testing.assert_allclose(alone[0].sum(-1), 1.0, atol=1e-4)
    eng.close()


def _nice(tid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, tid)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="nice is per thread on Linux")
async def test_nice_lowers_the_engine_threads_not_the_caller() -> None:
    """The app's engine (nice > 0): ONNX Runtime's pool threads and the scheduler thread run
    at lower priority, so the event loop's thread wins the CPU; the caller keeps its own."""
    me = threading.get_native_id()
    before = set(os.listdir("/proc/self/task"))
    base = _nice(me)
    eng = LocalEngine.load(TINY, threads=2, nice=5)
    try:
        pool = set(os.listdir("/proc/self/task")) - before
        assert pool, "ONNX Runtime with 2 threads starts a pool thread"
        assert {_nice(int(t)) for t in pool} == {min(19, base + 5)}
        await eng.pool([[1, 2, 3]], model=eng.served_model_name)
        scheduler = eng.scheduler._thread
        assert scheduler is not None and scheduler.native_id is not None
        assert _nice(scheduler.native_id) == min(19, base + 5)
        assert _nice(me) == base
    finally:
        eng.close()
