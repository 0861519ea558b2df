"""``ner-tui serve`` as a real process on a loopback port, checked against the pooling protocol.

The conformance checklist at the end of docs/pooling-protocol.md, every error case, the
API-key guard and dynamic batching, over HTTP with httpx. Two servers start once per module:
a plain one, and a strict one (API key, small limits, a long batching window)."""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import io
import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from servers import SERVE_COMMAND, SERVER_MODULE, serve_process

from ner_tui.core.backend import ModelCard
from ner_tui.core.client import PoolingClient
from ner_tui.core.codecs import decode_array
from ner_tui.core.connect import discover_model
from ner_tui.core.settings import Settings


async def discover(client: PoolingClient, model: str | None = None) -> ModelCard:
    """The product's discovery step (``core.connect.discover_model``) against ``client``."""
    return await discover_model(client, Settings(model=model))


TINY = Path(__file__).parent / "fixtures" / "tiny-bert-ner"
REF = np.load(TINY / "reference.npz")
TEXTS = [str(t) for t in REF["texts"]]
IDS = [REF[f"ids_{i}"].tolist() for i in range(len(TEXTS))]
NAME = str(TINY)
KEY = "s3cret-key"


def _start(*flags: str, command: Sequence[str] = SERVER_MODULE) -> Iterator[httpx.Client]:
    """A real server process over the tiny model, and an httpx client for it."""
    with (
        serve_process("--model", NAME, "--threads", "1", *flags, command=command) as proc,
        httpx.Client(base_url=proc.url, timeout=30) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def server() -> Iterator[httpx.Client]:
    yield from _start(command=SERVE_COMMAND)  # `ner-tui serve`


@pytest.fixture(scope="module")
def strict() -> Iterator[httpx.Client]:
    yield from _start(
        "--api-key",
        KEY,
        "--max-model-len",
        "16",
        "--max-body-bytes",
        "4096",
        "--max-request-tokens",
        "64",
        "--batch-window-ms",
        "150",
        "--served-model-name",
        "tiny",
    )


AUTH = {"Authorization": f"Bearer {KEY}"}


def _pool(client: httpx.Client, **body: object) -> httpx.Response:
    return client.post("/pooling", json=body)


def _error(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    err = response.json()["error"]
    assert err["code"] == status and set(err) == {"message", "type", "param", "code"}
    return err  # type: ignore[no-any-return]


# ------------------------------------------------------------------ conformance checklist


def test_1_one_row_per_token_including_specials(server: httpx.Client) -> None:
    doc = _pool(server, model=NAME, input=TEXTS[0], task="token_classify").json()
    rows = doc["data"][0]["data"]
    assert len(rows) == len(IDS[0]) and all(len(r) == 9 for r in rows)
    assert doc["usage"] == {
        "prompt_tokens": len(IDS[0]),
        "total_tokens": len(IDS[0]),
        "completion_tokens": 0,
        "prompt_tokens_details": None,
        "completion_tokens_details": None,
    }
    assert doc["object"] == "list" and doc["model"] == NAME and doc["id"].startswith("pooling-")
    assert doc["data"][0]["index"] == 0 and doc["data"][0]["object"] == "pooling"


def test_2_3_float_softmax_by_default_and_logits_on_request(server: httpx.Client) -> None:
    for i, text in enumerate(TEXTS):
        probs = np.array(_pool(server, input=text).json()["data"][0]["data"])
        np.testing.assert_allclose(probs, REF[f"probs_{i}"], atol=1e-4, rtol=0)
        logits = np.array(_pool(server, input=text, use_activation=False).json()["data"][0]["data"])
        np.testing.assert_allclose(logits, REF[f"logits_{i}"], atol=1e-4, rtol=0)
    # a one-token prompt is still 2-D
    one = _pool(server, input=[IDS[2][1]]).json()["data"][0]["data"]
    assert len(one) == 1 and len(one[0]) == 9


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "fp8_e4m3", "fp8_e5m2"])
@pytest.mark.parametrize("endianness", ["native", "big", "little"])
def test_4_binary_encodings(server: httpx.Client, dtype: str, endianness: str) -> None:
    body = {"input": TEXTS[:2], "embed_dtype": dtype, "endianness": endianness}
    tol = {"float32": 1e-6, "float16": 1e-3, "bfloat16": 4e-3}.get(dtype, 0.07)
    b64 = _pool(server, encoding_format="base64", **body).json()
    for i, item in enumerate(b64["data"]):
        arr = decode_array(base64.b64decode(item["data"]), dtype, endianness, (-1, 9))
        np.testing.assert_allclose(arr, REF[f"probs_{i}"], atol=tol, rtol=tol)
    raw = _pool(server, encoding_format="bytes", **body)
    assert raw.headers["content-type"] == "application/octet-stream"
    meta = json.loads(raw.headers["metadata"])
    assert meta["model"] == NAME and meta["usage"]["prompt_tokens"] == len(IDS[0]) + len(IDS[1])
    for i, item in enumerate(meta["data"]):
        assert item["index"] == i and item["shape"] == [len(IDS[i]), 9]
        assert item["embed_dtype"] == dtype and item["endianness"] == endianness
        arr = decode_array(
            raw.content[item["start"] : item["end"]], dtype, endianness, item["shape"]
        )
        np.testing.assert_allclose(arr, REF[f"probs_{i}"], atol=tol, rtol=tol)
    only = _pool(server, encoding_format="bytes_only", **body)
    assert "metadata" not in only.headers and only.content == raw.content


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("encoding_format", "json"),
        ("embed_dtype", "float64"),
        ("endianness", "middle"),
        ("truncation_side", "middle"),
        ("padding", "longest"),
        ("task", "generate"),  # "encode" and "score": test_server_seen_on_vllm.py
    ],
)
def test_5_literal_validation(server: httpx.Client, field: str, value: str) -> None:
    err = _error(_pool(server, input="x", **{field: value}), 400)
    assert "literal_error" in str(err["message"]) and field in str(err["message"])
    assert err["type"] == "Bad Request"


