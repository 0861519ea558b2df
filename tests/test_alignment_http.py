"""Alignment end to end over HTTP: ``score`` through PoolingClient against ``ner-tui serve``.

A real server process on loopback serves the tiny BERT fixture with a 32-token window, so a
few sentences already need several windows. The in-process engine is the reference.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from servers import serve_process

from ner_tui.core.aio import map_ordered
from ner_tui.core.alignment import check_tokenizer, encode, score
from ner_tui.core.backend import ModelCard
from ner_tui.core.client import PoolingClient
from ner_tui.core.connect import connect, discover_model
from ner_tui.core.decoding import decode
from ner_tui.core.engine import LocalEngine
from ner_tui.core.errors import InputTooLong, NerTuiError
from ner_tui.core.model_info import ModelInfo, load_model_info
from ner_tui.core.settings import Settings
from ner_tui.core.types import ScoredText


async def discover(client: PoolingClient, model: str | None = None) -> ModelCard:
    """The product's discovery step (``core.connect.discover_model``) against ``client``."""
    return await discover_model(client, Settings(model=model))


TINY = Path(__file__).parent / "fixtures" / "tiny-bert-ner"
WINDOW = 32
TEXT = (
    "Barack Obama visited Seattle on Tuesday with Angela Merkel. The United Nations met in "
    "New York, and Jean-Luc Picard flew to Zürich [SEP] with Marie Curie 👨‍👩‍👧 on 2024-03-15."
)


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    flags = ["--model", str(TINY), "--served-model-name", "tiny", "--max-model-len", str(WINDOW)]
    with serve_process(*flags, "--threads", "1") as server:
        yield server.url


@pytest.fixture(scope="module")
def info() -> ModelInfo:
    return load_model_info(TINY)


@pytest.fixture(scope="module")
def engine() -> Iterator[LocalEngine]:
    local = LocalEngine.load(TINY, threads=1)
    yield local
    local.close()


@pytest.fixture
async def client(server_url: str) -> AsyncIterator[PoolingClient]:
    async with PoolingClient(server_url) as http:
        yield http


def _reference(engine: LocalEngine, info: ModelInfo, scored: ScoredText) -> np.ndarray:
    """The rows the merge should have kept, computed by the in-process engine."""
    encoded = encode(info, scored.text, max_model_len=scored.max_model_len)
    rows = engine.score(encoded.window_ids)
    p = len(info.prefix_ids)
    out = np.empty_like(scored.probs)
    out[:p] = rows[0][:p]
    out[len(out) - len(info.suffix_ids) :] = rows[-1][len(rows[-1]) - len(info.suffix_ids) :]
    for w, r in zip(encoded.windows, rows, strict=True):
        mine = np.nonzero(scored.chunk_of[p + w.start : p + w.end] == w.index)[0]
        out[p + w.start + mine] = r[p + mine]
    return out


async def test_chunked_text_over_http_matches_the_engine(
    client: PoolingClient, info: ModelInfo, engine: LocalEngine
) -> None:
    card = await discover(client)
    assert (card.id, card.max_model_len) == ("tiny", WINDOW)
    scored = await score(client, info, TEXT, model=card.id, max_model_len=card.max_model_len)
    assert len(scored.chunks) > 2 and scored.max_model_len == WINDOW
    assert scored.model == "tiny" and scored.source == client.describe
    np.testing.assert_allclose(scored.probs, _reference(engine, info, scored), atol=1e-6)
    # Logits over the wire, softmaxed once here: the same probabilities.
    logits = await score(client, info, TEXT, max_model_len=WINDOW, use_activation=False)
    np.testing.assert_allclose(logits.probs, scored.probs, atol=1e-5)
    for entity in decode(scored).entities:
        assert entity.text == TEXT[entity.start : entity.end]


@pytest.mark.parametrize(("encoding", "dtype"), [("base64", "bfloat16"), ("bytes", "fp8_e4m3")])
async def test_low_precision_encodings_are_not_softmaxed_twice(
    server_url: str, info: ModelInfo, engine: LocalEngine, encoding: str, dtype: str
) -> None:
    async with PoolingClient(server_url, encoding_format=encoding, embed_dtype=dtype) as http:
        scored = await score(http, info, TEXT, max_model_len=WINDOW)
    reference = _reference(engine, info, scored)
    # Within the dtype's rounding of the probabilities; a second softmax would flatten every
    # row towards 1/9 and miss by far more.
    np.testing.assert_allclose(scored.probs, reference, atol=0.07)
    assert (scored.probs.argmax(axis=1) == reference.argmax(axis=1)).mean() > 0.9


async def test_window_larger_than_the_servers_is_refused_clearly(
    client: PoolingClient, info: ModelInfo
) -> None:
    with pytest.raises(InputTooLong) as error:
        await score(client, info, TEXT, max_model_len=128)
    assert "maximum context length" in str(error.value)


async def _score_in_order(
    client: PoolingClient, info: ModelInfo, texts: list[str], max_model_len: int
) -> list[ScoredText | NerTuiError]:
    """What ``predict`` does: score concurrently, in input order, failures in place."""

    async def one(text: str) -> ScoredText | NerTuiError:
        try:
            return await score(client, info, text, max_model_len=max_model_len)
        except NerTuiError as error:
            return error

    return [result async for result in map_ordered(one, texts, limit=4)]


async def test_scoring_many_over_http(client: PoolingClient, info: ModelInfo) -> None:
    texts = [f"{i}: Angela Merkel met Obama in Paris." for i in range(12)]
    texts[5] = TEXT  # too long for a 32-token window unless chunked
    results = await _score_in_order(client, info, texts, WINDOW)
    assert [r.text for r in results if isinstance(r, ScoredText)] == texts
    long_one = results[5]
    assert isinstance(long_one, ScoredText) and len(long_one.chunks) > 1
    unchunked = await _score_in_order(client, info, texts, 10_000)
    kinds = [type(r).__name__ for r in unchunked]
    assert kinds == ["ScoredText"] * 5 + ["InputTooLong"] + ["ScoredText"] * 6


async def test_check_tokenizer_against_the_server(
    client: PoolingClient, info: ModelInfo, engine: LocalEngine, tmp_path: Path
) -> None:
    """Same tokenizer: nothing to say. Another tokenizer sends ids that mean something else to
    the server's model with the same row count; /tokenize shows it."""
    from tokenizers_factory import FAMILIES, write_model_dir

    assert await check_tokenizer(client, info, model="tiny") is None
    other_dir = write_model_dir(FAMILIES[0], tmp_path / "other")
    other = load_model_info(other_dir)
    message = await check_tokenizer(client, other, model=None)
    assert message is not None and "tokenizes differently" in message
    # Connecting runs the check: the app and predict show it as a warning.
    settings = Settings(url=client.base_url)
    async with contextlib.AsyncExitStack() as stack:
        same = await connect(settings, "server")
        stack.push_async_callback(same.aclose)
        wrong = await connect(replace(settings, tokenizer=str(other_dir)), "server")
        stack.push_async_callback(wrong.aclose)
    assert not any("tokenizes differently" in w for w in same.warnings)
    assert any("tokenizes differently" in w for w in wrong.warnings)
    # A server without /tokenize cannot tell: nothing to say, nothing fails.
    async with PoolingClient(client.base_url + "/no-such-prefix") as nowhere:
        assert await check_tokenizer(nowhere, info, model="tiny") is None
