"""The ASGI app of ``ner-tui serve``: vLLM's pooling protocol over a :class:`LocalEngine`,
served with FastAPI as vLLM serves it.

Routes and their bodies follow ``docs/pooling-protocol.md``: ``/pooling`` (and
``/invocations``), ``/tokenize``, ``/detokenize``, ``/v1/models``, ``/health``, ``/version``,
``/metrics``, ``/ping``, ``/load``, plus ``/openapi.json`` and ``/docs``. The request models
and response encoders are :mod:`ner_tui.server.protocol`'s; the shapes they fill are
:mod:`ner_tui.core.protocol`'s, the ones the HTTP client parses, so both sides agree byte for
byte. Errors are vLLM's envelope, validation errors worded as vLLM words them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ner_tui import __version__
from ner_tui.core.engine import InvalidPrompt, LocalEngine, too_long_message
from ner_tui.core.errors import InputTooLong, NerTuiError, UnknownModel
from ner_tui.core.model_info import special_template
from ner_tui.core.protocol import PoolingRequest, PoolingResponse, TokenizeResponse, Usage
from ner_tui.core.runners import give_back_memory
from ner_tui.server.batcher import Arrival, ServerScheduler
from ner_tui.server.bodies import OFF_LOOP_BODY_BYTES, BodyRoute, dumps_in_steps
from ner_tui.server.defaults import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_NUM_BATCHED_TOKENS,
    DEFAULT_MAX_NUM_SEQS,
    DEFAULT_MAX_REQUEST_TOKENS,
)
from ner_tui.server.http import (
    ApiKeyGuard,
    HTTPError,
    RequestFront,
    bad_request,
    error_response,
    json_response,
)
from ner_tui.server.metrics import CONTENT_TYPE, Metrics
from ner_tui.server.protocol import (
    DetokenizeRequest,
    DetokenizeResponseBody,
    ErrorResponse,
    InvalidRequest,
    LoadBody,
    ModelListBody,
    PoolingBody,
    PoolingChatRequest,
    PoolingCompletionRequest,
    PoolingResponseBody,
    TokenizeCompletionRequest,
    TokenizeResponseBody,
    VersionBody,
    lone_surrogates,
    model_list_json,
    pooling_response_bytes,
    pooling_response_json,
    request_prompts,
    to_pooling_request,
    tokenize_response_json,
    validate_pooling_request,
    validation_error_message,
    validation_error_param,
)

log = logging.getLogger("ner_tui.server")

# Texts longer than this (characters, all prompts together) are tokenized off the event loop.
_INLINE_TOKENIZE_CHARS = 4096
# Off the loop, a request's texts are tokenized a chunk at a time (at most this many texts and
# characters), one chunk in the tokenizer threads per request at a time: requests take turns,
# so 10,000 strings in one request do not hold up a one-word request behind them.
TOKENIZE_CHUNK_TEXTS = 256
TOKENIZE_CHUNK_CHARS = 32_768
# A text longer than this with no truncation asked for is tokenized a growing prefix at a
# time, stopping as soon as it is past the model's window (like vLLM, which tokenizes only
# up to max_model_len + 1 tokens): a 16 MB text is refused in milliseconds, not 24 s.
_PROBE_CHARS_PER_TOKEN = 8
# With truncation asked for, a text longer than this many characters per kept token is cut to
# a piece (a prefix for right truncation, a suffix for left) that still has this many more
# tokens than are kept, and only the piece is tokenized (see _Server.tokenize_piece).
_PIECE_MARGIN_TOKENS = 16
# A /tokenize answer with more tokens than this is written off the event loop.
_INLINE_ANSWER_TOKENS = 65_536
# Memory is given back to the system when no /pooling request is left after this many tokens.
_TRIM_AFTER_TOKENS = 4096


class _Server:
    """State shared by the routes of one app."""

    def __init__(
        self,
        engine: LocalEngine,
        *,
        served_model_name: str,
        max_body_bytes: int,
        max_request_tokens: int,
        max_num_batched_tokens: int,
        max_num_seqs: int,
        batch_window_ms: float,
    ) -> None:
        self.engine = engine
        self.name = served_model_name
        self.max_body_bytes = max_body_bytes
        self.max_request_tokens = max_request_tokens
        # Two threads: one very long text (a /tokenize of megabytes) leaves the other free.
        self.tokenizer_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ner-tui-tok")
        self.batcher = ServerScheduler(
            engine,
            max_num_batched_tokens=max_num_batched_tokens,
            max_num_seqs=max_num_seqs,
            batch_window_ms=batch_window_ms,
        )
        self.active = 0  # /pooling requests being handled
        self._since_trim = 0  # tokens handled since memory was last given back
        self.metrics = Metrics(served_model_name, self.batcher, max_model_len=engine.max_model_len)
        # The scheduler reports each request's wait before its first pass (server contract).
        self.batcher.on_queue_time = self.metrics.queue_time  # type: ignore[attr-defined]
        # How many special tokens the tokenizer puts before/after a text (kept by truncation).
        before, after = special_template(engine.tokenizer, served_model_name)
        self.specials = (len(before), len(after))
        # Whether a piece of a text cut at whitespace has the whole text's tokens at that end.
        self.pieces_safe = splits_at_whitespace(engine.tokenizer)

    # -------------------------------------------------------------- helpers

    @property
    def max_model_len(self) -> int | None:
        """The engine's limit (which its check_ids enforces)."""
        return self.engine.max_model_len

    def check_model(self, model: str | None) -> None:
        if model is not None and model != self.name:
            raise UnknownModel(f"The model `{model}` does not exist.")

    async def tokenize(
        self,
        texts: list[str],
        add_special_tokens: bool,
        *,
        arrival: Arrival | None = None,
        stop_past: int | None = None,
    ) -> list[list[int]]:
        """Token ids of ``texts``: small requests inline, others a chunk at a time in the
        tokenizer threads, taking turns with other requests and stopping if the client goes.

        With ``stop_past`` (the window, when no truncation is asked for) a text longer than
        ``stop_past`` tokens is refused as too long as soon as a prefix of it is: InputTooLong
        saying "at least N" tokens, as vLLM does."""
        if sum(len(t) for t in texts) <= _INLINE_TOKENIZE_CHARS:
            self.batcher.tokenized_chars += sum(len(t) for t in texts)
            return self._tokenize(texts, add_special_tokens)
        loop = asyncio.get_running_loop()
        out: list[list[int]] = []
        for chunk in _chunks(texts):
            if arrival is not None:
                arrival.check()
            if (
                stop_past is not None
                and len(chunk) == 1
                and len(chunk[0]) > (stop_past + 1) * _PROBE_CHARS_PER_TOKEN
            ):
                ids, complete = await loop.run_in_executor(
                    self.tokenizer_pool,
                    self._tokenize_capped,
                    chunk[0],
                    add_special_tokens,
                    stop_past,
                )
                if not complete:
                    self.engine.check_ids(out)  # an earlier prompt's error comes first
                    assert self.max_model_len is not None
                    raise InputTooLong(too_long_message(self.max_model_len, len(ids), True))
                out.append(ids)
                continue
            out += await loop.run_in_executor(
                self.tokenizer_pool, self._tokenize, chunk, add_special_tokens
            )
        return out

    def _tokenize(self, texts: list[str], add_special_tokens: bool) -> list[list[int]]:
        # Lone surrogates, which the tokenizer refuses, never get here (a 400 before).
        self.batcher.tokenized_chars += sum(len(t) for t in texts)
        return self.engine.tokenize_batch(texts, add_special_tokens)

    def _tokenize_capped(
        self, text: str, add_special_tokens: bool, limit: int
    ) -> tuple[list[int], bool]:
        """``(ids, True)`` for the whole text, or ``(ids of a prefix, False)`` once a prefix
        cut at whitespace has more than ``limit`` tokens: such a prefix's tokens are the
        first tokens of the whole text (word-level pre-tokenizers split at whitespace), so
        the whole text has at least as many."""
        cut = (limit + 1) * _PROBE_CHARS_PER_TOKEN
        while cut < len(text):
            end = max(text.rfind(" ", 0, cut), text.rfind("\n", 0, cut))
            if end > 0:
                (ids,) = self._tokenize([text[:end]], add_special_tokens)
                if len(ids) > limit:
                    return ids, False
            cut *= 4
        (ids,) = self._tokenize([text], add_special_tokens)
        return ids, True

    def truncate(
        self, ids: list[int], k: int, side: str, *, texts_with_specials: bool
    ) -> list[int]:
        """Keep ``k`` tokens, like the tokenizer's own truncation: specials stay."""
        return truncate_ids(ids, k, side, self.specials if texts_with_specials else (0, 0))

    async def tokenize_truncated(
        self,
        texts: list[str],
        add_special_tokens: bool,
        keep: int,
        side: str,
        arrival: Arrival,
    ) -> list[list[int]]:
        """Token ids of ``texts`` for truncation to ``keep`` tokens on ``side``, each as
        :meth:`truncate` would cut the whole text's ids: a long text is tokenized a piece at
        that end (:meth:`tokenize_piece`), so a megabyte text truncated to 128 tokens costs a
        few kilobytes of tokenizing."""
        need = keep + _PIECE_MARGIN_TOKENS
        long = [self.pieces_safe and len(t) > need * _PROBE_CHARS_PER_TOKEN for t in texts]
        if not any(long):
            return await self.tokenize(texts, add_special_tokens, arrival=arrival)
        rest = iter(
            await self.tokenize(
                [t for t, cut in zip(texts, long, strict=True) if not cut],
                add_special_tokens,
                arrival=arrival,
            )
        )
        loop = asyncio.get_running_loop()
        out: list[list[int]] = []
        for text, cut in zip(texts, long, strict=True):
            if not cut:
                out.append(next(rest))
                continue
            arrival.check()
            ids = await loop.run_in_executor(
                self.tokenizer_pool, self.tokenize_piece, text, add_special_tokens, need, side
            )
            out.append(ids)
        return out

    def tokenize_piece(
        self, text: str, add_special_tokens: bool, need: int, side: str
    ) -> list[int]:
        """The ids of a piece of ``text`` at ``side`` ("right" truncation keeps the start, so
        the piece is a prefix; "left": a suffix) with at least ``need`` tokens besides the
        special ones, or of the whole text when no shorter piece has that many.

        The piece is cut where a non-space character meets whitespace (the prefix ends with
        the character, the suffix starts with the whitespace), a place where every
        pre-tokenizer of :func:`splits_at_whitespace` splits, so its tokens are the whole
        text's tokens at that end; the margin in ``need`` keeps the end that differs (the
        last word of a prefix, the first of a suffix) out of what is kept."""
        specials = sum(self.specials) if add_special_tokens else 0
        return piece_ids(
            text, lambda t: self._tokenize([t], add_special_tokens)[0], specials, need, side
        )

    def chat_to_input(self, body: PoolingChatRequest) -> PoolingCompletionRequest:
        """vLLM's chat-style pooling request (``messages``) as a text ``input``, rendered with
        the tokenizer's chat template; token classifiers rarely have one, which is a 400."""
        tokenizer = self.engine.tokenizer
        if not getattr(tokenizer, "chat_template", None):
            raise bad_request(
                "This model's tokenizer has no chat template, so chat-style `messages` cannot "
                "be scored; send the text as `input` instead.",
                "BadRequestError",
            )
        messages = [m.model_dump(exclude_none=True) for m in body.messages]
        try:
            text = tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=body.add_generation_prompt
            )
        except Exception as exc:
            raise bad_request(f"Cannot apply the chat template: {exc}", "BadRequestError") from None
        fields = body.model_dump(exclude={"messages", "add_generation_prompt"})
        fields.pop("continue_final_message", None)
        return PoolingCompletionRequest.model_validate({**fields, "input": str(text)})

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
        self.active += 1
        try:
            return await self._pool(body, arrival if arrival is not None else Arrival())
        finally:
            self.active -= 1
            if self.active == 0 and self._since_trim >= _TRIM_AFTER_TOKENS:
                # The last request of a burst is done, its bodies and answers freed: give the
                # memory back to the system (off the loop; malloc_trim can take milliseconds).
                self._since_trim = 0
                asyncio.get_running_loop().run_in_executor(self.tokenizer_pool, give_back_memory)

    async def _pool(self, body: Any, arrival: Arrival) -> Response:
        """Score a validated body (a request model; a plain dict is validated here)."""
        if isinstance(body, PoolingChatRequest):
            body = self.chat_to_input(body)
        if isinstance(body, PoolingCompletionRequest):
            req = to_pooling_request(body)
        else:
            req = validate_pooling_request(body)
        prompts = request_prompts(req)
        _check_beyond_schema(req, prompts)
        self.check_model(req.model)
        self.check_request_size(len(prompts), len(prompts))  # each prompt is >= 1 token
        text_input = isinstance(prompts[0], str)
        k = None
        side = req.truncation_side or "right"
        if req.truncate_prompt_tokens is not None:
            # Checked before tokenizing (which cannot fail), so the answer is the same.
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
        if text_input and k is not None:
            ids = await self.tokenize_truncated(
                prompts,  # type: ignore[arg-type]
                req.add_special_tokens,
                k,
                side,
                arrival,
            )
        elif text_input:
            ids = await self.tokenize(
                prompts,  # type: ignore[arg-type]
                req.add_special_tokens,
                arrival=arrival,
                stop_past=self.max_model_len,
            )
        else:
            ids = prompts  # type: ignore[assignment]  # fresh lists from the validation
        if k is not None:
            with_specials = text_input and req.add_special_tokens
            ids = [self.truncate(x, k, side, texts_with_specials=with_specials) for x in ids]
        self.engine.check_ids(ids)
        self.check_request_size(sum(len(x) for x in ids), len(ids))

        self._since_trim += sum(len(x) for x in ids)  # also when the client leaves
        logits = await self.batcher.submit(ids, arrival)
        rows = logits if req.use_activation is False else [self.engine.activate(r) for r in logits]
        n_tokens = sum(len(x) for x in ids)
        self.metrics.scored(len(ids), n_tokens)
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