def test_6_unknown_model(server: httpx.Client) -> None:
    err = _error(_pool(server, input="x", model="other/model"), 404)
    assert err["message"] == "The model `other/model` does not exist."
    assert err["type"] == "NotFoundError"
    _error(server.post("/tokenize", json={"prompt": "x", "model": "nope"}), 404)


def test_7_too_long(server: httpx.Client) -> None:
    err = _error(_pool(server, input=[5] * 129), 400)
    assert "maximum context length" in str(err["message"]) and err["type"] == "BadRequestError"
    err = _error(_pool(server, input="Tokyo " * 200), 400)
    assert "maximum context length is 128 tokens" in str(err["message"])
    assert _pool(server, input=[5] * 128).status_code == 200


def test_8_unknown_fields_ignored(server: httpx.Client) -> None:
    r = _pool(
        server,
        input=TEXTS[0],
        frobnicate={"a": 1},
        stream=True,
        temperature=0.3,
        request_id="abc123",
        priority=1,
        user="me",
        cache_salt="salt",
        padding="do_not_pad",
    )
    assert r.status_code == 200
    assert r.json()["id"] == "pooling-abc123"


def test_9_endpoints_present(server: httpx.Client) -> None:
    tok = server.post("/tokenize", json={"prompt": TEXTS[0], "return_token_strs": True}).json()
    assert tok["tokens"] == IDS[0] and tok["count"] == len(IDS[0])
    assert tok["max_model_len"] == 128 and tok["token_strs"][0] == "[CLS]"
    bare = server.post("/tokenize", json={"prompt": TEXTS[0], "add_special_tokens": False}).json()
    assert bare["tokens"] == IDS[0][1:-1] and bare["token_strs"] is None
    detok = server.post("/detokenize", json={"tokens": IDS[0][1:-1]}).json()
    assert detok["prompt"].replace(" ", "") == TEXTS[0].replace(" ", "")
    models = server.get("/v1/models").json()
    assert models["object"] == "list"
    (card,) = models["data"]
    assert card["id"] == NAME and card["root"] == NAME and card["max_model_len"] == 128
    assert card["object"] == "model" and card["owned_by"] == "vllm"
    health = server.get("/health")
    assert health.status_code == 200 and health.content == b""
    assert isinstance(server.get("/version").json()["version"], str)
    assert server.get("/ping").status_code == 200 and server.post("/ping").status_code == 200
    assert server.get("/load").json() == {"server_load": 0}
    inv = server.post("/invocations", json={"input": TEXTS[0]}).json()
    np.testing.assert_allclose(inv["data"][0]["data"], REF["probs_0"], atol=1e-4, rtol=0)
    metrics = server.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics.text)
        for s in family.samples
    }
    assert samples[("ner_tui_requests_total", (("path", "/pooling"), ("status", "200")))] >= 1
    labels = (("engine", "0"), ("model_name", NAME))
    assert samples[("vllm:prompt_tokens_total", labels)] > 0


