"""PoolingClient against a real HTTP server on loopback.

The server is a small Starlette app run by uvicorn in a thread. By default it behaves like
``vllm serve`` of a 5-label token classifier (whitespace tokenizer, [CLS]=101 ... [SEP]=102,
max_model_len 32, one served model "tiny-ner"); each test can replace a route's handler to
answer however it needs (other encodings, error envelopes, garbage, slowness).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ner_tui.core import protocol as p
from ner_tui.core.backend import ModelCard, PoolingBackend
from ner_tui.core.client import PoolingClient
from ner_tui.core.connect import discover_model
from ner_tui.core.errors import (
    AuthenticationFailed,
    InputTooLong,
    MalformedResponse,
    RequestTimeout,
    RowMismatch,
    ServerError,
    ServerUnreachable,
    UnknownModel,
)
from ner_tui.core.settings import Settings
from ner_tui.server import protocol as sp


async def discover(client: PoolingClient, model: str | None = None) -> ModelCard:
    """The product's discovery step (``core.connect.discover_model``) against ``client``."""
    return await discover_model(client, Settings(model=model))


NUM_LABELS = 5
MAX_LEN = 32
MODEL = "tiny-ner"

Handler = Callable[[Request], Awaitable[Response]]


def word_id(word: str) -> int:
    return 1000 + sum(map(ord, word)) % 1000


def tokenize(text: str, special: bool = True) -> list[int]:
    ids = [word_id(w) for w in text.split()]
    return [101, *ids, 102] if special else ids


def scores_for(ids: list[int]) -> np.ndarray:
    """Softmax rows whose argmax is ``id % NUM_LABELS``: the client can check which row is which."""
    logits = np.zeros((len(ids), NUM_LABELS), dtype=np.float32)
    logits[np.arange(len(ids)), np.array(ids) % NUM_LABELS] = 4.0
    e = np.exp(logits)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def vllm_error(message: str, err_type: str, status: int) -> JSONResponse:
    return JSONResponse(sp.error_json(message, err_type, status), status_code=status)