def splits_at_whitespace(tokenizer: Any) -> bool:
    """Whether the tokenizer's pre-tokenizer always splits where a non-space character meets
    whitespace (BERT's, whitespace, byte-level BPE's regex, SentencePiece's Metaspace with
    ``split``; alone or in a sequence with punctuation/digit splitters), so that a prefix or
    suffix of a text cut there is tokenized as that end of the whole text is. Anything else
    (no pre-tokenizer, a Metaspace without ``split``, one this does not know): False, and
    texts are tokenized whole."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    try:
        config = json.loads(backend.to_str())["pre_tokenizer"]  # type: ignore[union-attr]
    except (AttributeError, KeyError, TypeError, ValueError):
        return False
    if not isinstance(config, dict):
        return False  # no pre-tokenizer: the model sees the whole text as one piece
    members = config.get("pretokenizers", []) if config.get("type") == "Sequence" else [config]
    splitting = False
    for member in members:
        kind = member.get("type")
        if kind in _SPLITS_AT_WHITESPACE:
            flag = _SPLITS_AT_WHITESPACE[kind]
            if flag is not None and not member.get(flag, True):
                return False
            splitting = True
        elif kind not in ("Punctuation", "Digits"):
            return False  # a splitter this does not know may join across whitespace
    return splitting


# Pre-tokenizers that split wherever a non-space character meets whitespace, and the flag of
# their configuration that must be on for that.
_SPLITS_AT_WHITESPACE: dict[str, str | None] = {
    "BertPreTokenizer": None,
    "Whitespace": None,
    "WhitespaceSplit": None,
    "Metaspace": "split",
    "ByteLevel": "use_regex",
}


def truncate_ids(ids: list[int], k: int, side: str, specials: tuple[int, int]) -> list[int]:
    """``ids`` cut to ``k`` tokens on ``side``, keeping the ``specials`` (how many special
    tokens lead and trail), as the tokenizer's own truncation does."""
    if len(ids) <= k:
        return ids
    lead, trail = specials
    keep = max(k - lead - trail, 0)
    body = ids[lead : len(ids) - trail]
    body = body[:keep] if side == "right" else body[len(body) - keep :]
    return ids[:lead] + body + ids[len(ids) - trail :]


