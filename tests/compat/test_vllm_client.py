"""ner-tui's client, as a new user runs it, against the real vLLM.

``ner-tui predict`` runs as a subprocess with only ``--url`` (the model and its tokenizer are
discovered from ``/v1/models``), in every encoding; a text longer than the model window is
split and merged; each failure kind a real vLLM produces has its message and exit code. The
expected entities are the bundled model's (these are its weights, at fp32), and the same
prediction from the local engine on the fp32 ONNX export must agree with vLLM's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import httpx
import numpy as np
import pytest
from real_vllm import RealVllm, skip_module_unless_configured
from servers import free_port

from ner_tui.core.client import PoolingClient
from ner_tui.core.connect import connect, discover_model
from ner_tui.core.errors import InputTooLong, UnknownModel
from ner_tui.core.settings import Settings

skip_module_unless_configured()

TEXT = "Barack Obama met Angela Merkel in Berlin on Tuesday."
EXPECTED = {
    ("PER", "Barack Obama"),
    ("PER", "Angela Merkel"),
    ("LOC", "Berlin"),
    ("DATE", "Tuesday"),
}


def predict(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ner_tui.cli", "predict", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def predict_json(*args: str, stdin: str | None = None) -> Any:
    run = predict("-o", "json", *args, stdin=stdin)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def entities(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(e["label"], e["text"]) for e in doc["entities"]}


@pytest.mark.parametrize("encoding", ["float", "base64", "bytes"])
def test_predict_in_every_encoding(vllm: RealVllm, encoding: str) -> None:
    doc = predict_json("--url", vllm.url, "--encoding", encoding, TEXT)
    assert doc["model"] == vllm.model  # discovered, not given
    assert entities(doc) >= EXPECTED
    local = predict_json("--local", "--model", str(vllm.model_dir), TEXT)
    assert [(e["label"], e["start"], e["end"]) for e in doc["entities"]] == [
        (e["label"], e["start"], e["end"]) for e in local["entities"]
    ]
    for a, b in zip(doc["tokens"], local["tokens"], strict=True):
        assert (a["token"], a["label"]) == (b["token"], b["label"])
        assert abs(a["score"] - b["score"]) < 1e-4


def test_table_output_is_the_default(vllm: RealVllm) -> None:
    run = predict("--url", vllm.url, TEXT)
    assert run.returncode == 0, run.stderr
    assert "B-PER" in run.stdout and "Obama" in run.stdout


def test_long_text_is_split_into_windows_and_merged(vllm: RealVllm) -> None:
    from ner_tui.ui.samples import long_document

    text = long_document(24)
    doc = predict_json(
        "--url",
        vllm.url,
        "-f",
        "-",
        "--input-format",
        "jsonl",
        stdin=json.dumps({"text": text}) + "\n",
    )
    doc = doc[0] if isinstance(doc, list) else doc
    assert doc["chunks"] > 1
    assert doc["tokens"][-1]["end"] <= len(text)
    assert len(doc["tokens"]) > vllm.max_model_len
    local = predict_json(
        "--local",
        "--model",
        str(vllm.model_dir),
        "-f",
        "-",
        "--input-format",
        "jsonl",
        stdin=json.dumps({"text": text}) + "\n",
    )
    local = local[0] if isinstance(local, list) else local
    assert local["chunks"] == doc["chunks"]
    assert [(e["label"], e["start"], e["end"]) for e in doc["entities"]] == [
        (e["label"], e["start"], e["end"]) for e in local["entities"]
    ]


def test_a_file_of_documents_goes_concurrently_in_order(vllm: RealVllm) -> None:
    lines = [f"Document {i}: Angela Merkel visited Paris." for i in range(20)]
    out = predict("--url", vllm.url, "-o", "jsonl", "--concurrency", "8", stdin="\n".join(lines))
    assert out.returncode == 0, out.stderr
    docs = [json.loads(line) for line in out.stdout.splitlines()]
    assert [d["text"] for d in docs] == lines
    assert all(("PER", "Angela Merkel") in entities(d) for d in docs)


def test_unknown_model_exit_code_and_served_names(vllm: RealVllm) -> None:
    run = predict(
        "--url", vllm.url, "--model", "no-such-model", "--tokenizer", str(vllm.model_dir), TEXT
    )
    assert run.returncode == 12, run.stderr
    assert "no-such-model" in run.stderr


def test_unreachable_exit_code(vllm: RealVllm) -> None:
    run = predict("--url", f"http://127.0.0.1:{free_port()}", TEXT)
    assert run.returncode == 10
    assert "No server at" in run.stderr


async def test_client_discovers_the_served_model(vllm: RealVllm) -> None:
    async with PoolingClient(vllm.url) as client:
        card = await discover_model(client, Settings())
        assert card.id == vllm.model
        assert card.root == str(vllm.model_dir)
        assert card.max_model_len == 512
        assert (await discover_model(client, Settings(model=str(vllm.model_dir)))).id == vllm.model
        # The tokenizer loaded here matches the server's: connecting warns about nothing.
        conn = await connect(Settings(url=vllm.url), "server")
        await conn.aclose()
        assert not any("tokenizes differently" in w for w in conn.warnings)
    async with httpx.AsyncClient(base_url=vllm.url) as http:
        assert (await http.get("/health")).status_code == 200
        assert (await http.get("/version")).json()["version"] == vllm.version


async def test_client_pool_ids_batch_and_logits(vllm: RealVllm) -> None:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(vllm.model_dir / "tokenizer.json"))
    ids = [tok.encode(t).ids for t in (TEXT, "Apple shares rose.")]
    async with PoolingClient(vllm.url) as client:
        one = await client.pool(ids, model=vllm.model)
        logits = await client.pool(ids, model=vllm.model, use_activation=False)
        served = await client.tokenize(TEXT, vllm.model)
    async with httpx.AsyncClient(base_url=vllm.url) as http:  # both prompts in one request
        answer = await http.post("/pooling", json={"model": vllm.model, "input": ids})
    batch = [np.asarray(item["data"], dtype=np.float32) for item in answer.json()["data"]]
    assert [r.shape for r in one.rows] == [(len(i), 11) for i in ids]
    assert one.prompt_tokens == sum(len(i) for i in ids)
    for a, b, z in zip(one.rows, batch, logits.rows, strict=True):
        assert np.allclose(a, b, atol=1e-5)
        e = np.exp(z - z.max(-1, keepdims=True))
        assert np.allclose(a, e / e.sum(-1, keepdims=True), atol=1e-5)
    assert served.tokens == ids[0]  # the server's tokenizer is the one the client loads


@pytest.mark.parametrize("encoding", ["base64", "bytes", "bytes_only"])
async def test_client_binary_encodings_match_float(vllm: RealVllm, encoding: str) -> None:
    ids = [[101, 1000, 2000, 102], [101, 3000, 102]]
    async with (
        PoolingClient(vllm.url) as floats,
        PoolingClient(vllm.url, encoding_format=encoding, num_labels=11) as binary,
    ):
        a = await floats.pool(ids, model=vllm.model)
        b = await binary.pool(ids, model=vllm.model)
    for x, y in zip(a.rows, b.rows, strict=True):
        assert x.shape == y.shape and np.allclose(x, y, atol=1e-6)


async def test_client_error_kinds(vllm: RealVllm) -> None:
    async with PoolingClient(vllm.url) as client:
        with pytest.raises(UnknownModel, match="no-such-model"):
            await client.pool([[101, 102]], model="no-such-model")
        with pytest.raises(InputTooLong):
            await client.pool([[101] + [1000] * 600 + [102]], model=vllm.model)


def test_api_key_is_sent_but_vllm_does_not_guard_pooling(vllm: RealVllm) -> None:
    """N/A for vLLM as the suite starts it (no --api-key): and even with one, vLLM guards only
    /v1 paths, so a wrong key on /pooling is not an error there (ner-tui serve guards every
    endpoint; README: "Difference from vLLM"). The client sends the header either way."""
    response = httpx.post(
        f"{vllm.url}/pooling",
        json={"input": TEXT},
        headers={"Authorization": "Bearer wrong"},
        timeout=60,
    )
    assert response.status_code == 200
    run = predict("--url", vllm.url, "--api-key", "wrong", TEXT)
    assert run.returncode == 0, run.stderr
