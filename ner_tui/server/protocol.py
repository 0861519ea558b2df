"""vLLM's pooling protocol, the server's side: validating request bodies, encoding answers.

What a request may hold is checked here the way vLLM's pydantic request models check it
(literal sets, types, ``Field required``); a body that breaks it is :class:`InvalidRequest`,
which the app answers with 400 ``Bad Request``. Rules vLLM applies after the schema (an empty
``input``, ``dimensions``, the task) live with the routes in :mod:`ner_tui.server.app`, where
vLLM's serving code has them, and answer ``BadRequestError``.

The request and response shapes themselves are :mod:`ner_tui.core.protocol`'s, which the HTTP
client builds and parses; the array codecs are :mod:`ner_tui.core.codecs`, so both sides agree
byte for byte. The contract is ``docs/pooling-protocol.md``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ner_tui.core.backend import ModelCard
from ner_tui.core.codecs import EMBED_DTYPES, ENDIANNESS, encode_array, encode_array_base64
from ner_tui.core.protocol import (
    ENCODING_FORMATS,
    PoolingRequest,
    PoolingResponse,
    PromptInput,
    TokenizeRequest,
    TokenizeResponse,
    Usage,
    describe_value,
    is_json_int,
)

Task = Literal[
    "token_classify", "classify", "embed", "token_embed", "plugin", "embed&token_classify"
]
TASKS: tuple[Task, ...] = (
    "token_classify",
    "classify",
    "embed",
    "token_embed",
    "plugin",
    "embed&token_classify",
)
TRUNCATION_SIDES: tuple[str, ...] = ("left", "right")
PADDINGS: tuple[str, ...] = ("max_length", "do_not_pad")


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


class InvalidRequest(ValueError):
    """A request body that breaks the protocol's schema; answered with 400 ``Bad Request``.

    Literal violations say ``literal_error``, the way vLLM's (pydantic) messages do. ``param``
    names the offending place the way vLLM's envelope does (``body.tokens.0``), when known."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


_UNSET: object = object()


def _literal_error(field_name: str, value: object, allowed: Sequence[str]) -> InvalidRequest:
    options = ", ".join(repr(a) for a in allowed[:-1]) + f" or {allowed[-1]!r}"
    return InvalidRequest(
        f"1 validation error for PoolingRequest\n{field_name}\n  Input should be {options} "
        f"[type=literal_error, input_value={value!r}, input_type={type(value).__name__}]",
        param=f"body.{field_name}",
    )


def _optional_str(body: Mapping[str, object], name: str) -> str | None:
    """``body[name]`` when it is a string or missing/null, else :class:`InvalidRequest`."""
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f"{name} must be a string or null, got {describe_value(value)}")
    return value


def _object(body: object) -> Mapping[str, object]:
    if not isinstance(body, Mapping):
        raise InvalidRequest(f"the request body must be a JSON object, got {describe_value(body)}")
    return body