def test_10_batches_in_order_with_usage_summed(server: httpx.Client) -> None:
    by_text = _pool(server, input=TEXTS).json()
    by_ids = _pool(server, input=IDS, use_activation=False).json()
    total = sum(len(x) for x in IDS)
    assert by_text["usage"]["prompt_tokens"] == by_ids["usage"]["prompt_tokens"] == total
    assert [d["index"] for d in by_text["data"]] == list(range(len(TEXTS)))
    for i in range(len(TEXTS)):
        np.testing.assert_allclose(by_text["data"][i]["data"], REF[f"probs_{i}"], atol=1e-4)
        np.testing.assert_allclose(by_ids["data"][i]["data"], REF[f"logits_{i}"], atol=1e-4)
    # a flat id list is ONE prompt, used as given: no special tokens added
    flat = _pool(server, input=IDS[0][1:-1]).json()
    assert len(flat["data"]) == 1 and len(flat["data"][0]["data"]) == len(IDS[0]) - 2


# ------------------------------------------------------------------ more of the protocol


def test_add_special_tokens_false_and_truncation(server: httpx.Client) -> None:
    bare = _pool(server, input=TEXTS[0], add_special_tokens=False).json()
    assert len(bare["data"][0]["data"]) == len(IDS[0]) - 2
    cut = _pool(server, input=TEXTS[3], truncate_prompt_tokens=5).json()
    assert cut["usage"]["prompt_tokens"] == 5
    left = _pool(server, input=IDS[3], truncate_prompt_tokens=4, truncation_side="left").json()
    assert left["usage"]["prompt_tokens"] == 4
    long_text = "Tokyo " * 200
    whole = _pool(server, input=long_text, truncate_prompt_tokens=-1).json()
    assert whole["usage"]["prompt_tokens"] == 128
    err = _error(_pool(server, input="x", truncate_prompt_tokens=129), 400)
    assert "greater than max_model_len" in str(err["message"])


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"input": []}, "You must pass at least one prompt"),
        ({"input": "x", "dimensions": 4}, "dimensions is currently not supported"),
        ({"input": "x", "task": "embed"}, "Unsupported task"),
        ({"input": "x", "normalize": True}, "normalize"),
        ({"input": "x", "cache_salt": "a/b"}, "cache_salt"),
        ({"input": "x", "cache_salt": "s" * 129}, "cache_salt"),
        ({}, "input"),
        ({"input": 5}, "input"),
        ({"input": [1, "a"]}, "input"),
        ({"input": [[1, 2], "a"]}, "input"),
        ({"input": [1.5]}, "input"),
        ({"input": [[]]}, "no tokens"),
        ({"input": [2, 10**9, 3]}, "out of vocabulary"),
        ({"input": [2, -4, 3]}, "out of vocabulary"),
        ({"input": "x", "use_activation": "maybe"}, "use_activation"),
        ({"input": "x", "add_special_tokens": 3}, "add_special_tokens"),
        ({"input": "x", "model": 7}, "model"),
        ({"input": "x", "truncate_prompt_tokens": -2}, "truncate_prompt_tokens"),
        ({"input": "x", "priority": "high"}, "priority"),
        ({"input": "", "add_special_tokens": False}, "no tokens"),
    ],
)
def test_bad_requests_are_400(server: httpx.Client, body: dict[str, object], needle: str) -> None:
    err = _error(server.post("/pooling", json=body), 400)
    assert needle in str(err["message"])


