"""An async client for vLLM's ``/pooling`` endpoint (and anything that speaks it).

One shared :class:`httpx.AsyncClient` with explicit timeouts; a semaphore bounds the requests
in flight so a whole file can be handed to vLLM's continuous batching without opening a
connection per line. Every failure comes out as one of :mod:`ner_tui.core.errors`, with a
message naming the URL and what happened; no httpx exception escapes.

    async with PoolingClient("http://localhost:8000") as client:
        cards = await client.list_models()           # the served models and max_model_len
        result = await client.pool([[101, 7592, 102]], model=cards[0].id)
        result.rows[0]                               # (3, num_labels) float32 probabilities
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import httpx
import numpy as np

from ner_tui.core import protocol
from ner_tui.core.aio import gather_all
from ner_tui.core.backend import ModelCard, PoolingResult
from ner_tui.core.codecs import check_codec_args
from ner_tui.core.errors import (
    AuthenticationFailed,
    InputTooLong,
    MalformedResponse,
    NerTuiError,
    RequestTimeout,
    RowMismatch,
    ServerError,
    ServerUnreachable,
    UnknownModel,
)

#: Connect fast (nothing there is a quick answer); give a loaded GPU server time to read.
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=60.0, write=30.0, pool=60.0)

_TOO_LONG_MARKERS = ("maximum context length", "longer than the maximum model length")
_NOT_POOLING_HINT = (
    "The server has no /pooling route: the served model is probably not a pooling model "
    "(serve a *ForTokenClassification model), or this URL is not a vLLM server."
)

Prompt = str | Sequence[int]


def _normalize_base_url(base_url: str) -> str:
    url = base_url.strip()
    if "://" not in url:
        url = "http://" + url
    url = url.rstrip("/")
    if url.endswith("/v1"):  # an OpenAI-style base URL: /pooling lives at the root
        url = url[: -len("/v1")]
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a valid server URL: {base_url!r} ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"not an http(s) server URL: {base_url!r}")
    return url


def _is_token_id(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _prompt_list(prompts: Sequence[Sequence[int]] | Sequence[str] | str) -> list[Prompt]:
    """``prompts`` as a list of prompts; a bare ``str`` or flat id list is one prompt."""
    if isinstance(prompts, str):
        return [prompts]
    items: list[Any] = list(prompts)
    if items and all(_is_token_id(t) for t in items):
        return [[int(t) for t in items]]
    out: list[Prompt] = []
    for i, p in enumerate(items):
        if isinstance(p, str):
            out.append(p)
        elif isinstance(p, (Sequence, np.ndarray)) and all(_is_token_id(t) for t in p):
            if len(p) == 0:
                raise ValueError(f"prompt {i} is an empty list of token ids")
            out.append([int(t) for t in p])
        else:
            raise TypeError(f"prompt {i} is neither text nor a list of token ids: {p!r:.60}")
    return out


class PoolingClient:
    """:class:`~ner_tui.core.backend.PoolingBackend` over HTTP, for any vLLM-compatible server.

    ``encoding_format`` picks how score rows travel (``float`` JSON is the portable default;
    ``base64``/``bytes`` are smaller and faster to parse, in ``embed_dtype``/``endianness``).
    ``num_labels``, when known, lets ``bytes_only`` answers to text prompts be reshaped.
    ``transport`` is passed to httpx (tests, custom proxies). ``HTTP(S)_PROXY`` variables are
    ignored unless ``trust_env=True``: the client talks to the server it is given. A ``/v1``
    suffix on ``base_url`` is dropped, since ``/pooling`` lives at the root. Use one client
    within one event loop.
    """

    def __init__(
        self,
        base_url: str = "http://localhost:8000",
        *,
        api_key: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_concurrency: int = 16,
        encoding_format: str = "float",
        embed_dtype: str = "float32",
        endianness: str = "native",
        num_labels: int | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        trust_env: bool = False,
    ) -> None:
        if encoding_format not in protocol.ENCODING_FORMATS:
            raise ValueError(
                f"encoding_format must be one of {list(protocol.ENCODING_FORMATS)}, "
                f"got {encoding_format!r}"
            )
        check_codec_args(embed_dtype, endianness)
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        self.base_url = _normalize_base_url(base_url)
        self.encoding_format = encoding_format
        self.embed_dtype = embed_dtype
        self.endianness = endianness
        self.num_labels = num_labels
        self.max_concurrency = max_concurrency
        #: Seconds for a whole answer, from sending the request to its last byte: ``timeout``
        #: when given as a number (``--timeout``), else the read timeout.
        self.deadline = float(timeout) if not isinstance(timeout, httpx.Timeout) else 60.0
        if not isinstance(timeout, httpx.Timeout):
            timeout = httpx.Timeout(float(timeout), connect=min(float(timeout), 5.0))
        elif timeout.read is not None:
            self.deadline = timeout.read
        self.timeout = timeout
        headers = {"User-Agent": "ner-tui"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._has_key = bool(api_key)
        # A few connections beyond the pooling bound, so discovery and /tokenize never queue
        # behind it.
        limits = httpx.Limits(
            max_connections=max_concurrency + 4, max_keepalive_connections=max_concurrency + 4
        )
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=timeout,
            limits=limits,
            transport=transport,
            trust_env=trust_env,
        )
        self._slots = asyncio.Semaphore(max_concurrency)

    @property
    def describe(self) -> str:
        return self.base_url

    def __repr__(self) -> str:
        return f"PoolingClient({self.base_url!r}, encoding_format={self.encoding_format!r})"

    async def __aenter__(self) -> PoolingClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ---------------------------------------------------------------- transport and errors

    def _url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    async def _send(self, method: str, path: str, body: object = None) -> httpx.Response:
        """One HTTP exchange; transport failures become ner-tui errors, statuses are checked."""
        url = self._url(path)
        exchange = (
            self._http.request(method, path)
            if body is None
            else self._http.request(method, path, json=body)
        )
        try:
            # httpx's read timeout bounds each wait for bytes; the deadline bounds the answer,
            # so a server that drips a body a byte at a time cannot hold a caller forever.
            response = await asyncio.wait_for(exchange, timeout=self.deadline)
        except asyncio.TimeoutError:
            raise RequestTimeout(
                f"{method} {url}: no complete answer within {self.deadline:g} s (the server "
                "sent it too slowly, or not at all)"
            ) from None
        except httpx.ConnectTimeout:
            raise ServerUnreachable(
                f"No answer from {self.base_url}: connecting timed out after "
                f"{self.timeout.connect} s"
            ) from None
        except httpx.PoolTimeout:
            raise RequestTimeout(
                f"{method} {url}: no free connection within {self.timeout.pool} s "
                "(too many requests in flight at once)"
            ) from None
        except httpx.WriteTimeout:
            raise RequestTimeout(
                f"{method} {url}: sending the request timed out after {self.timeout.write} s"
            ) from None
        except httpx.TimeoutException:
            raise RequestTimeout(
                f"{method} {url} timed out after {self.timeout.read} s: the server accepted "
                "the connection but did not answer in time"
            ) from None
        except httpx.ConnectError as exc:
            raise ServerUnreachable(f"No server at {self.base_url}: {_reason(exc)}") from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            raise ServerUnreachable(
                f"{method} {url}: the connection was closed before an answer ({_reason(exc)})"
            ) from None
        except httpx.DecodingError as exc:
            raise MalformedResponse(
                f"{method} {url}: the body could not be decoded ({exc})"
            ) from None
        except httpx.HTTPError as exc:
            raise ServerUnreachable(f"{method} {url} failed: {_reason(exc)}") from None
        if response.status_code >= 500 and not await self._still_up():
            # A server stopped mid-request often answers 500 on its way down (its engine
            # is gone): that is a server gone, not "up but failing".
            raise ServerUnreachable(
                f"{method} {url} answered {response.status_code} and the server stopped "
                "answering right after: it was shut down or crashed during the request"
            )
        if response.status_code >= 400:
            raise self._status_error(method, path, response)
        return response

    async def _still_up(self) -> bool:
        """Whether the server answers ``GET /health`` now (any status), within 2 s."""
        try:
            await asyncio.wait_for(self._http.get("/health"), timeout=2.0)
        except (httpx.HTTPError, asyncio.TimeoutError):
            return False
        return True

    def _status_error(self, method: str, path: str, response: httpx.Response) -> NerTuiError:
        status = response.status_code
        url = self._url(path)
        message, err_type, _ = protocol.parse_error(status, response.content)
        said = f"{err_type}: {message}" if err_type else message
        text = f"{method} {url} answered {status} ({said})"
        if status in (401, 403):
            if not self._has_key:
                text += "; no API key was sent"
            return AuthenticationFailed(
                text, status=status, error_type=err_type, hint=AuthenticationFailed.hint
            )
        if status == 404 and protocol.is_fastapi_not_found(response.content):
            hint = (
                _NOT_POOLING_HINT
                if path == "/pooling"
                else f"This server has no {path} route: is this URL a vLLM server?"
            )
            return ServerError(text, status=status, error_type=err_type, hint=hint)
        if status == 404 and (err_type == "NotFoundError" or "does not exist" in message):
            return UnknownModel(text)
        if status == 400 and any(m in message.lower() for m in _TOO_LONG_MARKERS):
            return InputTooLong(text)
        return ServerError(text, status=status, error_type=err_type)

    def _reparse(self, parse: Any, path: str, method: str = "GET") -> Any:
        """Run a protocol parser, prefixing its MalformedResponse with the URL."""
        try:
            return parse()
        except MalformedResponse as exc:
            raise MalformedResponse(f"{method} {self._url(path)}: {exc}") from None

    # ---------------------------------------------------------------------------- discovery

    async def list_models(self) -> list[ModelCard]:
        """``GET /v1/models``."""
        response = await self._send("GET", "/v1/models")
        cards: list[ModelCard] = self._reparse(
            lambda: protocol.parse_model_list(response.content), "/v1/models"
        )
        return cards

    # ---------------------------------------------------------------------- tokenization

    async def tokenize(
        self,
        text: str,
        model: str | None = None,
        add_special_tokens: bool = True,
        *,
        return_token_strs: bool = False,
    ) -> protocol.TokenizeResponse:
        """``POST /tokenize``: the server's own token ids (no offsets)."""
        body = protocol.TokenizeRequest(text, model, add_special_tokens, return_token_strs)
        response = await self._send("POST", "/tokenize", body.to_json())
        result: protocol.TokenizeResponse = self._reparse(
            lambda: protocol.TokenizeResponse.from_json(response.content), "/tokenize", "POST"
        )
        return result

    # ---------------------------------------------------------------------------- pooling

    async def pool(
        self,
        prompts: Sequence[Sequence[int]] | Sequence[str],
        *,
        model: str | None = None,
        use_activation: bool | None = None,
    ) -> PoolingResult:
        """Score prompts, one request per prompt sent concurrently (at most
        ``max_concurrency`` in flight), so vLLM's continuous batching sees them all at once.

        Rows come back in prompt order. A prompt of ids is sent as a flat ``list[int]`` (used
        as given); a text prompt as ``input: str``. For id prompts the row count is checked
        against the ids (:class:`RowMismatch`)."""
        items = _prompt_list(prompts)
        started = time.perf_counter()
        if not items:
            return PoolingResult(rows=[], model=model or "")
        results = await gather_all(
            [self._pool_one(p, model=model, use_activation=use_activation) for p in items]
        )
        rows = [r.data[0] for r in results]
        ids = [r.id for r in results]
        return PoolingResult(
            rows=rows,
            model=results[0].model or model or "",
            prompt_tokens=sum(r.usage.prompt_tokens for r in results),
            request_id=ids[0],
            elapsed_ms=(time.perf_counter() - started) * 1000.0,
            extra={"request_ids": ids} if len(ids) > 1 else {},
        )

    async def _pool_one(
        self, prompt: Prompt, *, model: str | None, use_activation: bool | None
    ) -> protocol.PoolingResponse:
        async with self._slots:
            single: protocol.PromptInput = prompt if isinstance(prompt, str) else list(prompt)
            return await self._post_pooling(single, [prompt], model, use_activation)

    async def _post_pooling(
        self,
        input_: protocol.PromptInput,
        prompts: list[Prompt],
        model: str | None,
        use_activation: bool | None,
    ) -> protocol.PoolingResponse:
        request = protocol.PoolingRequest(
            input=input_,
            model=model,
            task="token_classify",
            encoding_format=self.encoding_format,
            embed_dtype=self.embed_dtype,
            endianness=self.endianness,
            use_activation=use_activation,
        )
        try:
            response = await self._send("POST", "/pooling", request.to_json())
        except UnknownModel as exc:
            raise UnknownModel(await self._with_served_names(exc.message)) from None
        counts: list[int | None] = [None if isinstance(p, str) else len(p) for p in prompts]
        content_type = response.headers.get("content-type", "")
        options: dict[str, Any] = {
            "embed_dtype": self.embed_dtype,
            "endianness": self.endianness,
            "expected_items": len(prompts),
            "token_counts": counts,
            "num_labels": self.num_labels,
        }
        if self.encoding_format in ("bytes", "bytes_only") and "json" not in content_type:
            metadata = response.headers.get("metadata")
            parse = functools.partial(
                protocol.parse_pooling_bytes, response.content, metadata, **options
            )
        else:
            parse = functools.partial(protocol.parse_pooling_response, response.content, **options)
        parsed: protocol.PoolingResponse = self._reparse(parse, "/pooling", "POST")
        for i, (rows, n) in enumerate(zip(parsed.data, counts, strict=True)):
            if n is not None and rows.shape[0] != n:
                raise RowMismatch(
                    f"POST {self._url('/pooling')}: sent {n} token ids for prompt {i}, got "
                    f"{rows.shape[0]} score rows back"
                )
        return parsed

    async def _with_served_names(self, message: str) -> str:
        """``message`` plus the names the server does serve, when it will say."""
        try:
            cards = await self.list_models()
        except NerTuiError:
            return message
        return f"{message}; it serves: {', '.join(c.id for c in cards)}"


def _reason(exc: BaseException) -> str:
    """What went wrong under a transport error, in words: the operating system's reason
    ("Connection refused", "Name or service not known") when there is one, else httpx's."""
    seen: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and cause not in seen:
        seen.append(cause)
        cause = cause.__cause__ or cause.__context__
    for err in reversed(seen):
        if isinstance(err, OSError) and isinstance(err.errno, int) and err.errno > 0:
            return os.strerror(err.errno)  # asyncio's own strerror is "Connect call failed"
        if isinstance(err, OSError) and err.strerror:
            return str(err.strerror)  # DNS errors have negative codes and their own text
    return next((str(e) for e in seen if str(e)), type(exc).__name__)