@dataclass
class FakeVllm:
    """State of the loopback server; tests set ``handlers[path]`` to change a route."""

    handlers: dict[str, Handler] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    # /pooling requests wait (<= 2 s) until this many have been in flight at once.
    hold_until_in_flight: int = 0
    delay_s: Callable[[p.PoolingRequest], float] | None = None

    def reset(self) -> None:
        self.handlers.clear()
        self.requests.clear()
        self.in_flight = self.max_in_flight = self.hold_until_in_flight = 0
        self.delay_s = None

    @property
    def pooling_bodies(self) -> list[dict[str, Any]]:
        return [body for path, body, _ in self.requests if path == "/pooling"]

    async def dispatch(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        self.requests.append((request.url.path, body, dict(request.headers)))
        handler = self.handlers.get(request.url.path)
        if handler is not None:
            return await handler(request)
        default = {
            "/pooling": self.pooling,
            "/tokenize": self.tokenize,
            "/v1/models": self.models,
        }[request.url.path]
        return await default(body)

    async def pooling(self, body: Any) -> Response:
        try:
            req = sp.validate_pooling_request(body)
        except sp.InvalidRequest as exc:
            return vllm_error(str(exc), "Bad Request", 400)
        if req.model is not None and req.model != MODEL:
            return vllm_error(f"The model `{req.model}` does not exist.", "NotFoundError", 404)
        prompts = [
            tokenize(x, req.add_special_tokens) if isinstance(x, str) else x
            for x in sp.request_prompts(req)
        ]
        for ids in prompts:
            if len(ids) > MAX_LEN:
                return vllm_error(
                    f"This model's maximum context length is {MAX_LEN} tokens. However, you "
                    f"requested {len(ids)} tokens in the input for pooling.",
                    "BadRequestError",
                    400,
                )
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            deadline = time.monotonic() + 2.0
            while self.max_in_flight < self.hold_until_in_flight and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            if self.delay_s is not None:
                await asyncio.sleep(self.delay_s(req))
        finally:
            self.in_flight -= 1
        tokens = sum(len(ids) for ids in prompts)
        resp = p.PoolingResponse(
            data=[scores_for(ids) for ids in prompts],
            model=MODEL,
            id=f"pooling-{len(self.requests):x}",
            created=1764201600,
            usage=p.Usage(prompt_tokens=tokens, total_tokens=tokens),
        )
        if req.encoding_format in ("float", "base64"):
            body = sp.pooling_response_json(
                resp, req.encoding_format, req.embed_dtype, req.endianness
            )
            return JSONResponse(body)
        content, metadata = sp.pooling_response_bytes(resp, req.embed_dtype, req.endianness)
        headers = {"metadata": metadata} if req.encoding_format == "bytes" else {}
        return Response(content, media_type="application/octet-stream", headers=headers)

    async def tokenize(self, body: Any) -> Response:
        req = sp.validate_tokenize_request(body)
        ids = tokenize(req.prompt, req.add_special_tokens)
        strs = req.prompt.split() if req.return_token_strs else None
        if strs is not None and req.add_special_tokens:
            strs = ["[CLS]", *strs, "[SEP]"]
        answer = p.TokenizeResponse(ids, len(ids), MAX_LEN, strs)
        return JSONResponse(sp.tokenize_response_json(answer))

    async def models(self, body: Any) -> Response:
        card = ModelCard(MODEL, root="/models/tiny-ner", max_model_len=MAX_LEN)
        return JSONResponse(sp.model_list_json([card], created=1764201600))


def make_app(state: FakeVllm) -> Starlette:
    async def endpoint(request: Request) -> Response:
        return await state.dispatch(request)

    routes = [
        Route(path, endpoint, methods=["GET", "POST"])
        for path in ("/pooling", "/tokenize", "/v1/models")
    ]
    return Starlette(routes=routes)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeVllm, str]]:
    state = FakeVllm()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        make_app(state), log_level="warning", lifespan="off", timeout_graceful_shutdown=1
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:  # uvicorn sets this once it is listening
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the loopback server did not start")
        time.sleep(0.01)
    yield state, f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=5)
    sock.close()


@pytest.fixture
def fake(server: tuple[FakeVllm, str]) -> FakeVllm:
    server[0].reset()
    return server[0]


@pytest.fixture
def url(server: tuple[FakeVllm, str]) -> str:
    return server[1]


def answer(status: int, body: bytes | str | dict[str, Any], **headers: str) -> Handler:
    async def handler(request: Request) -> Response:
        if isinstance(body, dict):
            return JSONResponse(body, status_code=status, headers=headers)
        media = headers.pop("content_type", "text/plain")
        return Response(body, status_code=status, media_type=media, headers=headers)

    return handler


# --- the happy path -------------------------------------------------------------------------


async def test_client_is_a_pooling_backend(url: str) -> None:
    async with PoolingClient(url) as client:
        assert isinstance(client, PoolingBackend)
        assert client.describe == url


async def test_one_text_is_sent_as_a_string_with_task_token_classify(
    fake: FakeVllm, url: str
) -> None:
    async with PoolingClient(url) as client:
        result = await client.pool(["Ada Lovelace wrote"])
    assert fake.pooling_bodies == [{"input": "Ada Lovelace wrote", "task": "token_classify"}]
    ids = tokenize("Ada Lovelace wrote")
    (rows,) = result.rows
    assert rows.dtype == np.float32 and rows.shape == (len(ids), NUM_LABELS)
    np.testing.assert_array_equal(rows.argmax(1), np.array(ids) % NUM_LABELS)
    assert result.model == MODEL
    assert result.prompt_tokens == len(ids)
    assert result.request_id.startswith("pooling-")
    assert result.elapsed_ms > 0