def test_truncating_to_zero_tokens_empties_the_prompt(server: httpx.Client) -> None:
    """vLLM 0.32 keeps no token at all, special ones included, and refuses the empty prompt;
    ner-tui answered 200 with the two special-token rows."""
    err = _error(_pool(server, input=TEXTS[0], truncate_prompt_tokens=0), 400)
    assert err == {
        "message": "The decoder prompt cannot be empty",
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }
    err = _error(_pool(server, input=IDS[0], truncate_prompt_tokens=0), 400)
    assert err["message"] == "The decoder prompt cannot be empty"


def test_empty_input_and_dimensions_are_refused_after_the_schema(server: httpx.Client) -> None:
    """Both fit vLLM's request schema, so its serving code refuses them: "BadRequestError",
    not the "Bad Request" of a schema error; ``dimensions`` is named in ``param``."""
    err = _error(_pool(server, input=[]), 400)
    assert err == {
        "message": "You must pass at least one prompt",
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }
    err = _error(_pool(server, input="x", dimensions=3), 400)
    assert err == {
        "message": "dimensions is currently not supported (parameter=dimensions)",
        "type": "BadRequestError",
        "param": "dimensions",
        "code": 400,
    }
    err = _error(_pool(server, input="x", dimensions="three"), 400)  # not the schema's int
    assert (err["type"], err["param"]) == ("Bad Request", "body.dimensions")
    assert "'type': 'int_parsing'" in str(err["message"])


def test_detokenize_refuses_negative_ids_in_validation(server: httpx.Client) -> None:
    """A negative id breaks vLLM's schema (pydantic's greater_than_equal, "Bad Request", the
    place in ``param``); an id past the vocabulary passes it and is refused after."""
    err = _error(server.post("/detokenize", json={"tokens": [-5]}), 400)
    assert err["type"] == "Bad Request" and err["param"] == "body.tokens.0"
    assert "Input should be greater than or equal to 0" in str(err["message"])
    assert "'type': 'greater_than_equal'" in str(err["message"])
    err = _error(server.post("/detokenize", json={"tokens": [5, 10**9]}), 400)
    assert err == {
        "message": f"Token id {10**9} is out of vocabulary.",
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }


def test_chat_style_messages_without_a_chat_template(server: httpx.Client) -> None:
    """vLLM's example client also sends chat-style ``messages``: a BERT tokenizer has no
    chat template, so that is a clear 400, as on vLLM."""
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]}
    err = _error(server.post("/pooling", json=body), 400)
    assert "no chat template" in str(err["message"])
    _error(server.post("/pooling", json={"messages": "Hi"}), 400)


def test_malformed_bodies_are_4xx(server: httpx.Client) -> None:
    headers = {"content-type": "application/json"}
    _error(server.post("/pooling", content=b"{not json", headers=headers), 400)
    _error(server.post("/pooling", content=b"", headers=headers), 400)
    _error(server.post("/pooling", content=b"\xff\xfe", headers=headers), 400)
    _error(server.post("/pooling", content=b"[1, 2]", headers=headers), 400)
    _error(server.post("/pooling", content=b"[" * 100_000, headers=headers), 400)
    err = _error(server.post("/pooling", content=b'{"input": "x"}'), 400)  # no content type
    assert "application/json" in str(err["message"])
    err = _error(server.post("/pooling", data={"input": "x"}), 400)  # a form
    _error(server.post("/tokenize", json={"prompt": 3}), 400)
    _error(server.post("/tokenize", json={}), 400)
    # JSON can carry lone surrogates, which are no text to tokenize
    lone = b'{"input": ["Hi", "a\\ud800b"]}'
    err = _error(server.post("/pooling", content=lone, headers=headers), 400)
    assert "'type': 'string_unicode', 'loc': 'body.input.1'" in str(err["message"])
    _error(server.post("/tokenize", content=b'{"prompt": "\\udfff"}', headers=headers), 400)
    _error(server.post("/detokenize", json={"tokens": ["a"]}), 400)
    _error(server.post("/detokenize", json={"tokens": [10**9]}), 400)
    missing = server.get("/no/such/route")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
    assert server.get("/pooling").status_code == 405
    assert server.get("/health").status_code == 200  # still alive after all of that


