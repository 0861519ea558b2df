"""vLLM's pooling protocol, the server's side: the request models, validation errors, encoding
answers.

The request bodies are pydantic models shaped like vLLM's own (``PoolingCompletionRequest``,
``PoolingChatRequest``, ``TokenizeCompletionRequest``, ``DetokenizeRequest``: the same fields,
types, defaults, lax coercion and ``extra="allow"``), so FastAPI validates them as vLLM does and
publishes them in ``/openapi.json``. A body that breaks them is answered 400 ``Bad Request`` in
vLLM's envelope, its message written as vLLM 0.32 writes pydantic's errors
(:func:`validation_error_message`). Rules vLLM applies after the schema (an empty ``input``,
``dimensions``, the task) live with the routes in :mod:`ner_tui.server.app`, where vLLM's
serving code has them, and answer ``BadRequestError``.

The answers are not serialized through models: :func:`pooling_response_json` and friends build
them from :mod:`ner_tui.core.protocol`'s shapes, which the HTTP client parses, with the array
codecs of :mod:`ner_tui.core.codecs`, so both sides agree byte for byte. The response models
below only document those bodies in the schema. The contract is ``docs/pooling-protocol.md``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ner_tui.core.backend import ModelCard
from ner_tui.core.codecs import encode_array, encode_array_base64
from ner_tui.core.protocol import (
    PoolingRequest,
    PoolingResponse,
    TokenizeRequest,
    TokenizeResponse,
    Usage,
    is_json_int,
)

Task = Literal[
    "embed", "classify", "token_embed", "token_classify", "plugin", "embed&token_classify"
]
EncodingFormat = Literal["float", "base64", "bytes", "bytes_only"]
EmbedDType = Literal["float32", "float16", "bfloat16", "fp8_e4m3", "fp8_e5m2"]
Endianness = Literal["native", "big", "little"]


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


class InvalidRequest(ValueError):
    """A request body that breaks the protocol's schema; answered with 400 ``Bad Request``.

    ``message`` is pydantic's errors as vLLM words them; ``param`` names the offending place
    the way vLLM's envelope does (``body.tokens.0``)."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class _Body(BaseModel):
    """vLLM's request base: unknown fields are kept, not refused (a client may send fields of
    a newer protocol)."""

    model_config = ConfigDict(extra="allow")


class _PoolingFields(_Body):
    """What every pooling request has, in vLLM's field order (the order its errors come in)."""

    add_special_tokens: bool = Field(
        default=True, description="Add the tokenizer's special tokens to a text input."
    )
    use_activation: bool | None = Field(
        default=None,
        description="Softmax probabilities (null or true) or raw logits (false).",
    )
    encoding_format: EncodingFormat = "float"
    embed_dtype: EmbedDType = Field(
        default="float32", description="The dtype of base64 and binary answers."
    )
    endianness: Endianness = Field(
        default="native", description="The byte order of base64 and binary answers."
    )
    dimensions: int | None = Field(default=None, description="Not supported: any value is a 400.")


class _PoolingTail(_Body):
    model: str | None = Field(default=None, description="The served model; null means it.")
    user: str | None = None
    truncate_prompt_tokens: Annotated[int, Field(ge=-1)] | None = Field(
        default=None,
        description="Keep this many tokens of each prompt (-1: max_model_len).",
    )
    padding: Literal["max_length", "do_not_pad"] | None = None
    truncation_side: Literal["left", "right"] | None = None
    request_id: str = Field(
        default_factory=lambda: uuid.uuid4().hex,
        description="Shown in the answer's id (pooling-<request_id>); random when not given.",
    )
    priority: int = Field(default=0, ge=-(2**63), le=2**63 - 1)
    mm_processor_kwargs: dict[str, Any] | None = None
    cache_salt: str | None = Field(
        default=None,
        description="At most 128 characters, without '@', '/', '\\' or NUL.",
    )
    task: Task | None = Field(default=None, description="null or token_classify.")


class _Input(_Body):
    input: list[int] | list[list[int]] | str | list[str] = Field(
        description="One text, a batch of texts, one prompt of token ids (used as given) or a "
        "batch of them."
    )


class PoolingCompletionRequest(_PoolingTail, _Input, _PoolingFields):
    """``POST /pooling`` with ``input``."""


class ChatMessage(_Body):
    role: str
    content: str | list[dict[str, Any]] | None = None


class _Chat(_Body):
    add_generation_prompt: bool = False
    continue_final_message: bool = False
    messages: list[ChatMessage]


