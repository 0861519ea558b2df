"""Tokens, offsets and score rows: from a text to a :class:`~ner_tui.core.types.ScoredText`.

vLLM's ``/pooling`` returns one row of label scores per token and nothing else. This module
tokenizes locally with the model's *fast* tokenizer (character offsets, word ids), sends the
token ids themselves (so the server's rows line up with our tokens by construction), checks
that they did, turns the rows into probabilities exactly once, and splits texts longer than
the model window into overlapping windows whose rows are merged back into one token sequence.

Three steps, usable separately (the TUI re-runs only what changed)::

    info = load_model_info("boltuix/NeuroBERT-NER")           # core.model_info
    encoded = encode(info, text, max_model_len=512)          # CPU only
    result = await backend.pool(encoded.window_ids, model=name)
    scored = merge(encoded, result.rows, model=name, source=backend.describe,
                   elapsed_ms=result.elapsed_ms, activation="probabilities")

or simply ``scored = await score(backend, info, text)``. ``check_tokenizer`` asks a server's
``/tokenize`` whether it uses the same tokenizer (ids from another vocabulary give the right
row count and nonsense scores); connecting to a server runs it once.

Decisions worth knowing:

- A text with no content tokens (``""``; whitespace or characters the normalizer drops, for
  every tokenizer but byte-level BPE, which turns spaces into tokens the model does see) is not
  sent at all: :func:`encode` makes no window and :func:`merge` returns an empty
  :class:`ScoredText` (no tokens, no chunks). Sending ``[CLS] [SEP]`` would cost a round trip
  (and fail when no server is up) for a result with nothing to show.
- Windows: consecutive windows share ``stride`` content tokens (clamped to half a window);
  every window but the last is full. Cuts fall between tokens, not words: a token near a cut
  takes its row from the window where it has more context.
- Special tokens are added per window from the tokenizer's own post-processor template, read
  once off the encoding of a probe text (``sequence_ids``). Their positions, not their ids,
  make them special: a user who types a literal ``[SEP]`` gets the real SEP id but stays a
  content token (transformers' ``get_special_tokens_mask(already_has_special_tokens=True)``
  compares ids and would hide it; v5 fast tokenizers no longer have
  ``build_inputs_with_special_tokens``).
- Offsets are the tokenizer's, untouched: byte-level BPE gives several tokens the same range
  (an emoji split into bytes), ranges may overlap or be empty. The decoder turns them into
  well-formed spans.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ner_tui.core.decoding import WIRE_PROBABILITY_ATOL, looks_like_probabilities, softmax
from ner_tui.core.errors import InputTooLong, MalformedResponse, NerTuiError, RowMismatch
from ner_tui.core.model_info import ModelInfo
from ner_tui.core.types import Chunk, ScoredText

if TYPE_CHECKING:
    from ner_tui.core.backend import PoolingBackend
    from ner_tui.core.client import PoolingClient

__all__ = [
    "DEFAULT_STRIDE",
    "TOKENIZER_PROBE",
    "Activation",
    "EncodedText",
    "Window",
    "check_tokenizer",
    "encode",
    "merge",
    "score",
]


Activation = Literal["probabilities", "logits"]
DEFAULT_STRIDE = 64  # overlap between consecutive windows, in content tokens
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, eq=False)
class Window:
    """One request's worth of tokens: special tokens around content tokens ``[start, end)``."""

    index: int
    start: int  # first content token (index into EncodedText.token_ids)
    end: int  # exclusive
    input_ids: tuple[int, ...]  # what gets sent, special tokens included
    special_mask: np.ndarray  # (len(input_ids),) bool

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass(frozen=True, eq=False)
class EncodedText:
    """A text tokenized once (content tokens, no specials) and cut into windows to send."""

    text: str
    token_ids: np.ndarray  # (m,) int64 content tokens of the whole text
    token_strs: tuple[str, ...]
    offsets: np.ndarray  # (m, 2) int64 character offsets into ``text``
    word_ids: tuple[int | None, ...]
    prefix_ids: tuple[int, ...]
    prefix_strs: tuple[str, ...]
    suffix_ids: tuple[int, ...]
    suffix_strs: tuple[str, ...]
    windows: tuple[Window, ...]
    id2label: tuple[str, ...]
    max_model_len: int | None
    stride: int  # overlap actually used (after clamping), in content tokens

    @property
    def window_ids(self) -> list[list[int]]:
        """The prompts for ``PoolingBackend.pool``: one list of token ids per window."""
        return [list(w.input_ids) for w in self.windows]

    @property
    def num_content_tokens(self) -> int:
        return len(self.token_strs)


# --------------------------------------------------------------------------- encoding