def test_huge_input_gets_an_answer(server: httpx.Client) -> None:
    """A 400 kB text is tokenized off the event loop and refused as too long, not a crash."""
    err = _error(_pool(server, input="word " * 80_000), 400)
    assert "maximum context length" in str(err["message"])
    assert server.get("/health").status_code == 200


# ------------------------------------------------------------------ strict server


def test_api_key_guards_everything_but_health(strict: httpx.Client) -> None:
    assert strict.get("/health").status_code == 200
    for method, path in [
        ("POST", "/pooling"),
        ("POST", "/tokenize"),
        ("POST", "/detokenize"),
        ("GET", "/v1/models"),
        ("GET", "/version"),
        ("GET", "/metrics"),
        ("GET", "/ping"),
        ("GET", "/load"),
        ("POST", "/invocations"),
    ]:
        r = strict.request(method, path, json={"input": "x", "prompt": "x", "tokens": [1]})
        err = _error(r, 401)
        assert "API key" in str(err["message"])
    wrong = {"Authorization": "Bearer nope"}
    _error(strict.post("/pooling", json={"input": "x"}, headers=wrong), 401)
    _error(strict.post("/pooling", json={"input": "x"}, headers={"Authorization": KEY}), 401)
    ok = strict.post("/pooling", json={"input": "Hi", "model": "tiny"}, headers=AUTH)
    assert ok.status_code == 200 and ok.json()["model"] == "tiny"
    assert strict.get("/v1/models", headers=AUTH).json()["data"][0]["id"] == "tiny"


def test_max_model_len_and_body_limit(strict: httpx.Client) -> None:
    err = _error(strict.post("/pooling", json={"input": TEXTS[3]}, headers=AUTH), 400)
    assert "maximum context length is 16 tokens" in str(err["message"])
    tok = strict.post("/tokenize", json={"prompt": "x"}, headers=AUTH).json()
    assert tok["max_model_len"] == 16
    big = strict.post("/pooling", json={"input": "x" * 5000}, headers=AUTH)
    err = _error(big, 413)
    assert "4096 bytes" in str(err["message"])
    # a chunked upload without Content-Length is cut off too
    chunks = (b'{"input": "' + b"x" * 1000 for _ in range(8))
    chunked = strict.post(
        "/pooling", content=chunks, headers={**AUTH, "content-type": "application/json"}
    )
    _error(chunked, 413)
    assert strict.get("/health").status_code == 200


def test_request_token_limit(strict: httpx.Client) -> None:
    """One request may not carry more tokens than --max-request-tokens: far above it, encoding
    the answer would stall every other client. Counted before tokenizing (one token per prompt
    at least) and after."""
    many = strict.post("/pooling", json={"input": [[5]] * 70}, headers=AUTH)
    err = _error(many, 400)
    assert "at least 70 tokens in 70 prompt(s)" in str(err["message"])
    assert "--max-request-tokens" in str(err["message"])
    texts = ["Barack Obama met Angela Merkel in Berlin."] * 8  # each within the 16-token window
    err = _error(strict.post("/pooling", json={"input": texts}, headers=AUTH), 400)
    assert "in 8 prompt(s); this server accepts at most 64 tokens" in str(err["message"])
    ok = strict.post("/pooling", json={"input": texts[:2]}, headers=AUTH)
    assert ok.status_code == 200 and len(ok.json()["data"]) == 2
    assert strict.get("/health").status_code == 200


def _metric(client: httpx.Client, name: str) -> int:
    for line in client.get("/metrics", headers=AUTH).text.splitlines():
        if line.startswith(f"ner_tui_{name}{{"):
            return int(float(line.rsplit(" ", 1)[1]))
    raise AssertionError(f"no metric {name}")