async def test_one_id_list_is_sent_flat_with_model_and_use_activation(
    fake: FakeVllm, url: str
) -> None:
    ids = [101, 1234, 1777, 102]
    async with PoolingClient(url) as client:
        result = await client.pool([ids], model=MODEL, use_activation=False)
    assert fake.pooling_bodies == [
        {"input": ids, "model": MODEL, "task": "token_classify", "use_activation": False}
    ]
    np.testing.assert_array_equal(result.rows[0].argmax(1), np.array(ids) % NUM_LABELS)


async def test_several_prompts_go_as_concurrent_requests_and_come_back_in_order(
    fake: FakeVllm, url: str
) -> None:
    prompts = [[101, *range(1000, 1000 + n), 102] for n in range(8)]
    # All 8 are held until they are in flight together, then later prompts answer sooner,
    # so answers arrive in the reverse of input order.
    fake.hold_until_in_flight = 8
    fake.delay_s = lambda req: 0.004 * (12 - len(sp.request_prompts(req)[0]))
    async with PoolingClient(url) as client:
        result = await client.pool(prompts)
    assert [r.shape[0] for r in result.rows] == [len(x) for x in prompts]
    for rows, ids in zip(result.rows, prompts, strict=True):
        np.testing.assert_array_equal(rows.argmax(1), np.array(ids) % NUM_LABELS)
    assert sorted(tuple(b["input"]) for b in fake.pooling_bodies) == sorted(map(tuple, prompts))
    assert result.prompt_tokens == sum(map(len, prompts))
    assert len(result.extra["request_ids"]) == 8  # type: ignore[arg-type]
    assert fake.max_in_flight == 8


async def test_concurrency_is_bounded(fake: FakeVllm, url: str) -> None:
    # The first requests are held until 3 are in flight at once, then every request takes
    # 20 ms: a client that let more than 3 go would show more.
    fake.hold_until_in_flight = 3
    fake.delay_s = lambda req: 0.02
    async with PoolingClient(url, max_concurrency=3) as client:
        result = await client.pool([f"text number {i}" for i in range(12)])
    assert len(result.rows) == 12
    assert fake.max_in_flight == 3
    assert len(fake.pooling_bodies) == 12


@pytest.mark.parametrize("fmt", ["base64", "bytes", "bytes_only"])
@pytest.mark.parametrize(
    ("dtype", "endianness"),
    [
        ("float32", "native"),
        ("float16", "big"),
        ("bfloat16", "little"),
        ("fp8_e4m3", "native"),
        ("fp8_e5m2", "big"),
    ],
)
async def test_binary_encodings_decode_to_the_same_rows(
    fake: FakeVllm, url: str, fmt: str, dtype: str, endianness: str
) -> None:
    ids = [[101, 1001, 1002, 1003, 102], [101, 1004, 102]]
    async with PoolingClient(
        url, encoding_format=fmt, embed_dtype=dtype, endianness=endianness
    ) as client:
        result = await client.pool(ids)
    body = fake.pooling_bodies[0]
    assert (body["encoding_format"], body.get("embed_dtype", "float32")) == (fmt, dtype)
    assert result.prompt_tokens == 8  # from usage, or counted from the rows for bytes_only
    for rows, prompt in zip(result.rows, ids, strict=True):
        assert rows.dtype == np.float32 and rows.shape == (len(prompt), NUM_LABELS)
        np.testing.assert_allclose(rows, scores_for(prompt), atol=0.07)
        np.testing.assert_array_equal(rows.argmax(1), np.array(prompt) % NUM_LABELS)


async def test_base64_text_prompts_are_shaped_from_usage(fake: FakeVllm, url: str) -> None:
    async with PoolingClient(url, encoding_format="base64", embed_dtype="bfloat16") as client:
        result = await client.pool(["one two", "three"])
    assert [r.shape for r in result.rows] == [(4, NUM_LABELS), (3, NUM_LABELS)]


