"""HTTP plumbing shared by the routes: vLLM's error envelope, JSON bodies with a size limit,
and the API-key guard."""

from __future__ import annotations

import hmac
import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ner_tui.server.protocol import error_json


class HTTPError(Exception):
    """An answer other than 2xx, carried up to the route wrapper. ``param`` names the request
    field at fault, as vLLM's envelope does for some errors."""

    def __init__(
        self, status: int, message: str, error_type: str, *, param: str | None = None
    ) -> None:
        super().__init__(message)
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
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    return Response(body, status_code=status, media_type="application/json")


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


async def read_json(request: Request, max_bytes: int) -> Any:
    """The decoded JSON body, or HTTPError 400 (not JSON) / 413 (over ``max_bytes``)."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise bad_request(
            f"Unsupported content type {content_type or '(none)'!r}: send application/json."
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        # vLLM 0.32's words: the position of the error in `loc` and `param`, the reason in ctx.
        if isinstance(exc, json.JSONDecodeError):
            position, reason = exc.pos, exc.msg
        else:
            position, reason = 0, str(exc) if isinstance(exc, ValueError) else "nested too deeply"
        raise bad_request(
            f"1 validation error:\n  {{'type': 'json_invalid', 'loc': 'body.{position}', "
            f"'msg': 'JSON decode error', 'input': '<dict of 0 items>', "
            f"'ctx': {{'error': {reason!r}}}}}",
            param=f"body.{position}",
        ) from None
    where = _lone_surrogate(body, "body")
    if where is not None:
        raise bad_request(
            f"{where} holds a lone surrogate (an escaped \\ud800-\\udfff with no partner): "
            "text must be valid Unicode.",
            param=where,
        )
    return body


def _lone_surrogate(value: Any, where: str) -> str | None:
    """Where in a decoded JSON value a string (or key) holds a lone surrogate, if anywhere.

    JSON may escape one (``"\\ud800"``); Python decodes it into a string that cannot be encoded
    again, so it would fail deep inside (tokenizing, or writing the answer) as a 500."""
    if isinstance(value, str):
        return where if _SURROGATE.search(value) else None
    if isinstance(value, list):
        for i, item in enumerate(value):
            if (found := _lone_surrogate(item, f"{where}.{i}")) is not None:
                return found
    elif isinstance(value, dict):
        for key, item in value.items():
            if _SURROGATE.search(key):
                return where
            if (found := _lone_surrogate(item, f"{where}.{key}")) is not None:
                return found
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _too_large(max_bytes: int) -> HTTPError:
    return HTTPError(
        413,
        f"Request body is larger than the server's limit of {max_bytes} bytes "
        "(ner-tui serve --max-body-bytes).",
        "Request Entity Too Large",
    )


class ApiKeyGuard:
    """ASGI middleware: every path but ``/health`` needs ``Authorization: Bearer <key>``.

    (vLLM guards only ``/v1``-style paths; ner-tui's server guards ``/pooling`` and
    ``/tokenize`` too.)"""

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self.expected = f"Bearer {api_key}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") == "/health":
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