def test_dynamic_batching_shares_forward_passes_without_changing_scores(
    strict: httpx.Client,
) -> None:
    """Concurrent requests inside one batching window run as one forward pass, and each
    text's scores equal its scores alone (within 1e-2; here far tighter)."""
    texts = [TEXTS[0], TEXTS[2], "Hi Paris", TEXTS[1], "Nokia", "Apple in Berlin"]
    texts = [
        t
        for t in texts
        if len(strict.post("/tokenize", json={"prompt": t}, headers=AUTH).json()["tokens"]) <= 16
    ]
    alone = [
        np.array(strict.post("/pooling", json={"input": t}, headers=AUTH).json()["data"][0]["data"])
        for t in texts
    ]
    batches_before = _metric(strict, "forward_batches_total")
    requests_before = _metric(strict, "batched_requests_total")

    async def burst() -> list[httpx.Response]:
        base = str(strict.base_url)
        async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=30) as client:
            return await asyncio.gather(
                *(client.post("/pooling", json={"input": t}) for t in texts)
            )

    responses = asyncio.run(burst())
    for response, expected in zip(responses, alone, strict=True):
        got = np.array(response.json()["data"][0]["data"])
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    assert _metric(strict, "batched_requests_total") - requests_before == len(texts)
    assert _metric(strict, "forward_batches_total") - batches_before < len(texts)


def test_batched_requests_keep_their_own_options(strict: httpx.Client) -> None:
    """Requests sharing a pass keep their own use_activation, encoding and failures."""
    bodies: list[dict[str, object]] = [
        {"input": "Hi Paris"},
        {"input": "Hi Paris", "use_activation": False},
        {"input": IDS[2], "encoding_format": "base64"},
        {"input": [[2, 10**6, 3]]},  # out of vocabulary: fails alone
        {"input": ["Nokia", "Hi"]},
    ]

    async def burst() -> list[httpx.Response]:
        base = str(strict.base_url)
        async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=30) as client:
            return await asyncio.gather(*(client.post("/pooling", json=b) for b in bodies))

    probs, logits, b64, bad, pair = asyncio.run(burst())
    p = np.array(probs.json()["data"][0]["data"])
    lg = np.array(logits.json()["data"][0]["data"])
    e = np.exp(lg - lg.max(-1, keepdims=True))
    np.testing.assert_allclose(p, e / e.sum(-1, keepdims=True), atol=1e-5)
    raw = base64.b64decode(b64.json()["data"][0]["data"])
    np.testing.assert_allclose(decode_array(raw, shape=(-1, 9)), REF["probs_2"], atol=1e-4)
    assert "out of vocabulary" in str(_error(bad, 400)["message"])
    assert [len(d["data"]) for d in pair.json()["data"]] == [3, 3]


# ------------------------------------------------------------------ ner-tui's own client


@pytest.mark.parametrize("encoding", ["float", "base64", "bytes", "bytes_only"])
async def test_core_client_gets_the_engine_rows(server: httpx.Client, encoding: str) -> None:
    """PoolingClient against the server equals LocalEngine in-process, in every encoding."""
    from ner_tui.core.client import PoolingClient
    from ner_tui.core.engine import LocalEngine

    engine = LocalEngine.load(TINY)
    async with PoolingClient(
        str(server.base_url), encoding_format=encoding, num_labels=9
    ) as client:
        card = await discover(client)
        assert (card.id, card.root, card.max_model_len) == (NAME, NAME, 128)
        assert (await client.tokenize(TEXTS[1])).tokens == IDS[1]
        remote = await client.pool(TEXTS, model=card.id)  # one request per text
        batch = await client.pool(IDS, use_activation=False)
    local = await engine.pool(TEXTS)
    local_logits = await engine.pool(IDS, use_activation=False)
    await engine.aclose()
    if encoding != "bytes_only":  # bytes_only carries no usage
        assert remote.prompt_tokens == local.prompt_tokens == batch.prompt_tokens
    for a, b in zip(remote.rows, local.rows, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)
    for a, b in zip(batch.rows, local_logits.rows, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)


async def test_core_client_errors(server: httpx.Client, strict: httpx.Client) -> None:
    from ner_tui.core.client import PoolingClient
    from ner_tui.core.errors import AuthenticationFailed, InputTooLong, UnknownModel

    async with PoolingClient(str(server.base_url)) as client:
        with pytest.raises(UnknownModel):
            await client.pool(["x"], model="not-served")
        with pytest.raises(InputTooLong):
            await client.pool([[5] * 200])
    assert strict.get("/health").status_code == 200  # open without the key
    async with PoolingClient(str(strict.base_url)) as client:
        with pytest.raises(AuthenticationFailed):
            await client.pool(["x"])
    async with PoolingClient(str(strict.base_url), api_key=KEY) as client:
        result = await client.pool(["Hi", "Hi Paris"], model="tiny")
        assert [r.shape[0] for r in result.rows] == [3, 4]