class PoolingChatRequest(_PoolingTail, _Chat, _PoolingFields):
    """``POST /pooling`` with chat ``messages``, rendered with the tokenizer's chat template
    (token classifiers rarely have one: then a 400)."""

    add_special_tokens: bool = Field(
        default=False, description="The chat template has its own special tokens."
    )


# Fields come in vLLM's order (the mixins' reversed MRO: common fields, then input or
# messages, then the rest), so a body with several faults names the same field first.
PoolingBody = PoolingCompletionRequest | PoolingChatRequest


class TokenizeCompletionRequest(_Body):
    """``POST /tokenize``: the same tokenizer and defaults as ``/pooling``."""

    model: str | None = None
    prompt: str
    add_special_tokens: bool = True
    return_token_strs: bool | None = False


class DetokenizeRequest(_Body):
    """``POST /detokenize``: ids past the vocabulary pass the schema and are the route's 400."""

    model: str | None = None
    tokens: list[Annotated[int, Field(ge=0)]]


def to_pooling_request(body: PoolingCompletionRequest) -> PoolingRequest:
    """The validated body as the protocol's own request (the client builds the same)."""
    return PoolingRequest(
        input=body.input,
        model=body.model,
        task=body.task,
        encoding_format=body.encoding_format,
        embed_dtype=body.embed_dtype,
        endianness=body.endianness,
        use_activation=body.use_activation,
        add_special_tokens=body.add_special_tokens,
        truncate_prompt_tokens=body.truncate_prompt_tokens,
        truncation_side=body.truncation_side,
        dimensions=body.dimensions,
        request_id=body.request_id,
        priority=body.priority,
        user=body.user,
        cache_salt=body.cache_salt,
        padding=body.padding,
    )


def validate_pooling_request(body: object) -> PoolingRequest:
    """A decoded ``POST /pooling`` body (``input`` form) through the request model, or
    :class:`InvalidRequest` worded as the server words it."""
    try:
        return to_pooling_request(PoolingCompletionRequest.model_validate(body))
    except ValidationError as exc:
        raise _invalid(exc) from None


def validate_tokenize_request(body: object) -> TokenizeRequest:
    """A decoded ``POST /tokenize`` body, or :class:`InvalidRequest`."""
    try:
        req = TokenizeCompletionRequest.model_validate(body)
    except ValidationError as exc:
        raise _invalid(exc) from None
    return TokenizeRequest(
        prompt=req.prompt,
        model=req.model,
        add_special_tokens=req.add_special_tokens,
        return_token_strs=bool(req.return_token_strs),
    )


def _invalid(exc: ValidationError) -> InvalidRequest:
    errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
    return InvalidRequest(validation_error_message(errors), param=validation_error_param(errors))


def request_prompts(request: PoolingRequest) -> list[str] | list[list[int]]:
    """The prompts of a request as a list (one for a ``str`` or a flat id list)."""
    if isinstance(request.input, str):
        return [request.input]
    if request.input and all(is_json_int(v) for v in request.input):
        return [[int(v) for v in request.input]]  # type: ignore[arg-type]
    return list(request.input)  # type: ignore[return-value]


# --------------------------------------------------------------------------------------------
# Validation errors, worded as vLLM 0.32 words them
# --------------------------------------------------------------------------------------------

# vLLM reports at most this many errors, each clipped, and never echoes a whole container: a
# small malformed body must not make a huge answer.
_MAX_REPORTED_ERRORS = 10
_MAX_ERROR_INPUT_CHARS = 200
_MAX_ERROR_CHARS = 1000
# pydantic's own segments in an error's location (union members, wrappers), not field names.
_INTERNAL_LOC = frozenset(
    {
        "function-wrap", "function-after", "function-before", "function-plain",
        "json-or-python", "lax-or-strict", "chain", "default", "nullable", "tagged-union",
        "union", "str", "int", "float", "bool", "bytes", "list", "tuple", "dict", "none",
        *(m.__name__ for m in (PoolingCompletionRequest, PoolingChatRequest, ChatMessage)),
    }
)  # fmt: skip
_BRACKETED = re.compile(r"[\[\]{}()]")
STRING_UNICODE = "Input should be a valid string, unable to parse raw data as a unicode string"


def clean_loc(loc: Sequence[object]) -> str:
    """A pydantic location as the dotted ``param`` a client reads (``body.input.1``)."""
    parts = [str(p) for p in loc if not _BRACKETED.search(str(p)) and str(p) not in _INTERNAL_LOC]
    return ".".join(parts) if parts else ".".join(str(p) for p in loc)