async def test_bytes_only_text_prompt_needs_num_labels(fake: FakeVllm, url: str) -> None:
    async with PoolingClient(url, encoding_format="bytes_only", num_labels=NUM_LABELS) as client:
        result = await client.pool(["one two"])
    assert result.rows[0].shape == (4, NUM_LABELS)
    async with PoolingClient(url, encoding_format="bytes_only") as client:
        with pytest.raises(MalformedResponse, match="cannot be recovered") as info:
            await client.pool(["one two"])
    assert f"{url}/pooling" in str(info.value)


async def test_tokenize_and_list_models(fake: FakeVllm, url: str) -> None:
    async with PoolingClient(url) as client:
        tok = await client.tokenize("Ada wrote", return_token_strs=True)
        assert tok.tokens == tokenize("Ada wrote") and tok.count == 4
        assert tok.max_model_len == MAX_LEN and tok.token_strs == ["[CLS]", "Ada", "wrote", "[SEP]"]
        bare = await client.tokenize("Ada", add_special_tokens=False, model=MODEL)
        assert bare.tokens == tokenize("Ada", special=False)
        assert await client.list_models() == [
            ModelCard(MODEL, root="/models/tiny-ner", max_model_len=MAX_LEN)
        ]
    tokenize_bodies = [b for path, b, _ in fake.requests if path == "/tokenize"]
    assert tokenize_bodies[1] == {"prompt": "Ada", "model": MODEL, "add_special_tokens": False}


async def test_discover(fake: FakeVllm, url: str) -> None:
    async with PoolingClient(url) as client:
        card = await discover(client)
        assert (card.id, card.max_model_len) == (MODEL, MAX_LEN)
        assert await discover(client, MODEL) == card
        assert await discover(client, "/models/tiny-ner") == card  # the path it was served from
        with pytest.raises(UnknownModel, match=f"does not serve `other`; it serves: {MODEL}"):
            await discover(client, "other")
        fake.handlers["/v1/models"] = answer(200, {"object": "list", "data": []})
        with pytest.raises(MalformedResponse, match="lists no models"):
            await discover(client)


async def test_several_served_models_discover_none_takes_the_first(
    fake: FakeVllm, url: str
) -> None:
    cards = [ModelCard("first", max_model_len=8), ModelCard("second")]
    fake.handlers["/v1/models"] = answer(200, sp.model_list_json(cards))
    async with PoolingClient(url) as client:
        assert (await discover(client)).id == "first"
        assert (await discover(client, "second")).id == "second"


async def test_api_key_is_sent_as_bearer(fake: FakeVllm, url: str) -> None:
    async with PoolingClient(url, api_key="s3cret") as client:
        await client.list_models()
        await client.pool(["x"])
    assert all(h["authorization"] == "Bearer s3cret" for _, _, h in fake.requests)
    fake.requests.clear()
    async with PoolingClient(url) as client:
        await client.list_models()
    assert "authorization" not in fake.requests[0][2]


async def test_url_forms(url: str) -> None:
    port = int(url.rsplit(":", 1)[1])
    async with PoolingClient(f"127.0.0.1:{port}/v1/") as client:  # no scheme, OpenAI-style /v1
        assert client.describe == url
        assert (await discover(client)).id == MODEL
    with pytest.raises(ValueError, match="not an http"):
        PoolingClient("ftp://example.org")
    with pytest.raises(ValueError, match="encoding_format must be one of"):
        PoolingClient(url, encoding_format="npy")


async def test_empty_prompt_list_makes_no_request(fake: FakeVllm, url: str) -> None:
    async with PoolingClient(url) as client:
        result = await client.pool([], model=MODEL)
    assert result.rows == [] and result.model == MODEL and fake.requests == []


# --- failures -------------------------------------------------------------------------------


async def test_unreachable_port_is_server_unreachable() -> None:
    port = free_port()  # bound then released: nothing listens there
    async with PoolingClient(f"http://127.0.0.1:{port}") as client:
        with pytest.raises(ServerUnreachable) as info:
            await client.pool(["hello"])
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message and "refused" in message.lower()
    assert "vllm serve" in info.value.hint


