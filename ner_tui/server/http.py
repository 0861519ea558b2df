"""HTTP plumbing around the routes: vLLM's error envelope, the body size limit and client
disconnects (:class:`RequestFront`), and the API-key guard."""

from __future__ import annotations

import hmac
import json
import re
import time
from collections.abc import Callable
from typing import Any, Protocol

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ner_tui.server.protocol import error_json


class HTTPError(HTTPException):
    """An answer other than 2xx in vLLM's envelope, raised up to the app's handler. ``param``
    names the request field at fault, as vLLM's envelope does for some errors. (A Starlette
    HTTPException, so that FastAPI passes it through untouched even from reading the body.)"""

    def __init__(
        self, status: int, message: str, error_type: str, *, param: str | None = None
    ) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.param = param


def bad_request(
    message: str, error_type: str = "Bad Request", *, param: str | None = None
) -> HTTPError:
    """A 400. vLLM's schema errors are "Bad Request"; the checks its serving code makes after
    the schema are "BadRequestError"."""
    return HTTPError(400, message, error_type, param=param)


def json_response(doc: Any, status: int = 200) -> Response:
    """``doc`` as vLLM's JSONResponse writes it. A lone surrogate, which no request brings in
    any more, would be written escaped rather than fail the answer."""
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    return Response(
        body.encode("utf-8", "backslashreplace"), status_code=status, media_type="application/json"
    )


def error_response(
    status: int, message: str, error_type: str, *, param: str | None = None
) -> Response:
    """vLLM's nested error envelope (>= 0.10.1), ``code`` equal to the HTTP status, with the
    message cleaned as vLLM cleans it (:func:`sanitize_message`)."""
    return json_response(
        error_json(sanitize_message(message), error_type, status, param=param), status
    )


# What vLLM (0.32) takes out of every error message before a client sees it: object addresses,
# traceback lines, and file-system paths (a served model's directory among them).
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+>")
_TRACEBACK_LINE = re.compile(r'\n?\s*File "[^"]+", line \d+, in \S+(\n\s+.*)?')
_SYSTEM_PATH = re.compile(r"/(?:home|usr|opt|var|tmp|root|lib|mnt|srv)(?:/[\w.\-]+)+")
_FILE_PATH = re.compile(r"(?:/[\w\-]+)+/[\w\-]+\.\w+")


def sanitize_message(message: str) -> str:
    """``message`` without memory addresses, traceback lines or paths, as vLLM answers: a
    client learns what went wrong, not where the server keeps its files."""
    message = _ADDRESS.sub(">", message)
    message = _TRACEBACK_LINE.sub("", message)
    message = _SYSTEM_PATH.sub("<path>", message)
    return _FILE_PATH.sub("<path>", message).strip()


def too_large(max_bytes: int) -> HTTPError:
    return HTTPError(
        413,
        f"Request body is larger than the server's limit of {max_bytes} bytes "
        "(ner-tui serve --max-body-bytes).",
        "Request Entity Too Large",
    )


class FrontMetrics(Protocol):
    def answered(self, path: str, status: int) -> None: ...
    def disconnected(self, path: str) -> None: ...


# Where a request's client went away is kept in its ASGI scope (Request.state reads it).
DISCONNECTED = "client_disconnected"


class RequestFront:
    """ASGI middleware in front of the routes, for every HTTP request:

    - the body limit: a declared ``Content-Length`` over ``max_bytes`` is answered 413 before
      anything is read, and a body that grows past it while streaming (chunked uploads) ends
      with a 413 too (:func:`too_large`, raised from ``receive``, so FastAPI's handlers answer);
    - client disconnects: once ``receive`` has said ``http.disconnect`` the request counts as
      a disconnect, whatever the route did after that (FastAPI turns a body cut short into a
      400 that nobody reads), and never as an error status;
    - ``opened(path)`` is called as the request arrives (before its body is read), and what
      it returns is closed when the request ends: the scheduler's arrival notice.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        metrics: FrontMetrics,
        opened: Callable[[str], Any],
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        self.opened = opened

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        state = scope.setdefault("state", {})
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            error = too_large(self.max_body_bytes)
            response = error_response(error.status, error.message, error.error_type)
            response.headers["Connection"] = "close"  # the unread body is not wanted
            await response(scope, receive, send)
            self.metrics.answered(path, error.status)
            return
        size = 0
        status = 0
        limit = self.max_body_bytes

        async def counted_receive() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.disconnect":
                state[DISCONNECTED] = True
            elif message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    raise too_large(limit)
            return message

        async def noted_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        handle = self.opened(path)
        state["arrival"] = handle
        state["arrived"] = time.monotonic()
        try:
            await self.app(scope, counted_receive, noted_send)
        finally:
            if handle is not None:
                handle.close()
            if state.get(DISCONNECTED):
                self.metrics.disconnected(path)
            else:
                self.metrics.answered(path, status or 500)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


# Paths a browser opens without a key: the schema and its page (they hold no data).
_OPEN_PATHS = frozenset({"/health", "/docs", "/docs/oauth2-redirect", "/openapi.json"})


class ApiKeyGuard:
    """ASGI middleware: every path but ``/health`` and the API's schema and docs page needs
    ``Authorization: Bearer <key>``.

    (vLLM guards only ``/v1``-style paths; ner-tui's server guards ``/pooling`` and
    ``/tokenize`` too.)"""

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self.expected = f"Bearer {api_key}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in _OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        given = b""
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                given = value
                break
        if not hmac.compare_digest(given, self.expected):
            response = error_response(
                401,
                "Unauthorized: send the server's API key as 'Authorization: Bearer KEY'.",
                "Unauthorized",
            )
            response.headers["WWW-Authenticate"] = "Bearer"
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