def _summarize_input(value: object) -> object:
    if isinstance(value, str):
        return (
            value
            if len(value) <= _MAX_ERROR_INPUT_CHARS
            else (value[:_MAX_ERROR_INPUT_CHARS] + "...[truncated]")
        )
    if isinstance(value, (bytes, bytearray)):
        return f"<{type(value).__name__} of {len(value)} bytes>"
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        return f"<{type(value).__name__} of {len(value)} items>"
    try:
        text = str(value)
    except ValueError:  # an int too long to print
        return f"<{type(value).__name__}>"
    return (
        text
        if len(text) <= _MAX_ERROR_INPUT_CHARS
        else (text[:_MAX_ERROR_INPUT_CHARS] + "...[truncated]")
    )


def _format_error(error: object) -> str:
    if isinstance(error, Mapping):
        error = dict(error)
        if "input" in error:
            error["input"] = _summarize_input(error["input"])
        if isinstance(error.get("loc"), (tuple, list)):
            error["loc"] = clean_loc(error["loc"])
    text = str(error)
    return text if len(text) <= _MAX_ERROR_CHARS else text[:_MAX_ERROR_CHARS] + "...[truncated]"


def validation_error_message(errors: Sequence[object]) -> str:
    """``N validation error(s):`` and one line per error (at most ten), as vLLM answers a body
    that fails its request model."""
    if not errors:
        return "Validation error"
    label = "error" if len(errors) == 1 else "errors"
    lines = [f"{len(errors)} validation {label}:"]
    lines += [f"  {_format_error(e)}" for e in errors[:_MAX_REPORTED_ERRORS]]
    if len(errors) > _MAX_REPORTED_ERRORS:
        lines.append(f"  ...and {len(errors) - _MAX_REPORTED_ERRORS} more {label}")
    return "\n".join(lines)


def validation_error_param(errors: Sequence[object]) -> str | None:
    """Where the first error is (vLLM's ``param``), or None when it has no location."""
    first = errors[0] if errors else None
    loc = first.get("loc") if isinstance(first, Mapping) else None
    return clean_loc(loc) if loc else None


_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogates(body: object) -> Iterator[dict[str, object]]:
    """pydantic's ``string_unicode`` error for each string (or key) in a decoded JSON body
    that holds a lone surrogate.

    JSON may escape one (``"\\ud800"``) and Python decodes it into a string that cannot be
    encoded again, so it would fail deep inside (tokenizing, logging, writing the answer) as a
    500. vLLM answers such a key with this error; here every string gets it, wherever it is.
    Iterative, so no nesting depth the JSON decoder accepted can overflow it."""
    stack: list[tuple[object, tuple[object, ...]]] = [(body, ("body",))]
    while stack:
        value, loc = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                yield _unicode_error(loc, value)
        elif isinstance(value, list):
            stack.extend((item, (*loc, i)) for i, item in reversed(list(enumerate(value))))
        elif isinstance(value, dict):
            pending = []
            for key, item in value.items():
                if _SURROGATE.search(key):
                    yield _unicode_error(loc, key)
                pending.append((item, (*loc, key)))
            stack.extend(reversed(pending))


def _unicode_error(loc: tuple[object, ...], value: str) -> dict[str, object]:
    return {"type": "string_unicode", "loc": loc, "msg": STRING_UNICODE, "input": value}


# --------------------------------------------------------------------------------------------
# Response models: what /openapi.json says the answers are (they are encoded below, not here)
# --------------------------------------------------------------------------------------------