def encode(
    info: ModelInfo,
    text: str,
    *,
    max_model_len: int | None = None,
    stride: int = DEFAULT_STRIDE,
) -> EncodedText:
    """Tokenize ``text`` once and cut it into windows of at most ``max_model_len`` tokens.

    ``max_model_len`` (default: ``info.max_model_len``; ``None`` means unlimited) counts special
    tokens. Consecutive windows share ``stride`` content tokens, clamped to half a window so
    every window brings new tokens. Raises :class:`InputTooLong` when the window leaves no room
    for content. Synchronous CPU work: call it from a thread in an event loop.
    """
    window = max_model_len if max_model_len is not None else info.max_model_len
    tokenizer = info.tokenizer
    # Lone surrogates (from surrogateescape'd files) cannot cross into Rust; one code point for
    # one keeps every offset valid for the original text.
    safe = _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text
    with info.lock:
        enc = tokenizer(
            safe,
            add_special_tokens=False,
            return_offsets_mapping=True,
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,
        )
    ids = np.asarray(enc["input_ids"], dtype=np.int64).reshape(-1)
    offsets = np.asarray(enc["offset_mapping"], dtype=np.int64).reshape(-1, 2)
    encoding = enc.encodings[0] if enc.encodings else None
    if encoding is not None:
        token_strs = tuple(encoding.tokens)
        word_ids = tuple(encoding.word_ids)
    else:  # pragma: no cover - fast tokenizers always carry encodings
        token_strs = tuple(tokenizer.convert_ids_to_tokens(ids.tolist()))
        word_ids = tuple(enc.word_ids())
    prefix, suffix = info.prefix_ids, info.suffix_ids
    windows, overlap = _cut_windows(ids, prefix, suffix, window, stride)
    return EncodedText(
        text=text,
        token_ids=ids,
        token_strs=token_strs,
        offsets=offsets,
        word_ids=word_ids,
        prefix_ids=prefix,
        prefix_strs=tuple(tokenizer.convert_ids_to_tokens(list(prefix))),
        suffix_ids=suffix,
        suffix_strs=tuple(tokenizer.convert_ids_to_tokens(list(suffix))),
        windows=windows,
        id2label=info.id2label,
        max_model_len=window,
        stride=overlap,
    )