def piece_ids(
    text: str, tokenize: Callable[[str], list[int]], specials: int, need: int, side: str
) -> list[int]:
    """``tokenize`` of the shortest piece of ``text`` at ``side`` (growing fourfold) with at
    least ``need`` tokens besides its ``specials``, else of the whole text; see
    :meth:`_Server.tokenize_piece`."""
    size = need * _PROBE_CHARS_PER_TOKEN
    while size < len(text):
        piece = _piece(text, size, side)
        if piece:
            ids = tokenize(piece)
            if len(ids) - specials >= need:
                return ids
        size *= 4
    return tokenize(text)


def _piece(text: str, size: int, side: str) -> str:
    """About ``size`` characters at the ``side`` end of ``text`` ("right": a prefix ending in a
    non-space character right before whitespace; "left": a suffix starting with the whitespace
    right after a non-space character), or "" if there is no such place."""
    if side == "right":
        end = size
        while end > 0:
            end = max(text.rfind(" ", 0, end), text.rfind("\n", 0, end))
            if end > 0 and not text[end - 1].isspace():
                return text[:end]
        return ""
    start = len(text) - size
    while 0 < start < len(text):
        found = [i for i in (text.find(" ", start), text.find("\n", start)) if i >= 0]
        if not found:
            return ""
        start = min(found)
        if start > 0 and not text[start - 1].isspace():
            return text[start:]
        start += 1
    return ""