class ErrorInfo(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: int


class ErrorResponse(BaseModel):
    """vLLM's error envelope (>= 0.10.1): ``code`` is the HTTP status."""

    error: ErrorInfo


class NotFound(BaseModel):
    """FastAPI's answer for a path or method the server does not have."""

    detail: str


class UsageInfo(BaseModel):
    prompt_tokens: int
    total_tokens: int
    completion_tokens: int | None = 0
    prompt_tokens_details: dict[str, Any] | None = None
    completion_tokens_details: dict[str, Any] | None = None


class PoolingResponseData(BaseModel):
    index: int
    object: Literal["pooling"] = "pooling"
    data: list[list[float]] | str = Field(
        description="One row per token (specials included), or its base64 (encoding_format)."
    )


class PoolingResponseBody(BaseModel):
    """``POST /pooling`` with ``encoding_format`` float or base64. (``bytes``/``bytes_only``:
    the rows' raw bytes, application/octet-stream, with a ``metadata`` header for bytes.)"""

    id: str
    object: Literal["list"] = "list"
    created: int
    model: str
    data: list[PoolingResponseData]
    usage: UsageInfo


class TokenizeResponseBody(BaseModel):
    count: int
    max_model_len: int | None
    tokens: list[int]
    token_strs: list[str] | None = None


class DetokenizeResponseBody(BaseModel):
    prompt: str


class ModelCardBody(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    root: str | None
    parent: str | None
    max_model_len: int | None
    permission: list[dict[str, Any]]


class ModelListBody(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCardBody]


class VersionBody(BaseModel):
    version: str


class LoadBody(BaseModel):
    server_load: int


# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------


def usage_json(usage: Usage) -> dict[str, object]:
    """``usage`` as vLLM sends it (0.30+ adds ``completion_tokens_details``)."""
    return {
        "prompt_tokens": usage.prompt_tokens,
        "total_tokens": usage.total_tokens,
        "completion_tokens": usage.completion_tokens,
        "prompt_tokens_details": None,
        "completion_tokens_details": None,
    }


def pooling_response_json(
    response: PoolingResponse,
    encoding_format: str = "float",
    embed_dtype: str = "float32",
    endianness: str = "native",
) -> dict[str, object]:
    """The JSON body for ``float`` or ``base64`` (:func:`pooling_response_bytes` for the
    others)."""
    if encoding_format == "float":
        items: list[object] = [np.asarray(a, dtype=np.float32).tolist() for a in response.data]
    elif encoding_format == "base64":
        items = [encode_array_base64(a, embed_dtype, endianness) for a in response.data]
    else:
        raise ValueError(f"JSON serves 'float' and 'base64', not {encoding_format!r}")
    return {
        "id": response.id,
        "object": "list",
        "created": response.created,
        "model": response.model,
        "data": [{"index": i, "object": "pooling", "data": item} for i, item in enumerate(items)],
        "usage": usage_json(response.usage),
    }


def pooling_response_bytes(
    response: PoolingResponse, embed_dtype: str = "float32", endianness: str = "native"
) -> tuple[bytes, str]:
    """The ``bytes`` body (items concatenated) and the JSON of its ``metadata`` header."""
    chunks: list[bytes] = []
    items: list[dict[str, object]] = []
    offset = 0
    for i, arr in enumerate(response.data):
        raw = encode_array(arr, embed_dtype, endianness)
        items.append(
            {
                "index": i,
                "embed_dtype": embed_dtype,
                "endianness": endianness,
                "start": offset,
                "end": offset + len(raw),
                "shape": list(np.shape(arr)),
            }
        )
        chunks.append(raw)
        offset += len(raw)
    metadata = {
        "id": response.id,
        "created": response.created,
        "model": response.model,
        "data": items,
        # vLLM's metadata header carries only these two counts (seen on 0.32).
        "usage": {
            "prompt_tokens": response.usage.prompt_tokens,
            "total_tokens": response.usage.total_tokens,
        },
    }
    return b"".join(chunks), json.dumps(metadata, separators=(",", ":"))


def tokenize_response_json(response: TokenizeResponse) -> dict[str, object]:
    """A ``POST /tokenize`` answer."""
    return {
        "count": response.count,
        "max_model_len": response.max_model_len,
        "tokens": list(response.tokens),
        "token_strs": response.token_strs,
    }


def model_list_json(cards: Sequence[ModelCard], *, created: int = 0) -> dict[str, object]:
    """A ``GET /v1/models`` body, shaped like vLLM's."""
    return {
        "object": "list",
        "data": [
            {
                "id": c.id,
                "object": "model",
                "created": created,
                "owned_by": "vllm",
                "root": c.root if c.root is not None else c.id,
                "parent": None,
                "max_model_len": c.max_model_len,
                "permission": [],
            }
            for c in cards
        ],
    }


def error_json(
    message: str, error_type: str, status: int, *, param: str | None = None, flat: bool = False
) -> dict[str, object]:
    """An error body: nested (vLLM >= 0.10.1) or ``flat`` (earlier)."""
    if flat:
        return {
            "object": "error",
            "message": message,
            "type": error_type,
            "param": param,
            "code": status,
        }
    return {"error": {"message": message, "type": error_type, "param": param, "code": status}}
