"""The ASGI app of ``ner-tui serve``: vLLM's pooling protocol over a :class:`LocalEngine`.

Routes and their bodies follow ``docs/pooling-protocol.md``: ``/pooling`` (and
``/invocations``), ``/tokenize``, ``/detokenize``, ``/v1/models``, ``/health``, ``/version``,
``/metrics``, ``/ping``, ``/load``. Request validation and response encoding are
:mod:`ner_tui.server.protocol`; the shapes they fill are :mod:`ner_tui.core.protocol`'s, the
ones the HTTP client parses, so both sides agree byte for byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from ner_tui import __version__
from ner_tui.core.engine import InvalidPrompt, LocalEngine
from ner_tui.core.errors import InputTooLong, NerTuiError, UnknownModel
from ner_tui.core.model_info import special_template
from ner_tui.core.protocol import PoolingRequest, PoolingResponse, TokenizeResponse, Usage
from ner_tui.server.batcher import Arrival, DynamicBatcher
from ner_tui.server.defaults import (
    DEFAULT_BATCH_WAIT,
    DEFAULT_BATCH_WINDOW_MS,
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_REQUEST_TOKENS,
)
from ner_tui.server.http import (
    ApiKeyGuard,
    HTTPError,
    bad_request,
    error_response,
    json_response,
    read_json,
)
from ner_tui.server.metrics import Metrics
from ner_tui.server.protocol import (
    InvalidRequest,
    model_list_json,
    pooling_response_bytes,
    pooling_response_json,
    request_prompts,
    tokenize_response_json,
    validate_detokenize_request,
    validate_pooling_request,
    validate_tokenize_request,
)

log = logging.getLogger("ner_tui.server")

# Texts longer than this (characters, all prompts together) are tokenized off the event loop.
_INLINE_TOKENIZE_CHARS = 4096

Handler = Callable[[Request], Awaitable[Response]]


class _Server:
    """State shared by the routes of one app."""

    def __init__(
        self,
        engine: LocalEngine,
        *,
        served_model_name: str,
        max_body_bytes: int,
        max_request_tokens: int,
        batch_window_ms: float,
        max_batch: int,
        batch_wait: str,
    ) -> None:
        self.engine = engine
        self.name = served_model_name
        self.max_body_bytes = max_body_bytes
        self.max_request_tokens = max_request_tokens
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ner-tui-infer")
        self.batcher = DynamicBatcher(
            lambda prompts: engine.run_ids(prompts, use_activation=False),
            self.executor,
            window_ms=batch_window_ms,
            max_batch=max_batch,
            wait=batch_wait,
        )
        self.metrics = Metrics()
        # How many special tokens the tokenizer puts before/after a text (kept by truncation).
        before, after = special_template(engine.tokenizer, served_model_name)
        self.specials = (len(before), len(after))

    # -------------------------------------------------------------- helpers

    @property
    def max_model_len(self) -> int | None:
        """The engine's limit (which its check_ids enforces)."""
        return self.engine.max_model_len

    def check_model(self, model: str | None) -> None:
        if model is not None and model != self.name:
            raise UnknownModel(f"The model `{model}` does not exist.")

    async def tokenize(self, texts: list[str], add_special_tokens: bool) -> list[list[int]]:
        if sum(len(t) for t in texts) <= _INLINE_TOKENIZE_CHARS:
            return self._tokenize(texts, add_special_tokens)
        return await asyncio.to_thread(self._tokenize, texts, add_special_tokens)

    def _tokenize(self, texts: list[str], add_special_tokens: bool) -> list[list[int]]:
        # Lone surrogates, which the tokenizer refuses, never get here (read_json refuses them).
        return self.engine.tokenize_batch(texts, add_special_tokens)

    def truncate(
        self, ids: list[int], k: int, side: str, *, texts_with_specials: bool
    ) -> list[int]:
        """Keep ``k`` tokens, like the tokenizer's own truncation: specials stay."""
        if len(ids) <= k:
            return ids
        lead, trail = self.specials if texts_with_specials else (0, 0)
        keep = max(k - lead - trail, 0)
        body = ids[lead : len(ids) - trail]
        body = body[:keep] if side == "right" else body[len(body) - keep :]
        return ids[:lead] + body + ids[len(ids) - trail :]

    def chat_to_input(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """vLLM's chat-style pooling request (``messages``) as a text ``input``, rendered with
        the tokenizer's chat template; token classifiers rarely have one, which is a 400."""
        messages = body["messages"]
        if not isinstance(messages, list) or not all(
            isinstance(m, Mapping) and isinstance(m.get("role"), str) for m in messages
        ):
            raise bad_request("messages must be a list of {'role': ..., 'content': ...} objects")
        tokenizer = self.engine.tokenizer
        if not getattr(tokenizer, "chat_template", None):
            raise bad_request(
                "This model's tokenizer has no chat template, so chat-style `messages` cannot "
                "be scored; send the text as `input` instead.",
                "BadRequestError",
            )
        try:
            text = tokenizer.apply_chat_template(
                list(messages), tokenize=False, add_generation_prompt=False
            )
        except Exception as exc:
            raise bad_request(f"Cannot apply the chat template: {exc}", "BadRequestError") from None
        converted = {k: v for k, v in body.items() if k != "messages"}
        converted["input"] = str(text)
        converted.setdefault("add_special_tokens", False)  # the template has its own
        return converted

    def check_request_size(self, n_tokens: int, n_prompts: int) -> None:
        if n_tokens > self.max_request_tokens:
            raise bad_request(
                f"This request has {'at least ' if n_tokens == n_prompts else ''}{n_tokens} "
                f"tokens in {n_prompts} prompt(s); this server accepts at most "
                f"{self.max_request_tokens} tokens per request (--max-request-tokens). "
                "Split the input into several requests.",
                "BadRequestError",
            )

    # -------------------------------------------------------------- /pooling

    async def pool(self, body: Any, arrival: Arrival | None = None) -> Response:
        if isinstance(body, Mapping) and "messages" in body and "input" not in body:
            body = self.chat_to_input(body)
        if isinstance(body, Mapping):
            _reject_removed_parameters(body)
        req = validate_pooling_request(body)  # also: body is a JSON object
        prompts = request_prompts(req)
        _check_beyond_schema(body, req, prompts)
        self.check_model(req.model)
        self.check_request_size(len(prompts), len(prompts))  # each prompt is >= 1 token
        text_input = isinstance(prompts[0], str)
        if text_input:
            ids = await self.tokenize(prompts, req.add_special_tokens)  # type: ignore[arg-type]
        else:
            ids = prompts  # type: ignore[assignment]  # fresh lists from the validation
        if req.truncate_prompt_tokens is not None:
            k = req.truncate_prompt_tokens
            if k == -1:
                k = self.max_model_len if self.max_model_len is not None else 1 << 30
            elif k == 0:  # nothing left of any prompt, special tokens included
                raise bad_request("The decoder prompt cannot be empty", "BadRequestError")
            elif self.max_model_len is not None and k > self.max_model_len:
                raise bad_request(
                    f"truncate_prompt_tokens value ({k}) is greater than max_model_len "
                    f"({self.max_model_len}). Please request a smaller truncation size.",
                    "BadRequestError",
                )
            side = req.truncation_side or "right"
            with_specials = text_input and req.add_special_tokens
            ids = [self.truncate(x, k, side, texts_with_specials=with_specials) for x in ids]
        self.engine.check_ids(ids)
        self.check_request_size(sum(len(x) for x in ids), len(ids))

        self.metrics.in_flight += 1
        try:
            logits = await self.batcher.submit(ids, arrival)
        finally:
            self.metrics.in_flight -= 1
        rows = logits if req.use_activation is False else [self.engine.activate(r) for r in logits]
        n_tokens = sum(len(x) for x in ids)
        self.metrics.prompts += len(ids)
        self.metrics.prompt_tokens += n_tokens
        response = PoolingResponse(
            data=rows,
            model=self.name,
            id=f"pooling-{req.request_id or uuid.uuid4().hex}",
            created=int(time.time()),
            usage=Usage(prompt_tokens=n_tokens, total_tokens=n_tokens),
        )
        if req.encoding_format in ("float", "base64"):
            return json_response(
                pooling_response_json(
                    response, req.encoding_format, req.embed_dtype, req.endianness
                )
            )
        payload, metadata = pooling_response_bytes(response, req.embed_dtype, req.endianness)
        headers = {"metadata": metadata} if req.encoding_format == "bytes" else None
        return Response(payload, media_type="application/octet-stream", headers=headers)


_UNSUPPORTED_CACHE_SALT = ("@", "/", "\\", "\x00")
_REMOVED_TASKS = {
    "score": "`score` task was removed; use `classify` instead.",
    "encode": "`encode` task was removed; use `token_embed` or `token_classify` instead.",
}


def _reject_removed_parameters(body: Mapping[str, Any]) -> None:
    """What vLLM (0.30+) refuses before it validates the fields: any ``normalize`` (even null)
    and the removed tasks, each naming the field in ``param`` and in the message."""
    if "normalize" in body:
        raise bad_request(
            "Parameter `normalize` was removed; use `use_activation` instead. "
            "(parameter=normalize)",
            "BadRequestError",
            param="normalize",
        )
    task = body.get("task")
    if isinstance(task, str) and task in _REMOVED_TASKS:
        raise bad_request(
            f"{_REMOVED_TASKS[task]} (parameter=task)", "BadRequestError", param="task"
        )


def _check_beyond_schema(
    body: Mapping[str, Any], req: PoolingRequest, prompts: list[str] | list[list[int]]
) -> None:
    """What vLLM checks once the body fits the schema. Its serving code refuses an empty
    ``input``, ``dimensions`` and other tasks as "BadRequestError", naming the field in
    ``param`` (and, since 0.32, at the end of the message); cache_salt answers "Bad Request",
    as a request-model check."""
    if not prompts:
        raise bad_request("You must pass at least one prompt", "BadRequestError")
    if req.dimensions is not None:
        raise bad_request(
            "dimensions is currently not supported (parameter=dimensions)",
            "BadRequestError",
            param="dimensions",
        )
    if req.task not in (None, "token_classify"):
        raise bad_request(
            f"Unsupported task: {req.task!r} Supported tasks: ['token_classify'] (parameter=task)",
            "BadRequestError",
            param="task",
        )
    salt = req.cache_salt
    if salt is not None and (len(salt) > 128 or any(c in salt for c in _UNSUPPORTED_CACHE_SALT)):
        raise bad_request(
            "cache_salt must be at most 128 characters without '@', '/', '\\' or NUL."
        )


def create_app(
    engine: LocalEngine,
    *,
    served_model_name: str | None = None,
    api_key: str | None = None,
    max_model_len: int | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_request_tokens: int = DEFAULT_MAX_REQUEST_TOKENS,
    batch_window_ms: float = DEFAULT_BATCH_WINDOW_MS,
    max_batch: int = DEFAULT_MAX_BATCH,
    batch_wait: str = DEFAULT_BATCH_WAIT,
) -> Any:
    """A Starlette app serving ``engine`` over vLLM's pooling protocol.

    ``served_model_name``/``max_model_len`` default to the engine's; a smaller
    ``max_model_len`` than the engine's lowers the limit. ``api_key`` guards every route but
    ``/health``. ``batch_window_ms <= 0`` or ``max_batch <= 1`` turns dynamic batching off;
    ``batch_wait`` is ``"auto"`` (wait for company only while other requests are arriving) or
    ``"always"`` (see :class:`~ner_tui.server.batcher.DynamicBatcher`)."""
    if max_model_len is not None and (
        engine.max_model_len is None or max_model_len < engine.max_model_len
    ):
        engine.max_model_len = max_model_len
    state = _Server(
        engine,
        served_model_name=served_model_name or engine.served_model_name,
        max_body_bytes=max_body_bytes,
        max_request_tokens=max_request_tokens,
        batch_window_ms=batch_window_ms,
        max_batch=max_batch,
        batch_wait=batch_wait,
    )

    def route(path: str, handler: Handler, methods: list[str]) -> Route:
        async def endpoint(request: Request) -> Response:
            try:
                response = await handler(request)
            except ClientDisconnect:
                # Nobody is left to answer: not a server error, and no traceback in the log.
                log.info("client went away during %s", path)
                state.metrics.disconnects += 1
                return Response(status_code=499)
            except HTTPError as exc:
                response = error_response(exc.status, exc.message, exc.error_type, param=exc.param)
            except InvalidRequest as exc:
                response = error_response(400, str(exc), "Bad Request", param=exc.param)
            except UnknownModel as exc:
                response = error_response(404, exc.message, "NotFoundError")
            except InputTooLong as exc:
                response = error_response(400, exc.message, "BadRequestError", param="input_tokens")
            except InvalidPrompt as exc:
                response = error_response(400, exc.message, "BadRequestError")
            except NerTuiError as exc:
                log.error("request failed: %s", exc)
                response = error_response(500, exc.message, "InternalServerError")
            except Exception as exc:
                log.exception("request failed")
                response = error_response(
                    500, f"{type(exc).__name__}: {exc}", "InternalServerError"
                )
            state.metrics.observe(path, response.status_code)
            return response

        return Route(path, endpoint, methods=methods)

    async def pooling(request: Request) -> Response:
        arrival = state.batcher.arrival()
        try:
            return await state.pool(await read_json(request, state.max_body_bytes), arrival)
        finally:
            arrival.close()

    async def tokenize(request: Request) -> Response:
        req = validate_tokenize_request(await read_json(request, state.max_body_bytes))
        if req.model is not None and req.model != state.name:  # vLLM's /tokenize says more
            raise HTTPError(
                404,
                f"The model `{req.model}` does not exist. Valid aliases: {state.name}.",
                "NotFoundError",
                param="model",
            )
        (tokens,) = await state.tokenize([req.prompt], req.add_special_tokens)
        strs = state.engine.token_strs(tokens) if req.return_token_strs else None
        answer = TokenizeResponse(tokens, len(tokens), state.max_model_len, strs)
        return json_response(tokenize_response_json(answer))

    async def detokenize(request: Request) -> Response:
        req = validate_detokenize_request(await read_json(request, state.max_body_bytes))
        state.check_model(req.model)
        bad = [t for t in req.tokens if t >= state.engine.vocab_size]  # negatives fail validation
        if bad:
            raise bad_request(f"Token id {bad[0]} is out of vocabulary.", "BadRequestError")
        return json_response({"prompt": state.engine.detokenize(req.tokens)})

    async def models(request: Request) -> Response:
        card = dataclasses.replace(state.engine.model_card(), id=state.name)
        return json_response(model_list_json([card], created=int(state.metrics.started)))

    async def health(request: Request) -> Response:
        return Response(status_code=200 if state.batcher.alive else 503)

    async def version(request: Request) -> Response:
        return json_response({"version": __version__})

    async def metrics(request: Request) -> Response:
        text = state.metrics.render(state.batcher.stats, state.batcher.waiting, state.name)
        return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    async def load(request: Request) -> Response:
        return json_response({"server_load": state.metrics.in_flight})

    async def not_found(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        response = json_response({"detail": exc.detail}, exc.status_code)
        response.headers.update(exc.headers or {})  # a 405 says which methods are allowed
        return response

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.batcher.start()
        try:
            yield
        finally:
            await state.batcher.stop()
            state.executor.shutdown(wait=False, cancel_futures=True)

    app = Starlette(
        routes=[
            route("/pooling", pooling, ["POST"]),
            route("/invocations", pooling, ["POST"]),
            route("/tokenize", tokenize, ["POST"]),
            route("/detokenize", detokenize, ["POST"]),
            route("/v1/models", models, ["GET"]),
            route("/health", health, ["GET"]),
            route("/ping", health, ["GET", "POST"]),
            route("/version", version, ["GET"]),
            route("/metrics", metrics, ["GET"]),
            route("/load", load, ["GET"]),
        ],
        exception_handlers={404: not_found, 405: not_found},
        lifespan=lifespan,
    )
    if api_key:
        return ApiKeyGuard(app, api_key)
    return app
