"""Big JSON bodies parsed off the event loop, in steps that let the loop run.

``json.loads`` of a max-size ``/pooling`` body (1.5 MB, 262,144 token ids) is one C call of
tens of milliseconds that holds the GIL throughout, so handing it to a thread as it is frees
nothing: the loop (``/health``, one-word requests) waits for it all the same. Here a body over
:data:`OFF_LOOP_BODY_BYTES` is parsed in a thread by :func:`loads_in_steps`: the top-level
object and the values under it are walked in Python, and arrays are parsed by the C decoder
a chunk of elements (:data:`ARRAY_CHUNK_CHARS`) at a time, so the thread gives the GIL back
between chunks (every ``sys.getswitchinterval()``) and the loop waits at most about one
chunk. The result is ``json.loads``'s, and a body ``json.loads`` refuses raises the very same
:class:`json.JSONDecodeError` (it is parsed again by ``json.loads`` to say so), so FastAPI's
error and vLLM's envelope are unchanged. Small bodies stay on the loop (no thread hop).

What stays on the loop, and why: validating the decoded body with the request model is one
pydantic-core call that holds the GIL too (about 5 ms for the max-size body), so a thread
would not shorten the loop's wait; it stays where FastAPI does it, errors and all. One JSON
string is one C call as well (a 16 MB string: about 20 ms).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Coroutine
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

# Bodies larger than this (bytes) are parsed in a thread, a chunk at a time.
OFF_LOOP_BODY_BYTES = 64 * 1024
# Array elements are parsed this many characters' worth at a time (about a millisecond).
ARRAY_CHUNK_CHARS = 32 * 1024

_DECODER = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")


def _skip(text: str, i: int) -> int:
    """Past the JSON whitespace at ``i``."""
    match = _WS.match(text, i)
    return match.end() if match else i


class _Refused(Exception):
    """The stepwise parse cannot go on; ``json.loads`` says why (or parses what it could
    not: either way its answer is the answer)."""


def loads_in_steps(raw: bytes, *, chunk_chars: int = ARRAY_CHUNK_CHARS) -> Any:
    """``json.loads(raw)``, the same value or the same exception, in many short C calls."""
    try:
        text = raw.decode(json.detect_encoding(raw), "surrogatepass")
        start = _skip(text, 0)
        value, end = _value(text, start, 0, chunk_chars)
        if _skip(text, end) != len(text):
            raise _Refused
        return value
    except (_Refused, ValueError, IndexError, RecursionError):
        return json.loads(raw)


def _value(text: str, i: int, depth: int, chunk_chars: int) -> tuple[Any, int]:
    char = text[i : i + 1]
    if char == "{" and depth < 2:
        return _object(text, i, depth, chunk_chars)
    if char == "[":
        return _array(text, i, chunk_chars)
    return _DECODER.raw_decode(text, i)


def _object(text: str, i: int, depth: int, chunk_chars: int) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    i = _skip(text, i + 1)
    if text[i : i + 1] == "}":
        return out, i + 1
    while True:
        if text[i : i + 1] != '"':
            raise _Refused
        key, i = scanstring(text, i + 1, True)
        i = _skip(text, i)
        if text[i : i + 1] != ":":
            raise _Refused
        i = _skip(text, i + 1)
        out[key], i = _value(text, i, depth + 1, chunk_chars)
        i = _skip(text, i)
        char = text[i : i + 1]
        if char == "}":
            return out, i + 1
        if char != ",":
            raise _Refused
        i = _skip(text, i + 1)


def _array(text: str, i: int, chunk_chars: int) -> tuple[list[Any], int]:
    """An array, its elements parsed by the C decoder a run at a time: the run up to the last
    separator in the next ``chunk_chars`` characters, parsed as an array of its own. The
    separator is a comma right after the character the last element ended with (``],`` for
    an array of arrays, ``",`` for strings, any comma after a number), so runs mostly end
    between elements; one that ends inside a string or a
    nested value is unbalanced, which the decoder refuses (the run must also be parsed to its
    very end), and then one element is parsed alone."""
    out: list[Any] = []
    i = _skip(text, i + 1)
    if text[i : i + 1] == "]":
        return out, i + 1
    separator = ""  # known once an element has been parsed alone
    while True:
        if separator and len(text) - i > chunk_chars:
            found = text.rfind(separator, i, i + chunk_chars)
            cut = found + len(separator) - 1
            if found > i:
                run = "[" + text[i:cut] + "]"
                try:
                    part, end = _DECODER.raw_decode(run)
                except ValueError:
                    end = -1
                if end == len(run):
                    out += part
                    time.sleep(0)  # the GIL to the event loop if it waits, now, not in 5 ms
                    i = _skip(text, cut + 1)
                    continue
        element, i = _DECODER.raw_decode(text, i)
        out.append(element)
        last = text[i - 1]
        separator = last + "," if last in '"]}' else ","  # a number or a literal: any comma
        i = _skip(text, i)
        char = text[i : i + 1]
        if char == "]":
            return out, i + 1
        if char != ",":
            raise _Refused
        i = _skip(text, i + 1)


class BodyRequest(Request):
    """A request whose ``json()`` parses a big body off the loop (:func:`loads_in_steps`)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            if len(body) > OFF_LOOP_BODY_BYTES:
                self._json = await asyncio.to_thread(loads_in_steps, body)
                seen = getattr(self.app.state, "parsed_off_loop", None)
                if callable(seen):
                    seen(self.url.path)
            else:
                self._json = json.loads(body)
        return self._json


class BodyRoute(APIRoute):
    """FastAPI's route with :class:`BodyRequest` (FastAPI's documented way to change how a
    body is read); everything else, validation and its errors included, is FastAPI's."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            return await handler(BodyRequest(request.scope, request.receive))

        return route


def dumps_in_steps(doc: dict[str, Any], chunk: int = 65_536) -> bytes:
    """The bytes :func:`ner_tui.server.http.json_response` writes for ``doc`` (vLLM's compact
    JSON), its long list values written ``chunk`` items at a time with the GIL offered to the
    event loop in between: a 16 MB ``/tokenize`` answer (6.6 million ids) is one ``json.dumps``
    of half a second otherwise, and holds the GIL throughout."""
    parts = ["{"]
    for n, (key, value) in enumerate(doc.items()):
        parts.append(("," if n else "") + json.dumps(key, ensure_ascii=False) + ":")
        if isinstance(value, list) and len(value) > chunk:
            runs = []
            for i in range(0, len(value), chunk):
                runs.append(_compact(value[i : i + chunk])[1:-1])
                time.sleep(0)
            parts.append("[" + ",".join(runs) + "]")
        else:
            parts.append(_compact(value))
    parts.append("}")
    return "".join(parts).encode("utf-8", "backslashreplace")


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