async def test_connection_closed_without_answer_is_server_unreachable() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    def slam_the_door() -> None:
        listener.settimeout(5)
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        conn.recv(65536)
        conn.close()

    thread = threading.Thread(target=slam_the_door, daemon=True)
    thread.start()
    try:
        async with PoolingClient(f"http://127.0.0.1:{port}") as client:
            with pytest.raises(ServerUnreachable, match="closed before an answer"):
                await client.pool(["hello"])
    finally:
        listener.close()
        thread.join(timeout=2)


async def test_slow_answer_is_request_timeout(fake: FakeVllm, url: str) -> None:
    async def slow(request: Request) -> Response:
        await asyncio.sleep(1.0)
        return JSONResponse({})

    fake.handlers["/pooling"] = slow
    async with PoolingClient(url, timeout=httpx.Timeout(0.2, connect=2.0)) as client:
        with pytest.raises(RequestTimeout) as info:
            await client.pool(["hello"])
    # The read timeout and the whole-answer deadline are both 0.2 s: either may say it first.
    message = str(info.value)
    assert message.startswith(f"POST {url}/pooling") and "0.2 s" in message


async def test_unknown_model_lists_the_served_names(fake: FakeVllm, url: str) -> None:
    async with PoolingClient(url) as client:
        with pytest.raises(UnknownModel) as info:
            await client.pool(["hello"], model="nope")
    message = str(info.value)
    assert "404" in message and "The model `nope` does not exist." in message
    assert message.endswith(f"it serves: {MODEL}")
    assert "--model" in info.value.hint


async def test_too_long_input_is_input_too_long(fake: FakeVllm, url: str) -> None:
    async with PoolingClient(url) as client:
        with pytest.raises(InputTooLong, match="maximum context length is 32 tokens"):
            await client.pool([" ".join(["word"] * 40)])


async def test_flat_error_envelope_before_0_10_1(fake: FakeVllm, url: str) -> None:
    body = sp.error_json("The model `x` does not exist.", "NotFoundError", 404, flat=True)
    fake.handlers["/pooling"] = answer(404, body)
    async with PoolingClient(url) as client:
        with pytest.raises(UnknownModel, match="does not exist"):
            await client.pool(["hello"], model="x")
    body = sp.error_json("This model's maximum context length is 8", "BadRequestError", 400)
    fake.handlers["/pooling"] = answer(400, {k: v for k, v in body["error"].items()})  # type: ignore[attr-defined]
    async with PoolingClient(url) as client:
        with pytest.raises(InputTooLong):
            await client.pool(["hello"])


async def test_validation_error_carries_the_servers_message(fake: FakeVllm, url: str) -> None:
    with pytest.raises(sp.InvalidRequest) as invalid:
        sp.validate_pooling_request({"input": "x", "encoding_format": "npy"})
    fake.handlers["/pooling"] = answer(400, sp.error_json(str(invalid.value), "Bad Request", 400))
    async with PoolingClient(url) as client:
        with pytest.raises(ServerError) as info:
            await client.pool(["hello"])
    assert type(info.value) is ServerError
    assert info.value.status == 400 and info.value.error_type == "Bad Request"
    assert "literal_error" in str(info.value) and "Bad Request: 1 validation error" in str(
        info.value
    )
    assert "rejected the request" in info.value.hint