def _check_input(value: object) -> PromptInput:
    """``input`` as one of its four allowed forms, or :class:`InvalidRequest`.

    ``[]`` fits the schema (an empty list of ids); that it holds no prompt is the serving
    code's 400, as on vLLM."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise InvalidRequest(
            f"input must be a string, a list of strings, a list of token ids or a list of "
            f"token-id lists; got {describe_value(value)}",
            param="body.input",
        )
    if not value:
        return []
    if all(isinstance(v, str) for v in value):
        return list(value)
    if all(is_json_int(v) for v in value):
        return [int(v) for v in value]
    if all(isinstance(v, list) and all(is_json_int(t) for t in v) for v in value):
        return [[int(t) for t in v] for v in value]
    raise InvalidRequest(
        "input must be a string, a list of strings, a list of token ids or a list of "
        f"token-id lists, not a mixture; got {describe_value(value)}",
        param="body.input",
    )


def validate_pooling_request(body: object) -> PoolingRequest:
    """A decoded ``POST /pooling`` body checked against the schema, as vLLM's request model
    does; unknown fields are ignored. Raises :class:`InvalidRequest`."""
    body = _object(body)
    if "input" not in body:
        raise InvalidRequest(
            "1 validation error for PoolingRequest\ninput\n  Field required [type=missing]",
            param="body.input",
        )
    kwargs: dict[str, Any] = {"input": _check_input(body["input"])}
    literals: dict[str, Sequence[str]] = {
        "encoding_format": ENCODING_FORMATS,
        "embed_dtype": EMBED_DTYPES,
        "endianness": ENDIANNESS,
    }
    for name, allowed in literals.items():
        if name in body and body[name] is not None:
            if body[name] not in allowed:
                raise _literal_error(name, body[name], allowed)
            kwargs[name] = body[name]
    optional_literals: dict[str, Sequence[str]] = {
        "task": TASKS,
        "truncation_side": TRUNCATION_SIDES,
        "padding": PADDINGS,
    }
    for name, allowed in optional_literals.items():
        value = body.get(name)
        if value is not None and value not in allowed:
            raise _literal_error(name, value, allowed)
        kwargs[name] = value
    for name in ("model", "request_id", "user", "cache_salt"):
        kwargs[name] = _optional_str(body, name)
    for name in ("use_activation", "add_special_tokens"):
        value = body.get(name, _UNSET)
        if value is _UNSET or (value is None and name == "use_activation"):
            continue
        if not isinstance(value, bool):
            raise InvalidRequest(f"{name} must be true or false, got {describe_value(value)}")
        kwargs[name] = value
    truncate = body.get("truncate_prompt_tokens")
    if truncate is not None and (not is_json_int(truncate) or truncate < -1):
        raise InvalidRequest(
            "truncate_prompt_tokens must be an integer >= -1 or null, got "
            f"{describe_value(truncate)}",
            param="body.truncate_prompt_tokens",
        )
    kwargs["truncate_prompt_tokens"] = truncate
    dimensions = body.get("dimensions")
    if dimensions is not None and not is_json_int(dimensions):
        raise InvalidRequest(
            f"dimensions must be an integer or null, got {describe_value(dimensions)}"
        )
    kwargs["dimensions"] = dimensions
    priority = body.get("priority", 0)
    if not is_json_int(priority):
        raise InvalidRequest(f"priority must be an integer, got {describe_value(priority)}")
    kwargs["priority"] = priority
    return PoolingRequest(**kwargs)


def request_prompts(request: PoolingRequest) -> list[str] | list[list[int]]:
    """The prompts of a request as a list (one for a ``str`` or a flat id list)."""
    if isinstance(request.input, str):
        return [request.input]
    if request.input and all(is_json_int(v) for v in request.input):
        return [[int(v) for v in request.input]]  # type: ignore[arg-type]
    return list(request.input)  # type: ignore[return-value]


def validate_tokenize_request(body: object) -> TokenizeRequest:
    """A decoded ``POST /tokenize`` body (completion form), or :class:`InvalidRequest`."""
    body = _object(body)
    prompt = body.get("prompt")
    if not isinstance(prompt, str):
        raise InvalidRequest(f"prompt must be a string, got {describe_value(prompt)}")
    model = _optional_str(body, "model")
    flags = {}
    for name, default in (("add_special_tokens", True), ("return_token_strs", False)):
        value = body.get(name, default)
        if not isinstance(value, bool):
            raise InvalidRequest(f"{name} must be true or false, got {describe_value(value)}")
        flags[name] = value
    return TokenizeRequest(prompt=prompt, model=model, **flags)


@dataclass(frozen=True, slots=True)
class DetokenizeRequest:
    """The body of ``POST /detokenize``."""

    tokens: list[int]
    model: str | None = None


def validate_detokenize_request(body: object) -> DetokenizeRequest:
    """A decoded ``POST /detokenize`` body, or :class:`InvalidRequest`.

    A negative id fails the schema, as on vLLM (whose ``tokens`` are ``list[NonNegativeInt]``):
    pydantic's ``greater_than_equal`` error, ``param`` ``body.tokens.<i>``. An id past the
    vocabulary passes here and is the route's 400."""
    body = _object(body)
    tokens = body.get("tokens")
    if not isinstance(tokens, list) or not all(is_json_int(t) for t in tokens):
        raise InvalidRequest(f"tokens must be a list of integers, got {describe_value(tokens)}")
    for i, token in enumerate(tokens):
        if token < 0:
            raise InvalidRequest(
                f"1 validation error for DetokenizeRequest\ntokens.{i}\n  Input should be "
                f"greater than or equal to 0 [type=greater_than_equal, input_value={token!r}, "
                "input_type=int]",
                param=f"body.tokens.{i}",
            )
    model = _optional_str(body, "model")
    return DetokenizeRequest(tokens=[int(t) for t in tokens], model=model)


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