def _chunks(texts: list[str]) -> list[list[str]]:
    """``texts`` in runs of at most TOKENIZE_CHUNK_TEXTS texts and TOKENIZE_CHUNK_CHARS
    characters (a longer text is a chunk of its own)."""
    chunks: list[list[str]] = []
    run: list[str] = []
    chars = 0
    for text in texts:
        if run and (len(run) >= TOKENIZE_CHUNK_TEXTS or chars + len(text) > TOKENIZE_CHUNK_CHARS):
            chunks.append(run)
            run, chars = [], 0
        run.append(text)
        chars += len(text)
    if run:
        chunks.append(run)
    return chunks


def _before_the_schema(body: Mapping[str, Any]) -> None:
    """What vLLM (0.30+) refuses before it validates the fields, as "BadRequestError" naming
    the field in ``param`` and at the end of the message: any ``normalize`` (even null), the
    removed tasks, and a ``cache_salt`` that is empty, not a string, over 128 characters or
    holds '@', '/', '\\' or NUL."""
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
    salt = body.get("cache_salt")
    if salt is None:
        return
    if not isinstance(salt, str) or not salt:
        reason = "must be a non-empty string if provided"
    elif len(salt) > 128 or any(c in salt for c in _UNSUPPORTED_CACHE_SALT):
        reason = "must be at most 128 characters and must not contain '@', '/', '\\\\', or NUL"
    else:
        return
    raise bad_request(
        f"Parameter 'cache_salt' {reason}. (parameter=cache_salt)",
        "BadRequestError",
        param="cache_salt",
    )