async def test_fastapi_plain_404_means_not_a_pooling_server(fake: FakeVllm, url: str) -> None:
    fake.handlers["/pooling"] = answer(404, {"detail": "Not Found"})
    async with PoolingClient(url) as client:
        with pytest.raises(ServerError) as info:
            await client.pool(["hello"])
    assert not isinstance(info.value, UnknownModel)
    assert info.value.status == 404 and "Not Found" in str(info.value)
    assert "not a pooling model" in info.value.hint and "not a vLLM server" in info.value.hint
    fake.handlers["/v1/models"] = answer(404, {"detail": "Not Found"})
    async with PoolingClient(url) as client:
        with pytest.raises(ServerError) as info:
            await client.list_models()
        assert info.value.hint == "This server has no /v1/models route: is this URL a vLLM server?"
        # Discovery (what the app and predict do) says what to do about it.
        with pytest.raises(ServerError) as info:
            await discover(client)
        assert info.value.hint.startswith("This server does not list its models: pass --model")


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (500, sp.error_json("engine is dead", "InternalServerError", 500), "engine is dead"),
        (503, sp.error_json("try later", "ServiceUnavailableError", 503), "try later"),
        (502, b"<html>Bad Gateway</html>", "Bad Gateway"),
        (500, b"", "empty body"),
    ],
)
async def test_server_errors_carry_status_type_and_message(
    fake: FakeVllm, url: str, status: int, body: Any, expected: str
) -> None:
    fake.handlers["/pooling"] = answer(status, body)
    async with PoolingClient(url) as client:
        with pytest.raises(ServerError) as info:
            await client.pool(["hello"])
    assert type(info.value) is ServerError
    assert info.value.status == status and expected in str(info.value)
    assert f"POST {url}/pooling answered {status}" in str(info.value)
    assert "see its log" in info.value.hint
    if isinstance(body, dict):
        assert info.value.error_type == body["error"]["type"]


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_failures(fake: FakeVllm, url: str, status: int) -> None:
    fake.handlers["/v1/models"] = answer(status, {"error": "Unauthorized"})
    async with PoolingClient(url) as client:
        with pytest.raises(AuthenticationFailed) as info:
            await client.list_models()
    assert info.value.status == status and "Unauthorized" in str(info.value)
    assert "no API key was sent" in str(info.value)
    assert "--api-key" in info.value.hint


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"this is not json", "expected JSON, got 'this is not json'"),
        (b'{"object": "list"}', "expected a 'data' list"),
        (b'{"data": [{"index": 0, "data": [[0.1, 0.9], [0.5]]}]}', "ragged rows"),
        (b'{"data": [{"index": 0, "data": [0.1, 0.9]}]}', "2-D"),
        (b'{"data": [{"index": 0, "data": [["a", "b"]]}]}', "expected numbers"),
        (
            b'{"data": [{"index": 0, "data": [[1.0]]}, {"index": 1, "data": [[1.0]]}]}',
            r"expected 1 item\(s\), one per prompt, got 2",
        ),
    ],
)
async def test_malformed_bodies(fake: FakeVllm, url: str, body: bytes, expected: str) -> None:
    fake.handlers["/pooling"] = answer(200, body, content_type="application/json")
    async with PoolingClient(url) as client:
        with pytest.raises(MalformedResponse, match=expected) as info:
            await client.pool(["hello"])
    assert f"POST {url}/pooling" in str(info.value)


async def test_row_count_that_does_not_match_the_ids(fake: FakeVllm, url: str) -> None:
    body = p.PoolingResponse(data=[np.zeros((2, NUM_LABELS), np.float32)], model=MODEL)
    fake.handlers["/pooling"] = answer(200, sp.pooling_response_json(body))
    async with PoolingClient(url) as client:
        with pytest.raises(RowMismatch, match="sent 4 token ids for prompt 0, got 2 score rows"):
            await client.pool([[101, 1, 2, 102]])


async def test_malformed_side_endpoints(fake: FakeVllm, url: str) -> None:
    fake.handlers["/tokenize"] = answer(200, {"tokens": "nope"})
    fake.handlers["/v1/models"] = answer(200, b"<html>", content_type="text/html")
    async with PoolingClient(url) as client:
        with pytest.raises(MalformedResponse, match="list of integers"):
            await client.tokenize("x")
        with pytest.raises(MalformedResponse, match="model list: expected JSON"):
            await client.list_models()


async def test_one_failing_prompt_fails_the_call_and_cancels_the_rest(
    fake: FakeVllm, url: str
) -> None:
    async with PoolingClient(url, max_concurrency=2) as client:
        with pytest.raises(InputTooLong):
            await client.pool(["ok", " ".join(["w"] * 40), *["ok"] * 20])
        # The client is still usable afterwards.
        assert len((await client.pool(["fine"])).rows) == 1
    assert len(fake.pooling_bodies) < 23


