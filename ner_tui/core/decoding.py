"""Probability rows -> labels, confidences and entities with exact character spans.

Pure numpy, no transformers: the TUI re-decodes (aggregation, strict mode, threshold) on every
keypress, on documents of tens of thousands of tokens.

Word aggregation follows transformers' ``TokenClassificationPipeline``, with word boundaries
taken from ``word_ids`` (never the "preceded by a space" heuristic):

- ``none``: every token keeps its argmax label; every non-O token is its own entity.
- ``simple``: token argmax labels, then B-/I- decoding over tokens.
- ``first`` / ``average`` / ``max``: every token of a word takes the word's label (the first
  token's argmax / the argmax of the mean probability vector / the label of the most confident
  token), then B-/I- decoding over words. ``first`` is the default everywhere (settings, flags,
  :class:`DecodeOptions`): ``simple`` can split a word between entities ("Der Bundes" +
  "kanzle"), and ``first`` also scores higher with the bundled model.

Scores: :func:`aggregate` gives every token its word's score, as the pipeline does (first: the
first token's probability of its label; average: the mean probability of the label; max: the
top token's probability). An entity's score is the mean of its members' scores (tokens, or
words under first/average/max) and ``min_score`` their minimum. ``TokenPrediction.score`` is the
token's own probability of the label it ended up with, and its alternatives are the token's own
runner-up labels.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import gc
import itertools
import types
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import TypeVar

import numpy as np

from ner_tui.core.labels import OUT, LabelSet
from ner_tui.core.tagging import decode_codes, decode_tags
from ner_tui.core.types import (
    AGGREGATIONS,
    DecodeOptions,
    Entity,
    Prediction,
    ScoredText,
    TokenPrediction,
)

__all__ = [
    "aggregate",
    "decode",
    "decode_tags",
    "label_set",
    "looks_like_probabilities",
    "softmax",
    "top_k",
    "word_units",
]

T = TypeVar("T")
WORD_AGGREGATIONS = ("first", "average", "max")
PREFIXLESS_WARNING = (
    "Labels have no B-/I- prefixes: adjacent entities of the same type cannot be told apart."
)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax (float32 in, float32 out; float64 stays float64)."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    if x.size == 0:
        return x.copy()
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    out: np.ndarray = e / np.sum(e, axis=axis, keepdims=True)
    return out


# How far a row's sum may be from 1 and still count as probabilities once it has crossed the
# wire: rows sent as bfloat16 or fp8 (embed_dtype) sum to 1 +- 0.003 / 0.09. Treating those as
# logits would softmax them a second time, while logits that all lie in [0, 1] and sum to about
# 1 do not occur in practice (and would hardly change if taken as probabilities).
WIRE_PROBABILITY_ATOL = 0.15


def looks_like_probabilities(rows: np.ndarray, atol: float = 1e-3) -> bool:
    """True when every row is non-negative and sums to 1 (within ``atol``): rows a server
    already passed through softmax. Empty input counts as probabilities."""
    rows = np.asarray(rows)
    if rows.size == 0:
        return True
    if rows.ndim == 1:
        rows = rows[None, :]
    if not np.all(np.isfinite(rows)) or np.any(rows < 0):
        return False
    return bool(np.all(np.abs(rows.sum(axis=-1, dtype=np.float64) - 1.0) <= atol))


def top_k(probs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, values)`` of the ``k`` largest entries of every row, best first; ties
    keep the lower index first. ``k`` is capped at the number of columns."""
    probs = np.asarray(probs)
    n, m = probs.shape
    k = max(0, min(int(k), m))
    if k == 0 or n == 0:
        return np.zeros((n, k), dtype=np.int64), np.zeros((n, k), dtype=probs.dtype)
    if k > 8:
        order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
        return order, np.take_along_axis(probs, order, axis=1)
    # Small k (the usual 3-4): k argmax passes beat a full sort of every row.
    work = probs.astype(np.float64)
    rows = np.arange(n)
    order = np.empty((n, k), dtype=np.int64)
    for j in range(k):
        best = work.argmax(axis=1)
        order[:, j] = best
        work[rows, best] = -np.inf
    return order, np.take_along_axis(probs, order, axis=1)