def test_serve_without_a_model_says_why() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ner_tui.cli", "serve", "--model", "/no/such/model-dir"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 18
    assert "No such model directory: /no/such/model-dir" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_serve_with_a_bad_port_says_why() -> None:
    proc = subprocess.run(
        [*SERVER_MODULE, "--model", NAME, "--port", "99999"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "'99999' is not a port number (0-65535)" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--threads", "-1", "'-1' is not a whole number of at least 1"),
        ("--threads", "0", "'0' is not a whole number of at least 1"),
        ("--max-body-bytes", "-5", "'-5' is not a whole number of at least 1"),
        ("--max-request-tokens", "lots", "'lots' is not a whole number of at least 1"),
        ("--max-num-seqs", "0", "'0' is not a whole number of at least 1"),
        ("--max-num-batched-tokens", "0", "'0' is not a whole number of at least 1"),
        ("--header-read-timeout", "0", "'0' is not a number of seconds (more than 0)"),
        ("--body-read-timeout", "inf", "'inf' is not a number of seconds (more than 0)"),
        ("--max-model-len", "1.5", "'1.5' is not a whole number of at least 1"),
        ("--batch-window-ms", "-1", "'-1' is not a number of milliseconds (0 or more)"),
        ("--batch-window-ms", "nan", "'nan' is not a number of milliseconds (0 or more)"),
    ],
)
def test_serve_refuses_a_nonsense_number_before_loading_anything(
    flag: str, value: str, message: str
) -> None:
    """A negative thread count or body limit used to be accepted and fail later (or never)."""
    from ner_tui.server.cli import add_serve_arguments

    parser = argparse.ArgumentParser(prog="ner-tui serve")
    add_serve_arguments(parser)
    stderr = io.StringIO()
    with pytest.raises(SystemExit) as exit_info, contextlib.redirect_stderr(stderr):
        parser.parse_args(["--model", NAME, flag, value])
    assert exit_info.value.code == 2
    assert message in stderr.getvalue()


def test_serve_flags_and_server_share_their_defaults() -> None:
    from ner_tui.server import app, defaults
    from ner_tui.server.cli import add_serve_arguments

    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    args = parser.parse_args([])
    assert args.max_body_bytes == defaults.DEFAULT_MAX_BODY_BYTES == app.DEFAULT_MAX_BODY_BYTES
    assert args.max_request_tokens == defaults.DEFAULT_MAX_REQUEST_TOKENS
    assert args.batch_window_ms == 0.0
    assert args.max_num_batched_tokens == defaults.DEFAULT_MAX_NUM_BATCHED_TOKENS
    assert args.max_num_seqs is None  # --max-batch's value, else DEFAULT_MAX_NUM_SEQS
    assert args.header_read_timeout == defaults.DEFAULT_HEADER_READ_TIMEOUT
    assert args.body_read_timeout == defaults.DEFAULT_BODY_READ_TIMEOUT


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--threads", "1"], "passes of at most 512 tokens / 64 prompts"),
        (
            ["--max-num-batched-tokens", "512", "--batch-window-ms", "5"],
            "passes of at most 512 tokens / 64 prompts, waiting up to 5 ms for company",
        ),
        (["--max-num-seqs", "1"], "batching off, passes of one prompt"),
        (["--max-batch", "8"], "--max-batch is deprecated: use --max-num-seqs"),
        (["--max-batch", "8"], "passes of at most 512 tokens / 8 prompts"),
        (["--batch-wait", "always"], "--batch-wait is ignored"),
    ],
)
def test_the_startup_line_says_how_passes_are_planned(flags: list[str], said: str) -> None:
    """The startup line says what the scheduler does; the old batcher's flags still start
    the server, saying what became of them."""
    with serve_process("--model", NAME, *flags) as server:
        pass
    output = server.process.stdout.read() if server.process.stdout else ""
    assert said in output, output