async def test_cancelling_a_pool_call_cancels_its_requests(fake: FakeVllm, url: str) -> None:
    async def stuck(request: Request) -> Response:
        await asyncio.sleep(1.0)
        return JSONResponse({})

    fake.handlers["/pooling"] = stuck
    async with PoolingClient(url) as client:
        task = asyncio.ensure_future(client.pool(["a", "b", "c"]))
        while len(fake.pooling_bodies) < 3:  # all three requests reached the server
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        fake.handlers.clear()
        assert len((await client.pool(["again"])).rows) == 1  # the client is still usable


async def test_prompts_that_are_neither_text_nor_ids_are_refused(url: str) -> None:
    async with PoolingClient(url) as client:
        with pytest.raises(TypeError, match="prompt 1 is neither text nor a list of token ids"):
            await client.pool(["ok", [1.5, 2.0]])  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="prompt 1 is an empty list of token ids"):
            await client.pool([[101, 102], []])


async def test_numpy_id_arrays_and_a_bare_string_are_accepted(fake: FakeVllm, url: str) -> None:
    async with PoolingClient(url) as client:
        batch = await client.pool(np.array([[101, 1001, 102], [101, 1002, 102]]))  # type: ignore[arg-type]
        single = await client.pool("just one text")  # type: ignore[arg-type]
    assert [r.shape[0] for r in batch.rows] == [3, 3]
    assert len(single.rows) == 1 and single.rows[0].shape[0] == 5
    sent = sorted(b["input"] for b in fake.pooling_bodies[:2])  # concurrent: any order
    assert sent == [[101, 1001, 102], [101, 1002, 102]]
    assert fake.pooling_bodies[2]["input"] == "just one text"


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), ServerUnreachable),
        (httpx.ConnectTimeout("timed out"), ServerUnreachable),
        (httpx.ReadTimeout("timed out"), RequestTimeout),
        (httpx.WriteTimeout("timed out"), RequestTimeout),
        (httpx.PoolTimeout("timed out"), RequestTimeout),
        (httpx.ReadError("Connection reset by peer"), ServerUnreachable),
        (httpx.WriteError("Broken pipe"), ServerUnreachable),
        (httpx.RemoteProtocolError("Server disconnected"), ServerUnreachable),
        (httpx.LocalProtocolError("bad header"), ServerUnreachable),
        (httpx.ProxyError("proxy said no"), ServerUnreachable),
        (httpx.DecodingError("bad gzip"), MalformedResponse),
    ],
)
async def test_no_httpx_exception_escapes(exc: Exception, expected: type[Exception]) -> None:
    """Every transport failure httpx can raise comes out as a ner-tui error naming the server.
    (The real-server tests above cover refused, reset and timeout end to end.)"""

    def fail(request: httpx.Request) -> httpx.Response:
        raise exc

    async with PoolingClient("http://gpu-box:8000", transport=httpx.MockTransport(fail)) as client:
        with pytest.raises(expected) as info:
            await client.pool(["x"])
    assert "gpu-box:8000" in str(info.value) and info.value.hint  # type: ignore[attr-defined]


async def test_a_500_from_a_server_that_then_goes_away_is_a_server_gone() -> None:
    """A server killed mid-request often answers 500 on its way down (vLLM: engine dead):
    that is reported as the server gone, not as "up but failing"."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def answer_once_then_die() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        body = b'{"error": {"message": "engine is dead", "type": "InternalServerError"}}'
        conn.sendall(
            b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
        )
        conn.close()
        listener.close()

    thread = threading.Thread(target=answer_once_then_die, daemon=True)
    thread.start()
    async with PoolingClient(f"http://127.0.0.1:{port}") as client:
        with pytest.raises(ServerUnreachable) as info:
            await client.pool(["hello"])
    thread.join(5)
    assert "answered 500" in str(info.value) and "shut down or crashed" in str(info.value)