def _check_beyond_schema(req: PoolingRequest, prompts: list[str] | list[list[int]]) -> None:
    """What vLLM checks once the body fits the schema. Its serving code refuses an empty
    ``input``, ``dimensions`` and other tasks as "BadRequestError", naming the field in
    ``param`` (and, since 0.32, at the end of the message)."""
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


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for answers in vLLM's error envelope."""
    why = {
        400: "The body fails the request model (type 'Bad Request', pydantic's errors as vLLM "
        "words them) or a check after it (type 'BadRequestError').",
        404: "Unknown model.",
        413: "The body is over the server's --max-body-bytes.",
        500: "The engine failed.",
    }
    return {s: {"model": ErrorResponse, "description": why[s]} for s in statuses}


_POOLING_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": PoolingResponseBody,
        "description": "Rows of scores per prompt. encoding_format bytes/bytes_only: the rows' "
        "raw bytes (bytes: with a `metadata` header in JSON).",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    },
    **_errors(400, 404, 413, 500),
}
_EMPTY_OK: dict[int | str, dict[str, Any]] = {200: {"description": "Empty body.", "content": {}}}


async def _client_gone(request: Request) -> None:
    """Returns once the client has closed the connection (the body is read by then, so
    ``receive`` says nothing else)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


class ClientGone(Exception):
    """The client left before its answer; nobody reads what is sent now."""


async def _unless_client_leaves(work: Awaitable[Response], request: Request) -> Response:
    """``work``'s answer, or :class:`ClientGone` (work cancelled) once the client has left, as
    vLLM's ``with_cancellation`` does: its queued passes are not run for nobody."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_client_gone(request))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
    if task.done() and not task.cancelled():
        return task.result()
    # FOR THE LEAD: the scheduler's way to drop a request whose client has gone. Cancelling
    # the task above already withdraws it from the batcher's queue; a scheduler that has
    # started its passes learns it here too.
    abandon = getattr(request.state.arrival, "abandon", None)
    if callable(abandon):
        abandon()
    with contextlib.suppress(BaseException):
        await task
    raise ClientGone