def word_units(word_ids: Sequence[int | None], special: np.ndarray) -> np.ndarray:
    """Start index of every word: runs of consecutive tokens with the same ``word_id``.
    A special token, or one whose ``word_id`` is None, is a unit of its own."""
    n = len(word_ids)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    wid = np.fromiter((-1 if w is None else w for w in word_ids), dtype=np.int64, count=n)
    alone = np.asarray(special, dtype=bool) | (wid < 0)
    new = np.ones(n, dtype=bool)
    new[1:] = (wid[1:] != wid[:-1]) | alone[1:] | alone[:-1]
    return np.flatnonzero(new)


def aggregate(
    probs: np.ndarray,
    word_ids: Sequence[int | None],
    special: np.ndarray,
    strategy: str,
    labels: LabelSet | None = None,
    *,
    units: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-token ``(label_ids, scores)`` under an aggregation strategy (module docstring).

    Under first/average/max every token of a word carries the word's label and score.
    ``units`` may pass ``word_units(word_ids, special)`` when the caller has it already."""
    probs = np.asarray(probs)
    if probs.ndim != 2:
        raise ValueError(f"probabilities must be a 2-D array, got shape {probs.shape}")
    n, m = probs.shape
    if strategy not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {strategy!r}; use one of {', '.join(AGGREGATIONS)}")
    if len(word_ids) != n or len(special) != n:
        raise ValueError(
            f"{n} probability rows but {len(word_ids)} word ids / {len(special)} special flags"
        )
    if labels is not None and len(labels) != m:
        raise ValueError(f"{m} probability columns but {len(labels)} labels")
    if n == 0 or m == 0:
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.float32)
    rows = np.arange(n)
    if strategy in ("none", "simple"):
        ids = probs.argmax(axis=1)
        return ids, probs[rows, ids]
    starts = word_units(word_ids, special) if units is None else units
    is_start = np.zeros(n, dtype=bool)
    is_start[starts] = True
    unit_of = np.cumsum(is_start) - 1
    if strategy == "first":
        unit_ids = probs[starts].argmax(axis=1)
        unit_scores = probs[starts, unit_ids]
    elif strategy == "average":
        sizes = np.diff(np.append(starts, n))
        means = np.add.reduceat(probs.astype(np.float64), starts, axis=0) / sizes[:, None]
        unit_ids = means.argmax(axis=1)
        unit_scores = means[np.arange(len(starts)), unit_ids].astype(probs.dtype)
    else:  # max: the single most confident token decides (first one on ties)
        best = probs.max(axis=1)
        unit_best = np.maximum.reduceat(best, starts)
        candidate = np.where(best == unit_best[unit_of], rows, n)
        top = np.minimum.reduceat(candidate, starts)
        top = np.where(top >= n, starts, top)  # NaN rows: fall back to the first token
        unit_ids = probs[top].argmax(axis=1)
        unit_scores = best[top]
    return unit_ids[unit_of], unit_scores[unit_of]


@lru_cache(maxsize=32)
def label_set(id2label: tuple[str, ...]) -> LabelSet:
    """The (cached) :class:`LabelSet` of a ScoredText's ``id2label``, scheme auto-detected."""
    return LabelSet.from_names(id2label)


def _segment_reduce(
    ufunc: np.ufunc, values: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> np.ndarray:
    """``ufunc.reduce(values[s:e])`` for every non-empty ``[s, e)``, in one call."""
    if len(starts) == 0:
        return np.zeros(0, dtype=values.dtype)
    padded = np.append(values, values[:1])  # makes index len(values) legal for reduceat
    idx = np.empty(2 * len(starts), dtype=np.int64)
    idx[0::2], idx[1::2] = starts, ends
    out: np.ndarray = ufunc.reduceat(padded, idx)[0::2]
    return out


def decode(
    scored: ScoredText,
    options: DecodeOptions | None = None,
    *,
    labels: LabelSet | None = None,
) -> Prediction:
    """Labels, scores and entities of a scored text under ``options``.

    ``labels`` overrides the label set parsed from ``scored.id2label`` (e.g. to force
    ``scheme="IOB1"``). Entities are sorted, non-overlapping, non-empty and lie inside the
    text, with ``entity.text == text[start:end]``: an entity runs from the first character of
    its first member token to the last character of its last member token, tokens with an
    empty range (byte-level whitespace) aside; when tokens share a character range, a later
    entity is trimmed to start where the previous one ended (dropped if nothing is left, with
    a warning). Raises ``ValueError`` only when the arrays of ``scored`` disagree in length
    or the number of labels."""
    options = options or DecodeOptions()
    if labels is None:
        labels = label_set(tuple(scored.id2label))
    probs = np.asarray(scored.probs)
    n = len(scored.token_strs)
    _check_shapes(scored, probs, n, labels)
    text = scored.text
    special = np.asarray(scored.special, dtype=bool).reshape(n)
    offsets = np.clip(np.asarray(scored.offsets, dtype=np.int64).reshape(n, 2), 0, len(text))
    warnings = [*labels.notes, *scored.notes]
    if labels.scheme == "IO":
        warnings.append(PREFIXLESS_WARNING)
        if options.mode == "strict":
            warnings.append("Strict mode rejects nothing for prefix-less labels.")
    if n and not looks_like_probabilities(probs, atol=WIRE_PROBABILITY_ATOL):
        warnings.append(
            "Score rows are not probabilities (negative or not summing to 1): "
            "were logits passed without softmax?"
        )

    by_word = options.aggregation in WORD_AGGREGATIONS
    u_start = word_units(scored.word_ids, special) if by_word else np.arange(n)
    label_ids, scores = aggregate(
        probs, scored.word_ids, special, options.aggregation, labels, units=u_start
    )
    u_end = np.append(u_start[1:], n)
    u_label = label_ids[u_start]
    codes = labels.codes[u_label]
    codes[special[u_start]] = OUT  # special tokens break entities and never join one
    types = labels.type_ids[u_label]
    starts, ends, rejected_units = decode_codes(codes, types, labels.scheme, options.mode)
    if options.aggregation == "none":
        # The pipeline's "none": every labelled token on its own.
        starts = np.flatnonzero((codes != OUT) & ~rejected_units)
        ends = starts + 1

    entities, trimmed = _entities(
        text,
        offsets,
        special,
        u_start,
        u_end,
        scores[u_start],
        starts,
        ends,
        types,
        labels,
        options.threshold,
    )
    if trimmed:
        warnings.append(
            f"{trimmed} entit{'y' if trimmed == 1 else 'ies'} shared characters "
            "with the previous one and were trimmed or dropped."
        )

    rejected = np.zeros(n, dtype=bool)
    if rejected_units.any():
        rejected = np.repeat(rejected_units, u_end - u_start)
    with _gc_paused():
        tokens = _tokens(
            scored, probs, offsets, special, label_ids, rejected, labels, options.top_k
        )
    return Prediction(
        scored=scored,
        options=options,
        scheme=labels.scheme,
        tokens=tokens,
        entities=entities,
        warnings=tuple(warnings),
    )


def _check_shapes(scored: ScoredText, probs: np.ndarray, n: int, labels: LabelSet) -> None:
    problems = []
    if probs.ndim != 2 or probs.shape[0] != n:
        problems.append(f"probability rows have shape {probs.shape}, expected ({n}, labels)")
    elif probs.shape[1] != len(labels) or len(labels) == 0:
        problems.append(f"{probs.shape[1]} score columns but {len(labels)} labels")
    for name in ("token_ids", "offsets", "special", "word_ids"):
        value = getattr(scored, name)
        if len(value) != n:
            problems.append(f"{name} has {len(value)} entries for {n} tokens")
    if problems:
        raise ValueError("inconsistent ScoredText: " + "; ".join(problems))


def _entities(
    text: str,
    offsets: np.ndarray,
    special: np.ndarray,
    u_start: np.ndarray,
    u_end: np.ndarray,
    u_score: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    types: np.ndarray,
    labels: LabelSet,
    threshold: float,
) -> tuple[tuple[Entity, ...], int]:
    """Entities for unit ranges ``[starts, ends)``; returns them and how many were trimmed
    because their characters overlapped the previous entity's."""
    if len(starts) == 0:
        return (), 0
    scores = u_score.astype(np.float64)
    # Each entity's own sum (not differences of a running sum): the mean then depends only on
    # the entity's scores, so decoding many texts at once gives the same floats.
    mean = _segment_reduce(np.add, scores, starts, ends) / (ends - starts)
    low = _segment_reduce(np.minimum, scores, starts, ends)
    tok_start, tok_end = u_start[starts], u_end[ends - 1]
    # Character span: members with a non-empty range (byte-level whitespace tokens have none).
    has_chars = (offsets[:, 1] > offsets[:, 0]) & ~special
    big = len(text) + 1
    first_char = _segment_reduce(
        np.minimum, np.where(has_chars, offsets[:, 0], big), tok_start, tok_end
    )
    last_char = _segment_reduce(
        np.maximum, np.where(has_chars, offsets[:, 1], -1), tok_start, tok_end
    )
    keep = (first_char < last_char) & (mean >= threshold)
    kept = np.flatnonzero(keep)
    kept = kept[np.lexsort((last_char[kept], first_char[kept]))]
    entity_types = labels.entity_types
    out: list[Entity] = []
    trimmed = 0
    prev_end = 0
    for k, s, e, ts, te, sc, lo, ty in zip(
        kept.tolist(),
        first_char[kept].tolist(),
        last_char[kept].tolist(),
        tok_start[kept].tolist(),
        tok_end[kept].tolist(),
        mean[kept].tolist(),
        low[kept].tolist(),
        types[starts[kept]].tolist(),
        strict=True,
    ):
        del k
        if s < prev_end:  # several tokens sharing one character range
            trimmed += 1
            s = prev_end
            if s >= e:
                continue
        out.append(
            Entity(
                label=entity_types[ty],
                start=s,
                end=e,
                text=text[s:e],
                score=sc,
                min_score=lo,
                token_start=ts,
                token_end=te,
            )
        )
        prev_end = e
    return tuple(out), trimmed


def _tokens(
    scored: ScoredText,
    probs: np.ndarray,
    offsets: np.ndarray,
    special: np.ndarray,
    label_ids: np.ndarray,
    rejected: np.ndarray,
    labels: LabelSet,
    k: int,
) -> tuple[TokenPrediction, ...]:
    n = len(label_ids)
    if n == 0:
        return ()
    # Built column by column with C-level zip/map: this runs on every re-decode in the TUI.
    own = probs[np.arange(n), label_ids].tolist()
    names = np.array(labels.names, dtype=object)
    alt_ids, alt_scores = _alternatives(probs, label_ids, k)
    alt_names = names[alt_ids]
    pairs = [
        zip(alt_names[:, j].tolist(), alt_scores[:, j].tolist(), strict=True)
        for j in range(alt_ids.shape[1])
    ]
    alternatives = list(zip(*pairs, strict=True)) if pairs else [()] * n
    chunk_of = np.asarray(scored.chunk_of).reshape(-1)
    chunks = chunk_of.tolist() if len(chunk_of) == n else [0] * n
    return _build_many(
        TokenPrediction,
        range(n),
        scored.token_strs,
        offsets[:, 0].tolist(),
        offsets[:, 1].tolist(),
        scored.word_ids,
        names[label_ids].tolist(),
        own,
        alternatives,
        special.tolist(),
        rejected.tolist(),
        chunks,
    )


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector paused, then restored to its previous state.

    Kept because at 20,000 tokens the collections that building the TokenPredictions (which
    hold no cycles) would trigger are a large share of every re-decode (``bench/decoding.py
    --tricks``)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _build_many(cls: type[T], *columns: Iterable[object]) -> tuple[T, ...]:
    """``tuple(map(cls, *columns))``, for a frozen slots dataclass without ``__post_init__``
    filled through the slot descriptors column by column; any other class takes that plain path.

    Kept because at 20,000 tokens the frozen ``__init__`` (``object.__setattr__`` per field)
    is a large share of every re-decode (``bench/decoding.py --tricks``)."""
    fields = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    slots = [cls.__dict__.get(name) for name in fields]
    if hasattr(cls, "__post_init__") or not all(
        isinstance(slot, types.MemberDescriptorType) for slot in slots
    ):
        return tuple(map(cls, *columns))
    cols = [list(col) for col in columns]
    count = len(cols[0]) if cols else 0
    if len(cols) != len(fields) or any(len(col) != count for col in cols):
        raise ValueError(f"{cls.__name__} needs {len(fields)} columns of one length")
    instances = list(map(object.__new__, itertools.repeat(cls, count)))
    for slot, col in zip(slots, cols, strict=True):
        collections.deque(map(slot.__set__, instances, col), maxlen=0)  # type: ignore[union-attr]
    return tuple(instances)


def _alternatives(probs: np.ndarray, chosen: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best labels of each row other than ``chosen``, best first."""
    n, m = probs.shape
    want = max(0, min(k, m - 1))
    if want == 0:
        return np.zeros((n, 0), dtype=np.int64), np.zeros((n, 0), dtype=np.float64)
    idx, _ = top_k(probs, want + 1)
    keep = idx != chosen[:, None]
    missing = keep.all(axis=1)  # chosen label not among the top: drop the last one instead
    keep[missing, -1] = False
    ids = idx[keep].reshape(n, want)
    return ids, np.take_along_axis(probs, ids, axis=1).astype(np.float64)