def _cut_windows(
    ids: np.ndarray,
    prefix: tuple[int, ...],
    suffix: tuple[int, ...],
    window: int | None,
    stride: int,
) -> tuple[tuple[Window, ...], int]:
    n = len(ids)
    if n == 0:
        return (), 0
    specials = len(prefix) + len(suffix)
    if window is None or n + specials <= window:
        return (_window(0, 0, n, ids, prefix, suffix),), 0
    capacity = window - specials
    if capacity < 1:
        raise InputTooLong(
            f"A window of {window} tokens leaves no room for text: the tokenizer adds "
            f"{specials} special tokens to every window.",
            hint="Give a larger max_model_len (the server's value is in GET /v1/models).",
        )
    overlap = max(0, min(int(stride), capacity // 2))
    step = capacity - overlap
    windows: list[Window] = []
    start = 0
    while True:
        end = min(start + capacity, n)
        windows.append(_window(len(windows), start, end, ids, prefix, suffix))
        if end == n:
            break
        start += step
    return tuple(windows), overlap


def _window(
    index: int,
    start: int,
    end: int,
    ids: np.ndarray,
    prefix: tuple[int, ...],
    suffix: tuple[int, ...],
) -> Window:
    input_ids = (*prefix, *ids[start:end].tolist(), *suffix)
    mask = np.zeros(len(input_ids), dtype=bool)
    mask[: len(prefix)] = True
    mask[len(input_ids) - len(suffix) :] = True
    return Window(index, start, end, input_ids, mask)


# --------------------------------------------------------------------------- merging


def merge(
    encoded: EncodedText,
    rows: Sequence[np.ndarray],
    *,
    model: str,
    source: str,
    elapsed_ms: float = 0.0,
    activation: Activation = "probabilities",
) -> ScoredText:
    """Check the server's rows against the windows sent and merge them into a ScoredText.

    ``activation`` says what was asked for: ``"probabilities"`` (vLLM's default) or
    ``"logits"`` (``use_activation: false``). Rows become probabilities exactly once; a server
    that ignored the request is detected and logged. In overlapping windows each content token
    keeps the row of the window where it sits farthest from a cut.
    """
    if activation not in ("probabilities", "logits"):
        raise ValueError(f"activation must be 'probabilities' or 'logits', not {activation!r}")
    windows = encoded.windows
    num_labels = len(encoded.id2label)
    if len(rows) != len(windows):
        raise RowMismatch(
            f"Sent {len(windows)} prompt(s) but got {len(rows)} score array(s) back from {model!r}."
        )
    arrays = [_check_rows(encoded, i, r, num_labels, model) for i, r in enumerate(rows)]
    arrays, note = _as_probabilities(arrays, activation, model)

    prefix_n, suffix_n = len(encoded.prefix_ids), len(encoded.suffix_ids)
    m = encoded.num_content_tokens
    if not windows:
        return _empty_scored(encoded, model, source, elapsed_ms)

    keep = _best_window(windows, m)
    content_probs = np.empty((m, num_labels), dtype=np.float32)
    for w, arr in zip(windows, arrays, strict=True):
        mine = np.nonzero(keep[w.start : w.end] == w.index)[0]
        content_probs[w.start + mine] = arr[prefix_n + mine]
    first, last = arrays[0], arrays[-1]
    probs = np.concatenate(
        [first[:prefix_n], content_probs, last[len(last) - suffix_n :]], axis=0
    ).astype(np.float32, copy=False)

    n = prefix_n + m + suffix_n
    offsets = np.zeros((n, 2), dtype=np.int64)
    offsets[prefix_n : prefix_n + m] = encoded.offsets
    special = np.zeros(n, dtype=bool)
    special[:prefix_n] = True
    special[prefix_n + m :] = True
    chunk_of = np.concatenate(
        [
            np.zeros(prefix_n, dtype=np.int64),
            keep.astype(np.int64),
            np.full(suffix_n, len(windows) - 1, dtype=np.int64),
        ]
    )
    chunks = tuple(
        Chunk(
            index=w.index,
            token_start=prefix_n + w.start,
            token_end=prefix_n + w.end,
            char_start=int(encoded.offsets[w.start : w.end, 0].min()),
            char_end=int(encoded.offsets[w.start : w.end, 1].max()),
        )
        for w in windows
    )
    return ScoredText(
        text=encoded.text,
        token_ids=np.concatenate(
            [
                np.asarray(encoded.prefix_ids, dtype=np.int64),
                encoded.token_ids,
                np.asarray(encoded.suffix_ids, dtype=np.int64),
            ]
        ),
        token_strs=encoded.prefix_strs + encoded.token_strs + encoded.suffix_strs,
        offsets=offsets,
        special=special,
        word_ids=(None,) * prefix_n + encoded.word_ids + (None,) * suffix_n,
        probs=probs,
        id2label=encoded.id2label,
        chunk_of=chunk_of,
        chunks=chunks,
        model=model,
        source=source,
        elapsed_ms=elapsed_ms,
        notes=(note,) if note else (),
        max_model_len=encoded.max_model_len,
    )


def _check_rows(
    encoded: EncodedText, index: int, rows: Any, num_labels: int, model: str
) -> np.ndarray:
    window = encoded.windows[index]
    where = f"window {index + 1} of {len(encoded.windows)}" if len(encoded.windows) > 1 else ""
    try:
        arr = np.asarray(rows, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise MalformedResponse(f"Scores from {model!r} are not numbers: {exc}") from exc
    if arr.ndim != 2:
        raise MalformedResponse(
            f"Scores from {model!r}{' for ' + where if where else ''} have shape {arr.shape}; "
            "token classification gives one row of label scores per token (2-D)."
        )
    sent = len(window)
    if arr.shape[0] != sent:
        if arr.shape[0] < sent:
            cause = (
                "the server truncated the input (its max_model_len or truncate_prompt_tokens "
                "is smaller than the window used here), or it serves a different tokenizer"
            )
        else:
            cause = (
                "the server added tokens of its own (it tokenized text instead of using the ids "
                "sent, or serves a different tokenizer)"
            )
        raise RowMismatch(
            f"{model!r} returned {arr.shape[0]} score rows for the {sent} tokens sent"
            f"{' in ' + where if where else ''}. Likely cause: {cause}; or --model names "
            "another model than the tokenizer loaded here."
        )
    if arr.shape[1] != num_labels:
        raise RowMismatch(
            f"{model!r} returned {arr.shape[1]} scores per token but the loaded config has "
            f"{num_labels} labels ({', '.join(encoded.id2label[:6])}"
            f"{', ...' if num_labels > 6 else ''}): the server serves a different model or "
            "label set.",
            hint="Load the same model directory the server serves, or check --model.",
        )
    if not np.isfinite(arr).all():
        raise MalformedResponse(f"Scores from {model!r} contain NaN or infinite values.")
    return arr


def _as_probabilities(
    arrays: list[np.ndarray], activation: Activation, model: str
) -> tuple[list[np.ndarray], str | None]:
    """The rows as probabilities (softmax exactly once), and a note when the server did not
    return what ``use_activation`` asked for."""
    if not arrays:
        return arrays, None
    are_probs = all(looks_like_probabilities(a, atol=WIRE_PROBABILITY_ATOL) for a in arrays)
    if activation == "logits":
        if are_probs and arrays[0].shape[1] > 1:
            note = (
                f"{model!r} returned probabilities although logits were asked for "
                "(use_activation: false is ignored by vLLM 0.11.0); using them as they are."
            )
            return arrays, note
        return [softmax(a).astype(np.float32, copy=False) for a in arrays], None
    if are_probs:
        return arrays, None
    note = (
        f"{model!r} returned scores that are not probabilities although probabilities were "
        "asked for (the server ignored use_activation); softmax applied once here."
    )
    return [softmax(a).astype(np.float32, copy=False) for a in arrays], note


def _best_window(windows: tuple[Window, ...], m: int) -> np.ndarray:
    """For each content token, the window where it sits farthest from a cut."""
    keep = np.zeros(m, dtype=np.int64)
    best = np.full(m, -1.0)
    positions = np.arange(m)
    for w in windows:
        idx = positions[w.start : w.end]
        left = idx - w.start if w.start > 0 else np.full(len(idx), math.inf)
        right = (w.end - 1) - idx if w.end < m else np.full(len(idx), math.inf)
        dist = np.minimum(left, right)
        better = dist > best[w.start : w.end]
        keep[w.start : w.end][better] = w.index
        best[w.start : w.end][better] = dist[better]
    return keep


def _empty_scored(encoded: EncodedText, model: str, source: str, elapsed_ms: float) -> ScoredText:
    return ScoredText(
        text=encoded.text,
        token_ids=np.zeros(0, dtype=np.int64),
        token_strs=(),
        offsets=np.zeros((0, 2), dtype=np.int64),
        special=np.zeros(0, dtype=bool),
        word_ids=(),
        probs=np.zeros((0, len(encoded.id2label)), dtype=np.float32),
        id2label=encoded.id2label,
        chunk_of=np.zeros(0, dtype=np.int64),
        chunks=(),
        model=model,
        source=source,
        elapsed_ms=elapsed_ms,
        max_model_len=encoded.max_model_len,
    )


# --------------------------------------------------------------------------- scoring


async def score(
    backend: PoolingBackend,
    info: ModelInfo,
    text: str,
    *,
    model: str | None = None,
    max_model_len: int | None = None,
    stride: int = DEFAULT_STRIDE,
    use_activation: bool = True,
) -> ScoredText:
    """Tokenize ``text`` (in a thread), pool every window in one call, merge (in a thread).

    ``model`` is the served model name (``None``: the server's default). ``max_model_len``
    overrides ``info.max_model_len`` (use the server's value from ``/v1/models``).
    """
    encoded = await asyncio.to_thread(
        encode, info, text, max_model_len=max_model_len, stride=stride
    )
    activation: Activation = "probabilities" if use_activation else "logits"
    if not encoded.windows:
        return merge(encoded, [], model=model or info.name_or_path, source=backend.describe)
    result = await backend.pool(encoded.window_ids, model=model, use_activation=use_activation)
    return await asyncio.to_thread(
        merge,
        encoded,
        result.rows,
        model=result.model or model or info.name_or_path,
        source=backend.describe,
        elapsed_ms=result.elapsed_ms,
        activation=activation,
    )


# --------------------------------------------------------------------------- diagnostics

# Words, accents, digits, CJK, emoji and a typed special token: where tokenizers differ.
TOKENIZER_PROBE = "Barack Obama visited Zürich on 2024-03-15: naïve café, 東京, 👍🏽 [SEP] <s> ok"


async def check_tokenizer(
    client: PoolingClient, info: ModelInfo, *, model: str | None, text: str = TOKENIZER_PROBE
) -> str | None:
    """Compare the server's tokenizer (``/tokenize``) with the one loaded here.

    Sending our own token ids guarantees one row per token, but not that the ids mean the same
    to the server's model: a different tokenizer gives the same row count and nonsense scores.
    Returns ``None`` when both tokenize ``text`` alike, or when the server cannot tell (no
    ``/tokenize``, or it fails); otherwise a message saying where they first differ.
    """
    try:
        answer = await client.tokenize(text, model=model)
    except NerTuiError:
        return None
    theirs = [int(t) for t in answer.tokens]
    content = encode(info, text, max_model_len=None).token_ids.tolist()
    ours = [*info.prefix_ids, *content, *info.suffix_ids]
    if theirs == ours:
        return None
    pairs = enumerate(zip(theirs, ours, strict=False))
    at = next((i for i, (a, b) in pairs if a != b), min(len(theirs), len(ours)))
    mine = info.tokenizer.convert_ids_to_tokens(ours[at : at + 3])
    return (
        f"The server tokenizes differently from {info.name_or_path!r}: {len(theirs)} vs "
        f"{len(ours)} tokens for a probe text, first difference at token {at} "
        f"(server ids {theirs[at : at + 3]}, local {ours[at : at + 3]} = {mine}). Scores for "
        "the ids sent will not mean what they should; load the tokenizer the server uses."
    )