# Checks before the request model, as FastAPI dependencies (vLLM's order).


async def json_body(request: Request) -> Any:
    """vLLM's content-type check, then lone surrogates anywhere in the body (strings and
    keys): pydantic's ``string_unicode`` error, a 400 like every validation error."""
    media_type = request.headers.get("content-type", "").lower().split(";", 1)[0].strip()
    if media_type != "application/json":
        raise RequestValidationError(["Unsupported Media Type: Only 'application/json' is allowed"])
    raw = await request.body()
    if not raw:
        return None  # FastAPI answers the missing body
    body = await request.json()  # parsed (and cached) by FastAPI already
    if len(raw) > OFF_LOOP_BODY_BYTES:  # a walk in Python, like the parse: off the loop
        found = await asyncio.to_thread(_surrogates_in, raw, body)
    else:
        found = _surrogates_in(raw, body)
    if found:
        raise RequestValidationError(found)
    return body


def _surrogates_in(raw: bytes, body: Any) -> list[dict[str, Any]]:
    """pydantic's ``string_unicode`` errors for the lone surrogates in the decoded body."""
    return list(lone_surrogates(body)) if _may_hold_surrogates(raw) else []


def _may_hold_surrogates(raw: bytes) -> bool:
    """Whether the decoded body can hold a lone surrogate: only through a ``\\uD800``-style
    escape, UTF-8 bytes of one (``json.loads`` decodes bytes with ``surrogatepass``) or a
    UTF-16/32 body. Nearly every body is neither, and is not walked."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in raw[:4]:
        return True
    return _SURROGATE_BYTES.search(raw) is not None


_SURROGATE_BYTES = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


async def pooling_body(body: Annotated[Any, Depends(json_body)]) -> None:
    if isinstance(body, Mapping):
        _before_the_schema(body)


def create_app(
    engine: LocalEngine,
    *,
    served_model_name: str | None = None,
    api_key: str | None = None,
    max_model_len: int | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_request_tokens: int = DEFAULT_MAX_REQUEST_TOKENS,
    max_num_batched_tokens: int = DEFAULT_MAX_NUM_BATCHED_TOKENS,
    max_num_seqs: int = DEFAULT_MAX_NUM_SEQS,
    batch_window_ms: float = 0.0,
) -> Any:
    """The ASGI app serving ``engine`` over vLLM's pooling protocol (FastAPI inside).

    ``served_model_name``/``max_model_len`` default to the engine's; a smaller
    ``max_model_len`` than the engine's lowers the limit. ``api_key`` guards every route but
    ``/health``, ``/openapi.json`` and ``/docs``. Forward passes hold at most
    ``max_num_batched_tokens`` padded tokens and ``max_num_seqs`` prompts (``max_num_seqs=1``:
    no batching); ``batch_window_ms > 0`` lets a pass that is not full wait that long for
    company; see :class:`~ner_tui.core.scheduler.Scheduler`."""
    if max_model_len is not None and (
        engine.max_model_len is None or max_model_len < engine.max_model_len
    ):
        engine.max_model_len = max_model_len
    state = _Server(
        engine,
        served_model_name=served_model_name or engine.served_model_name,
        max_body_bytes=max_body_bytes,
        max_request_tokens=max_request_tokens,
        max_num_batched_tokens=max_num_batched_tokens,
        max_num_seqs=max_num_seqs,
        batch_window_ms=batch_window_ms,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.batcher.start()
        try:
            yield
        finally:
            await state.batcher.stop()
            state.tokenizer_pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(
        title="ner-tui serve",
        version=__version__,
        summary="vLLM's pooling protocol for a token-classification (NER) model.",
        lifespan=lifespan,
        redoc_url=None,
    )
    # Big bodies are parsed off the event loop, in steps (ner_tui.server.bodies).
    app.router.route_class = BodyRoute
    app.state.parsed_off_loop = state.metrics.parsed_off_loop

    # ---------------------------------------------------------------- routes

    async def pooling(request: PoolingBody, raw_request: Request) -> Response:
        state.metrics.in_flight += 1
        try:
            response = await _unless_client_leaves(
                state.pool(request, raw_request.state.arrival), raw_request
            )
        finally:
            state.metrics.in_flight -= 1
        state.metrics.finished(time.monotonic() - raw_request.state.arrived)
        return response

    for path, name in (("/pooling", "pooling"), ("/invocations", "invocations")):
        app.post(
            path,
            dependencies=[Depends(pooling_body)],
            responses=_POOLING_RESPONSES,
            response_model=None,
            operation_id=name,
            summary="Score every token of each prompt"
            + (" (SageMaker's name for /pooling)" if name == "invocations" else ""),
        )(pooling)

    @app.post(
        "/tokenize",
        dependencies=[Depends(json_body)],
        responses={200: {"model": TokenizeResponseBody}, **_errors(400, 404, 413)},
        response_model=None,
        summary="The token ids /pooling would score for a text",
    )
    async def tokenize(request: TokenizeCompletionRequest) -> Response:
        if request.model is not None and request.model != state.name:  # vLLM says more here
            raise HTTPError(
                404,
                f"The model `{request.model}` does not exist. Valid aliases: {state.name}.",
                "NotFoundError",
                param="model",
            )
        (tokens,) = await state.tokenize([request.prompt], request.add_special_tokens)

        def answer() -> dict[str, object]:
            strs = state.engine.token_strs(tokens) if request.return_token_strs else None
            return tokenize_response_json(
                TokenizeResponse(tokens, len(tokens), state.max_model_len, strs)
            )

        if len(tokens) <= _INLINE_ANSWER_TOKENS:
            return json_response(answer())
        # Every token is answered (no prefix will do here): a long answer is written off the
        # loop, in steps (ner_tui.server.bodies.dumps_in_steps), so others are not held up.
        body = await asyncio.get_running_loop().run_in_executor(
            state.tokenizer_pool, lambda: dumps_in_steps(answer())
        )
        return Response(body, media_type="application/json")

    @app.post(
        "/detokenize",
        dependencies=[Depends(json_body)],
        responses={200: {"model": DetokenizeResponseBody}, **_errors(400, 404, 413)},
        response_model=None,
        summary="The text of token ids",
    )
    async def detokenize(request: DetokenizeRequest) -> Response:
        state.check_model(request.model)
        bad = [t for t in request.tokens if t >= state.engine.vocab_size]
        if bad:
            raise bad_request(f"Token id {bad[0]} is out of vocabulary.", "BadRequestError")
        return json_response({"prompt": state.engine.detokenize(request.tokens)})

    @app.get("/v1/models", responses={200: {"model": ModelListBody}}, response_model=None)
    async def models() -> Response:
        card = dataclasses.replace(state.engine.model_card(), id=state.name)
        return json_response(model_list_json([card], created=int(state.metrics.started)))

    async def health() -> Response:
        return Response(status_code=200 if state.batcher.alive else 503)

    health_responses: dict[int | str, dict[str, Any]] = {
        **_EMPTY_OK,
        503: {"description": "The engine is not running."},
    }
    for path, method, name in (
        ("/health", "GET", "health"),
        ("/ping", "GET", "ping"),
        ("/ping", "POST", "ping_post"),
    ):
        app.api_route(
            path,
            methods=[method],
            responses=health_responses,
            response_class=Response,
            operation_id=name,
            summary="200 while the engine runs, else 503",
        )(health)

    @app.get("/version", responses={200: {"model": VersionBody}}, response_model=None)
    async def version() -> Response:
        return json_response({"version": __version__})

    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
        summary="Prometheus metrics (vllm:* names, and ner_tui_*)",
    )
    async def metrics() -> Response:
        return Response(state.metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/load", responses={200: {"model": LoadBody}}, response_model=None)
    async def load() -> Response:
        return json_response({"server_load": state.metrics.in_flight})

    # ---------------------------------------------------------------- errors

    async def invalid_body(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = list(exc.errors())
        return error_response(
            400,
            validation_error_message(errors),
            "Bad Request",
            param=validation_error_param(errors),
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPError)
        return error_response(exc.status, exc.message, exc.error_type, param=exc.param)

    async def starlette_error(request: Request, exc: Exception) -> Response:
        """404 and 405 stay FastAPI's ``{"detail": ...}`` (with ``Allow``), as on vLLM;
        anything else FastAPI raises is answered in the envelope."""
        assert isinstance(exc, HTTPException)
        if exc.status_code in (404, 405):
            response = json_response({"detail": exc.detail}, exc.status_code)
            response.headers.update(exc.headers or {})
            return response
        return error_response(exc.status_code, str(exc.detail), HTTPStatus(exc.status_code).phrase)

    async def known_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, InvalidRequest):
            return error_response(400, str(exc), "Bad Request", param=exc.param)
        if isinstance(exc, UnknownModel):
            return error_response(404, exc.message, "NotFoundError")
        if isinstance(exc, InputTooLong):
            return error_response(400, exc.message, "BadRequestError", param="input_tokens")
        if isinstance(exc, InvalidPrompt):
            return error_response(400, exc.message, "BadRequestError")
        assert isinstance(exc, NerTuiError)
        log.error("request failed: %s", exc)
        return error_response(500, exc.message, "InternalServerError")

    async def client_gone(request: Request, exc: Exception) -> Response:
        log.info("client went away during %s", request.url.path)
        return Response(status_code=499)  # nobody reads it; counted as a disconnect

    async def server_error(request: Request, exc: Exception) -> Response:
        log.error("request failed", exc_info=exc)
        return error_response(500, f"{type(exc).__name__}: {exc}", "InternalServerError")

    app.add_exception_handler(RequestValidationError, invalid_body)
    app.add_exception_handler(HTTPError, http_error)
    app.add_exception_handler(HTTPException, starlette_error)
    for known in (InvalidRequest, NerTuiError, InvalidPrompt):
        app.add_exception_handler(known, known_error)
    app.add_exception_handler(ClientGone, client_gone)
    app.add_exception_handler(Exception, server_error)

    app.openapi = _openapi(app, with_api_key=bool(api_key))  # type: ignore[method-assign]

    def opened(path: str) -> Any:
        return state.batcher.arrival() if path in ("/pooling", "/invocations") else None

    front = RequestFront(app, max_body_bytes=max_body_bytes, metrics=state.metrics, opened=opened)
    if api_key:
        return ApiKeyGuard(front, api_key)
    return front


def _openapi(app: FastAPI, *, with_api_key: bool) -> Callable[[], dict[str, Any]]:
    """The schema FastAPI writes, saying what the server really answers: a validation error
    is a 400 in vLLM's envelope (FastAPI would document a 422), and the key when one is set."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            for path_item in schema["paths"].values():
                for operation in path_item.values():
                    operation.get("responses", {}).pop("422", None)
                    if with_api_key:
                        operation["security"] = [{"bearer": []}]
            components = schema.setdefault("components", {})
            schemas = components.get("schemas", {})
            for unused in ("HTTPValidationError", "ValidationError"):
                schemas.pop(unused, None)
            if with_api_key:
                components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi
