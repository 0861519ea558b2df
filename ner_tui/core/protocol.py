"""vLLM's pooling protocol as plain data: request/response models, error envelopes, array codecs.

Array codecs live in :mod:`ner_tui.core.codecs` (re-exported here).
Shared by the HTTP client (:mod:`ner_tui.core.client`) and ner-tui's own server
(:mod:`ner_tui.server`), so both sides validate against the same literal sets and encode
arrays byte-for-byte the same way. The contract is ``docs/pooling-protocol.md``.

Only numpy here: no httpx, no pydantic. Parse functions raise
:class:`~ner_tui.core.errors.MalformedResponse` saying what was expected and what arrived.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal, TypeGuard

import numpy as np

from ner_tui.core.backend import ModelCard
from ner_tui.core.codecs import (
    BYTEORDER,
    EMBED_DTYPES,
    ENDIANNESS,
    ITEMSIZE,
    check_codec_args,
    decode_array,
    encode_array,
    encode_array_base64,
)
from ner_tui.core.codecs import decode_array_base64 as decode_array_base64  # re-export
from ner_tui.core.errors import MalformedResponse

EncodingFormat = Literal["float", "base64", "bytes", "bytes_only"]
Task = Literal[
    "token_classify", "classify", "embed", "token_embed", "plugin", "embed&token_classify"
]

ENCODING_FORMATS: tuple[EncodingFormat, ...] = ("float", "base64", "bytes", "bytes_only")
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


def _describe(value: object) -> str:
    """A short description of a JSON value for error messages (type and a clipped repr)."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


class InvalidRequest(ValueError):
    """A request body that breaks the protocol; a server answers it with 400 ``Bad Request``.

    Literal violations say ``literal_error``, the way vLLM's (pydantic) messages do. ``param``
    names the field at fault as vLLM's error body does (``body.encoding_format``)."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


PromptInput = str | list[str] | list[int] | list[list[int]]

_UNSET: object = object()


def _literal_error(field_name: str, value: object, allowed: Sequence[str]) -> InvalidRequest:
    options = ", ".join(repr(a) for a in allowed[:-1]) + f" or {allowed[-1]!r}"
    return InvalidRequest(
        f"1 validation error for PoolingRequest\n{field_name}\n  Input should be {options} "
        f"[type=literal_error, input_value={value!r}, input_type={type(value).__name__}]",
        param=f"body.{field_name}",
    )


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _optional_str(body: Mapping[str, object], name: str) -> str | None:
    """``body[name]`` when it is a string or missing/null, else :class:`InvalidRequest`."""
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f"{name} must be a string or null, got {_describe(value)}")
    return value


def _check_input(value: object) -> PromptInput:
    """``input`` as one of its four allowed forms, or :class:`InvalidRequest`."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise InvalidRequest(
            f"input must be a string, a list of strings, a list of token ids or a list of "
            f"token-id lists; got {_describe(value)}",
            param="body.input",
        )
    if not value:
        raise InvalidRequest("You must pass at least one prompt")
    if all(isinstance(v, str) for v in value):
        return list(value)
    if all(_is_int(v) for v in value):
        return [int(v) for v in value]
    if all(isinstance(v, list) and all(_is_int(t) for t in v) for v in value):
        return [[int(t) for t in v] for v in value]
    raise InvalidRequest(
        "input must be a string, a list of strings, a list of token ids or a list of "
        f"token-id lists, not a mixture; got {_describe(value)}",
        param="body.input",
    )


@dataclass(frozen=True, slots=True)
class PoolingRequest:
    """The body of ``POST /pooling``. Defaults are the protocol's; :meth:`to_json` sends only
    ``input`` and the fields that differ from their default."""

    input: PromptInput
    model: str | None = None
    task: str | None = None
    encoding_format: str = "float"
    embed_dtype: str = "float32"
    endianness: str = "native"
    use_activation: bool | None = None
    add_special_tokens: bool = True
    truncate_prompt_tokens: int | None = None
    truncation_side: str | None = None
    dimensions: int | None = None
    request_id: str | None = None
    priority: int = 0
    user: str | None = None
    cache_salt: str | None = None
    padding: str | None = None

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = {"input": self.input}
        for f in fields(self):
            if f.name == "input":
                continue
            value = getattr(self, f.name)
            if value != f.default:
                body[f.name] = value
        return body

    @property
    def prompts(self) -> list[str] | list[list[int]]:
        """The prompts of this request as a list (one for ``str`` or a flat id list)."""
        if isinstance(self.input, str):
            return [self.input]
        if self.input and all(_is_int(v) for v in self.input):
            return [[int(v) for v in self.input]]  # type: ignore[arg-type]
        return list(self.input)  # type: ignore[return-value]

    @classmethod
    def from_json(cls, body: object) -> PoolingRequest:
        """Validate a decoded JSON body as vLLM does; unknown fields are ignored.

        Raises :class:`InvalidRequest` with a message a server can return as its 400."""
        if not isinstance(body, Mapping):
            raise InvalidRequest(f"the request body must be a JSON object, got {_describe(body)}")
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
                raise InvalidRequest(f"{name} must be true or false, got {_describe(value)}")
            kwargs[name] = value
        truncate = body.get("truncate_prompt_tokens")
        if truncate is not None and (not _is_int(truncate) or truncate < -1):
            raise InvalidRequest(
                "truncate_prompt_tokens must be an integer >= -1 or null, got "
                f"{_describe(truncate)}",
                param="body.truncate_prompt_tokens",
            )
        kwargs["truncate_prompt_tokens"] = truncate
        if body.get("dimensions") is not None:
            raise InvalidRequest("dimensions is currently not supported")
        priority = body.get("priority", 0)
        if not _is_int(priority):
            raise InvalidRequest(f"priority must be an integer, got {_describe(priority)}")
        kwargs["priority"] = priority
        return cls(**kwargs)


@dataclass(frozen=True, slots=True)
class TokenizeRequest:
    """The body of ``POST /tokenize`` (completion form)."""

    prompt: str
    model: str | None = None
    add_special_tokens: bool = True
    return_token_strs: bool = False

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = {"prompt": self.prompt}
        if self.model is not None:
            body["model"] = self.model
        body["add_special_tokens"] = self.add_special_tokens
        if self.return_token_strs:
            body["return_token_strs"] = True
        return body

    @classmethod
    def from_json(cls, body: object) -> TokenizeRequest:
        if not isinstance(body, Mapping):
            raise InvalidRequest(f"the request body must be a JSON object, got {_describe(body)}")
        prompt = body.get("prompt")
        if not isinstance(prompt, str):
            raise InvalidRequest(f"prompt must be a string, got {_describe(prompt)}")
        model = _optional_str(body, "model")
        flags = {}
        for name, default in (("add_special_tokens", True), ("return_token_strs", False)):
            value = body.get(name, default)
            if not isinstance(value, bool):
                raise InvalidRequest(f"{name} must be true or false, got {_describe(value)}")
            flags[name] = value
        return cls(prompt=prompt, model=model, **flags)


@dataclass(frozen=True, slots=True)
class DetokenizeRequest:
    """The body of ``POST /detokenize``."""

    tokens: list[int]
    model: str | None = None

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = {"tokens": list(self.tokens)}
        if self.model is not None:
            body["model"] = self.model
        return body

    @classmethod
    def from_json(cls, body: object) -> DetokenizeRequest:
        if not isinstance(body, Mapping):
            raise InvalidRequest(f"the request body must be a JSON object, got {_describe(body)}")
        tokens = body.get("tokens")
        if not isinstance(tokens, list) or not all(_is_int(t) for t in tokens):
            raise InvalidRequest(f"tokens must be a list of integers, got {_describe(tokens)}")
        model = _optional_str(body, "model")
        return cls(tokens=[int(t) for t in tokens], model=model)


# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Usage:
    """``usage`` of a pooling response: tokens over all prompts, special tokens included."""

    prompt_tokens: int = 0
    total_tokens: int = 0
    completion_tokens: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "total_tokens": self.total_tokens,
            "completion_tokens": self.completion_tokens,
            "prompt_tokens_details": None,
            "completion_tokens_details": None,
        }

    @classmethod
    def from_json(cls, body: object) -> Usage:
        """Lenient: a missing or partial ``usage`` counts as zeros (not every server sends it)."""
        if not isinstance(body, Mapping):
            return cls()
        counts = {}
        for name in ("prompt_tokens", "total_tokens", "completion_tokens"):
            value = body.get(name, 0)
            if value is None:
                value = 0
            if not _is_int(value) or value < 0:
                raise MalformedResponse(
                    f"usage.{name}: expected a non-negative integer, got {_describe(value)}"
                )
            counts[name] = value
        return cls(**counts)


@dataclass(frozen=True, slots=True)
class PoolingResponse:
    """A pooling response: one float32 ``(tokens, labels)`` array per prompt, in prompt order."""

    data: list[np.ndarray]
    model: str
    id: str = ""
    created: int = 0
    usage: Usage = field(default_factory=Usage)

    def to_json(
        self,
        encoding_format: str = "float",
        embed_dtype: str = "float32",
        endianness: str = "native",
    ) -> dict[str, object]:
        """The JSON body for ``float`` or ``base64`` (use :meth:`to_bytes` for the others)."""
        if encoding_format == "float":
            items: list[object] = [np.asarray(a, dtype=np.float32).tolist() for a in self.data]
        elif encoding_format == "base64":
            items = [encode_array_base64(a, embed_dtype, endianness) for a in self.data]
        else:
            raise ValueError(f"to_json serves 'float' and 'base64', not {encoding_format!r}")
        return {
            "id": self.id,
            "object": "list",
            "created": self.created,
            "model": self.model,
            "data": [
                {"index": i, "object": "pooling", "data": item} for i, item in enumerate(items)
            ],
            "usage": self.usage.to_json(),
        }

    def to_bytes(
        self, embed_dtype: str = "float32", endianness: str = "native"
    ) -> tuple[bytes, str]:
        """The ``bytes`` body (items concatenated) and the JSON of its ``metadata`` header."""
        chunks: list[bytes] = []
        items: list[dict[str, object]] = []
        offset = 0
        for i, arr in enumerate(self.data):
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
            "id": self.id,
            "created": self.created,
            "model": self.model,
            "data": items,
            # vLLM's metadata header carries only these two counts (seen on 0.32).
            "usage": {
                "prompt_tokens": self.usage.prompt_tokens,
                "total_tokens": self.usage.total_tokens,
            },
        }
        return b"".join(chunks), json.dumps(metadata, separators=(",", ":"))


def load_json(body: object, what: str = "response") -> object:
    """``body`` decoded from bytes/str as JSON, or as given when it is already decoded."""
    if isinstance(body, (bytes, bytearray, memoryview)):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedResponse(f"{what}: expected JSON text, got undecodable bytes") from None
    if isinstance(body, str):
        try:
            return json.loads(body)
        except ValueError:
            snippet = body.strip()[:80] or "an empty body"
            raise MalformedResponse(f"{what}: expected JSON, got {snippet!r}") from None
    return body


def _float_rows(value: object, where: str) -> np.ndarray:
    """A float-encoded item: a 2-D list of numbers, as float32."""
    if not isinstance(value, list):
        raise MalformedResponse(f"{where}: expected a list of rows, got {_describe(value)}")
    try:
        arr = np.array(value)
    except ValueError:
        lengths = sorted({len(r) if isinstance(r, list) else -1 for r in value})
        raise MalformedResponse(
            f"{where}: ragged rows (row lengths {lengths[:6]}); every token row must have "
            "one score per label"
        ) from None
    if arr.ndim != 2:
        shape = "an empty list" if arr.size == 0 else f"a {arr.ndim}-D array {list(arr.shape)}"
        raise MalformedResponse(
            f"{where}: expected rows [tokens][labels] (2-D), got {shape}; "
            "is the server's task token_classify?"
        )
    if arr.dtype.kind not in "fiu":
        raise MalformedResponse(
            f"{where}: expected numbers, got values of type {arr.dtype.kind!r} "
            f"(first row {_describe(value[0])})"
        )
    return arr.astype(np.float32)


def _infer_labels(
    sizes: Sequence[int],
    token_counts: Sequence[int | None] | None,
    num_labels: int | None,
    usage: Usage,
    what: str,
) -> int:
    """How many labels (columns) items of ``sizes`` scalar values have."""
    if num_labels is not None:
        return num_labels
    total = sum(sizes)
    if token_counts is not None and all(n for n in token_counts):
        tokens = sum(n for n in token_counts if n)
    elif usage.prompt_tokens > 0:
        tokens = usage.prompt_tokens
    else:
        raise MalformedResponse(
            f"{what} carries no shape and neither the token counts, usage.prompt_tokens nor "
            "the number of labels is known, so the rows cannot be recovered"
        )
    if total % tokens:
        raise MalformedResponse(
            f"{what}: {total} values do not split into rows for {tokens} tokens"
        )
    return total // tokens


def _check_item_count(n: int, expected_items: int | None, what: str) -> None:
    if expected_items is not None and n != expected_items:
        raise MalformedResponse(
            f"{what}: expected {expected_items} item(s), one per prompt, got {n}"
        )


def parse_pooling_response(
    body: object,
    *,
    embed_dtype: str = "float32",
    endianness: str = "native",
    expected_items: int | None = None,
    token_counts: Sequence[int | None] | None = None,
    num_labels: int | None = None,
) -> PoolingResponse:
    """Parse a JSON pooling response (``float`` or ``base64`` form) into float32 arrays.

    ``body`` is raw bytes/str or decoded JSON. A base64 item has no shape: its row length is
    ``num_labels`` when given, else values / tokens, with tokens from ``token_counts`` (the
    prompts' lengths, when known) or ``usage.prompt_tokens``."""
    doc = load_json(body, "pooling response")
    if not isinstance(doc, Mapping):
        raise MalformedResponse(f"pooling response: expected a JSON object, got {_describe(doc)}")
    if "data" not in doc:
        keys = sorted(doc)[:8]
        raise MalformedResponse(f"pooling response: expected a 'data' list, got keys {keys}")
    data = doc["data"]
    if not isinstance(data, list):
        raise MalformedResponse(f"pooling response: 'data' should be a list, got {_describe(data)}")
    _check_item_count(len(data), expected_items, "pooling response")
    usage = Usage.from_json(doc.get("usage"))
    order = _item_order(data, "pooling response")
    arrays: list[np.ndarray | None] = [None] * len(data)
    encoded: dict[int, bytes] = {}
    for pos, item in enumerate(data):
        index = order[pos]
        where = f"data[{pos}].data"
        value = item["data"]
        if isinstance(value, str):
            try:
                encoded[index] = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise MalformedResponse(
                    f"{where}: expected base64 text, got {len(value)} characters that do not decode"
                ) from None
        else:
            arrays[index] = _float_rows(value, where)
    if encoded:
        check_codec_args(embed_dtype, endianness)
        itemsize = ITEMSIZE[embed_dtype]
        sizes = [len(raw) // itemsize for raw in encoded.values()]
        counts = [token_counts[i] for i in encoded] if token_counts is not None else None
        labels = _infer_labels(sizes, counts, num_labels, usage, "base64 pooling response")
        for index, raw in encoded.items():
            if len(raw) % (itemsize * labels):
                raise MalformedResponse(
                    f"data[{index}]: {len(raw)} bytes of base64 do not hold whole rows of "
                    f"{labels} {embed_dtype} values ({itemsize * labels} bytes per row)"
                )
            arrays[index] = decode_array(raw, embed_dtype, endianness, (-1, labels))
    model = doc.get("model")
    return PoolingResponse(
        data=[a for a in arrays if a is not None],
        model=model if isinstance(model, str) else "",
        id=str(doc.get("id") or ""),
        created=_int_or_zero(doc.get("created")),
        usage=usage,
    )


def _int_or_zero(value: object) -> int:
    return int(value) if _is_int(value) else 0


def _item_order(data: list[object], what: str) -> list[int]:
    """Where each item of ``data`` belongs (its ``index``), checked to be a permutation."""
    order: list[int] = []
    for pos, item in enumerate(data):
        if not isinstance(item, Mapping) or "data" not in item:
            raise MalformedResponse(
                f"{what}: data[{pos}] should be an object with a 'data' field, "
                f"got {_describe(item)}"
            )
        index = item.get("index", pos)
        order.append(index if _is_int(index) else -1)
    if sorted(order) != list(range(len(data))):
        raise MalformedResponse(
            f"{what}: item indexes should be 0..{len(data) - 1} once each, got {order[:10]}"
        )
    return order


def parse_pooling_bytes(
    body: bytes,
    metadata: str | bytes | Mapping[str, object] | None,
    *,
    embed_dtype: str = "float32",
    endianness: str = "native",
    expected_items: int | None = None,
    token_counts: Sequence[int | None] | None = None,
    num_labels: int | None = None,
) -> PoolingResponse:
    """Parse a ``bytes`` (with its ``metadata`` header) or ``bytes_only`` (``metadata=None``)
    pooling response. Without metadata the items are cut by ``token_counts`` (and the row
    length is ``num_labels`` or inferred); a single item needs only one of the two."""
    if metadata is None:
        return _parse_bytes_only(
            body, embed_dtype, endianness, expected_items, token_counts, num_labels
        )
    meta = load_json(metadata, "metadata header")
    if not isinstance(meta, Mapping) or not isinstance(meta.get("data"), list):
        raise MalformedResponse(
            f"metadata header: expected an object with a 'data' list, got {_describe(meta)}"
        )
    items = meta["data"]
    _check_item_count(len(items), expected_items, "bytes pooling response")
    order = _item_order(
        [{"data": None, **i} if isinstance(i, Mapping) else i for i in items], "metadata header"
    )
    arrays: list[np.ndarray | None] = [None] * len(items)
    for pos, item in enumerate(items):
        where = f"metadata data[{pos}]"
        dtype, order_name = item.get("embed_dtype", embed_dtype), item.get("endianness", endianness)
        start, end, shape = item.get("start"), item.get("end"), item.get("shape")
        if dtype not in ITEMSIZE or order_name not in BYTEORDER:
            raise MalformedResponse(
                f"{where}: unknown embed_dtype/endianness {dtype!r}/{order_name!r}"
            )
        if not (_is_int(start) and _is_int(end) and 0 <= start <= end <= len(body)):
            raise MalformedResponse(
                f"{where}: start/end {start!r}/{end!r} do not lie within the {len(body)}-byte body"
            )
        if not (isinstance(shape, list) and len(shape) == 2 and all(_is_int(s) for s in shape)):
            raise MalformedResponse(
                f"{where}: expected a 2-D shape [tokens, labels], got {_describe(shape)}"
            )
        arrays[order[pos]] = decode_array(body[start:end], dtype, order_name, shape)
    usage = Usage.from_json(meta.get("usage"))
    model = meta.get("model")
    return PoolingResponse(
        data=[a for a in arrays if a is not None],
        model=model if isinstance(model, str) else "",
        id=str(meta.get("id") or ""),
        created=_int_or_zero(meta.get("created")),
        usage=usage,
    )


def _parse_bytes_only(
    body: bytes,
    embed_dtype: str,
    endianness: str,
    expected_items: int | None,
    token_counts: Sequence[int | None] | None,
    num_labels: int | None,
) -> PoolingResponse:
    check_codec_args(embed_dtype, endianness)
    itemsize = ITEMSIZE[embed_dtype]
    n_items = expected_items if expected_items is not None else 1
    if len(body) % itemsize:
        raise MalformedResponse(
            f"bytes_only pooling response: {len(body)} bytes cannot hold {embed_dtype} values"
        )
    total = len(body) // itemsize
    counts = list(token_counts) if token_counts is not None else None
    if n_items == 1:
        labels = _infer_labels([total], counts, num_labels, Usage(), "bytes_only response")
        if labels <= 0 or total % labels:
            raise MalformedResponse(
                f"bytes_only pooling response: {total} values do not make rows of {labels}"
            )
        arrays = [decode_array(body, embed_dtype, endianness, (-1, labels))]
    else:
        if counts is None or len(counts) != n_items or not all(counts):
            raise MalformedResponse(
                f"bytes_only pooling response holds {n_items} items with no boundaries; the "
                "token count of every prompt is needed to cut it"
            )
        labels = _infer_labels([total], counts, num_labels, Usage(), "bytes_only response")
        sizes = [int(n) * labels * itemsize for n in counts if n]
        if sum(sizes) != len(body):
            raise MalformedResponse(
                f"bytes_only pooling response: {len(body)} bytes, but "
                f"{sum(n or 0 for n in counts)} "
                f"tokens x {labels} labels x {itemsize} bytes = {sum(sizes)} were expected"
            )
        arrays, offset = [], 0
        for size in sizes:
            arrays.append(
                decode_array(body[offset : offset + size], embed_dtype, endianness, (-1, labels))
            )
            offset += size
    # No usage travels with bytes_only; one row per token (specials included) is what it counts.
    tokens = sum(a.shape[0] for a in arrays)
    return PoolingResponse(
        data=arrays, model="", usage=Usage(prompt_tokens=tokens, total_tokens=tokens)
    )


@dataclass(frozen=True, slots=True)
class TokenizeResponse:
    """``POST /tokenize``'s answer. ``tokens[i]`` lines up with pooling row ``i``."""

    tokens: list[int]
    count: int
    max_model_len: int | None = None
    token_strs: list[str] | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "count": self.count,
            "max_model_len": self.max_model_len,
            "tokens": list(self.tokens),
            "token_strs": self.token_strs,
        }

    @classmethod
    def from_json(cls, body: object) -> TokenizeResponse:
        doc = load_json(body, "tokenize response")
        if not isinstance(doc, Mapping):
            raise MalformedResponse(f"tokenize response: expected an object, got {_describe(doc)}")
        tokens = doc.get("tokens")
        if not isinstance(tokens, list) or not all(_is_int(t) for t in tokens):
            raise MalformedResponse(
                f"tokenize response: expected 'tokens' as a list of integers, got "
                f"{_describe(tokens)}"
            )
        strs = doc.get("token_strs")
        if strs is not None and (
            not isinstance(strs, list)
            or len(strs) != len(tokens)
            or not all(isinstance(s, str) for s in strs)
        ):
            raise MalformedResponse(
                f"tokenize response: 'token_strs' should be {len(tokens)} strings, got "
                f"{_describe(strs)}"
            )
        count = doc.get("count", len(tokens))
        max_len = doc.get("max_model_len")
        return cls(
            tokens=[int(t) for t in tokens],
            count=int(count) if _is_int(count) else len(tokens),
            max_model_len=int(max_len) if _is_int(max_len) else None,
            token_strs=list(strs) if strs is not None else None,
        )


def parse_detokenize_response(body: object) -> str:
    """The ``prompt`` of a ``POST /detokenize`` answer."""
    doc = load_json(body, "detokenize response")
    if not isinstance(doc, Mapping) or not isinstance(doc.get("prompt"), str):
        raise MalformedResponse(
            f"detokenize response: expected {{'prompt': str}}, got {_describe(doc)}"
        )
    return str(doc["prompt"])


def parse_model_list(body: object) -> list[ModelCard]:
    """The models of a ``GET /v1/models`` answer."""
    doc = load_json(body, "model list")
    data = doc.get("data") if isinstance(doc, Mapping) else None
    if not isinstance(data, list):
        raise MalformedResponse(
            f"model list: expected {{'object': 'list', 'data': [...]}}, got {_describe(doc)}"
        )
    cards = []
    for pos, item in enumerate(data):
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
            raise MalformedResponse(
                f"model list: data[{pos}] should be an object with a string 'id', got "
                f"{_describe(item)}"
            )
        root, max_len = item.get("root"), item.get("max_model_len")
        cards.append(
            ModelCard(
                id=str(item["id"]),
                root=root if isinstance(root, str) else None,
                max_model_len=int(max_len) if _is_int(max_len) else None,
            )
        )
    return cards


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


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


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


def is_fastapi_not_found(body: object) -> bool:
    """Whether a 404 body is FastAPI's bare ``{"detail": "Not Found"}`` (no such route)."""
    try:
        doc = load_json(body, "error body")
    except MalformedResponse:
        return False
    return isinstance(doc, Mapping) and doc.get("detail") == "Not Found" and len(doc) == 1


_HTML_TAG = re.compile(r"<[^>]*>")


def parse_error(status: int, body: object) -> tuple[str, str | None, int]:
    """``(message, type, code)`` of an error answer in any shape a server sends.

    Handles vLLM's nested and flat envelopes, FastAPI's ``{"detail": ...}`` (a string, or a
    list of validation errors) and non-JSON bodies (the text, clipped). Never raises."""
    try:
        doc = load_json(body, "error body")
    except MalformedResponse:
        text = bytes(body).decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        if text.lstrip().startswith("<"):  # an HTML error page: its words, not its markup
            text = "an HTML page: " + _HTML_TAG.sub(" ", text)
        text = " ".join(text.split())
        clipped = text[:300] + ("..." if len(text) > 300 else "")
        return clipped or f"HTTP {status} with an empty body", None, status
    if isinstance(doc, Mapping):
        inner = doc.get("error")
        envelope = inner if isinstance(inner, Mapping) else doc
        message = envelope.get("message")
        if isinstance(message, str):
            err_type = envelope.get("type")
            code = envelope.get("code")
            return (
                message,
                err_type if isinstance(err_type, str) else None,
                code if _is_int(code) else status,
            )
        if isinstance(inner, str):
            return inner, None, status
        detail = doc.get("detail")
        if isinstance(detail, str):
            return detail, None, status
        if isinstance(detail, list):
            parts = []
            for d in detail:
                if isinstance(d, Mapping):
                    loc = ".".join(str(x) for x in d.get("loc", ()) if x != "body")
                    parts.append(f"{loc}: {d.get('msg', d)}" if loc else str(d.get("msg", d)))
                else:
                    parts.append(str(d))
            return "; ".join(parts) or f"HTTP {status}", None, status
    if doc is None or doc == "":
        return f"HTTP {status} with an empty body", None, status
    text = json.dumps(doc)
    return text[:300], None, status
