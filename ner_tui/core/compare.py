"""Two predictions of one text compared, and two models compared over a gold corpus.

Model A and model B may have different tokenizers (WordPiece, BPE, SentencePiece) and different
label names, so nothing here looks at token indices:

- **Entities** are compared by character span. B's types are first renamed into A's with a
  label map (``--compare-map B=A``, read as ``eval --map`` is, by
  :func:`ner_tui.core.labels.parse_label_map`). Pairs are taken as the eval error browser takes
  them (:func:`ner_tui.core.matching.error_pairs`: each entity used once, same bounds first,
  then the longest overlap), and each entity ends up as one of :data:`DIFF_KINDS`: found by
  ``both`` (same span, same type), ``other_type`` (same span, another type), ``other_bounds``
  (overlapping spans of the same type, different bounds: "New York" vs "New York City"),
  ``other_bounds_and_type`` (overlapping, both differ), ``only_a`` or ``only_b``.
  Disagreements come first, then by position.
- **Words** (runs of letters and digits, or one punctuation character: a segmentation neither
  tokenizer owns) get each side's label, ``B-X``/``I-X`` from the entity covering them or
  ``O``, and each side's confidence: the mean probability of that side's label over its tokens
  touching the word.

Over a corpus, :class:`PairedCounts` keeps exact-match counts per document and type for both
models against the same gold, and :func:`paired_bootstrap` gives the F1 difference (B - A) with
a paired bootstrap confidence interval: documents resampled with replacement, the same
resample for both models, from a fixed seed, numpy-vectorised.

Comparing two *settings* of one model (aggregation, strict/lenient, threshold) needs no second
request: :func:`score_pair` decodes the same :class:`~ner_tui.core.types.ScoredText` twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from ner_tui.core.errors import NerTuiError
from ner_tui.core.matching import error_pairs
from ner_tui.core.settings import Settings
from ner_tui.core.types import (
    Aggregation,
    DecodeMode,
    DecodeOptions,
    Prediction,
    ScoredText,
)

if TYPE_CHECKING:
    from ner_tui.core.connect import Connection

DiffKind = Literal[
    "only_a", "only_b", "other_type", "other_bounds", "other_bounds_and_type", "both"
]
#: Disagreements first (the order lists and tables use), agreement last.
DIFF_KINDS: tuple[DiffKind, ...] = (
    "only_a",
    "only_b",
    "other_type",
    "other_bounds",
    "other_bounds_and_type",
    "both",
)
#: How each kind is named to a person.
KIND_NAMES: dict[DiffKind, str] = {
    "both": "both",
    "only_a": "only A",
    "only_b": "only B",
    "other_type": "same span, other type",
    "other_bounds": "same type, other bounds",
    "other_bounds_and_type": "other bounds and type",
}
_FROM_MATCHING: dict[str | None, DiffKind] = {
    None: "both",
    "wrong_type": "other_type",
    "wrong_boundary": "other_bounds",
    "wrong_both": "other_bounds_and_type",
    "missed": "only_a",
    "spurious": "only_b",
}
_WORD = re.compile(r"\w+|[^\w\s]")


class SpanLike(Protocol):
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def label(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Mention:
    """One side's entity: a character span, its type in A's names, its confidence, and the
    type as that side's model named it."""

    start: int
    end: int
    label: str
    score: float | None
    raw_label: str


@dataclass(frozen=True, slots=True)
class EntityDiff:
    """One entity of A, of B, or one of each paired: ``a`` is None for ``only_b`` and ``b``
    None for ``only_a``."""

    kind: DiffKind
    a: Mention | None
    b: Mention | None

    @property
    def start(self) -> int:
        return min(m.start for m in (self.a, self.b) if m is not None)

    @property
    def end(self) -> int:
        return max(m.end for m in (self.a, self.b) if m is not None)

    @property
    def agree(self) -> bool:
        return self.kind == "both"


@dataclass(frozen=True, slots=True)
class WordDiff:
    """One word with each side's label (``B-PER``, ``I-PER``, ``O``, in A's names) and
    confidence (None where that side has no token on the word)."""

    start: int
    end: int
    text: str
    a_label: str
    a_score: float | None
    b_label: str
    b_score: float | None

    @property
    def agree(self) -> bool:
        return self.a_label == self.b_label


@dataclass(frozen=True)
class Comparison:
    """A and B on one text: entities (disagreements first) and words (in order)."""

    text: str
    entities: tuple[EntityDiff, ...]
    words: tuple[WordDiff, ...] = ()
    counts: dict[DiffKind, int] = field(default_factory=dict)

    @classmethod
    def of(
        cls, text: str, entities: tuple[EntityDiff, ...], words: tuple[WordDiff, ...] = ()
    ) -> Comparison:
        """A comparison with its counts per kind filled in."""
        found = Counter(d.kind for d in entities)
        return cls(text, entities, words, {kind: found.get(kind, 0) for kind in DIFF_KINDS})

    @property
    def disagreements(self) -> int:
        return sum(n for kind, n in self.counts.items() if kind != "both")

    @property
    def word_disagreements(self) -> int:
        return sum(not w.agree for w in self.words)


# --------------------------------------------------------------------------- one text


def mentions(
    entities: Iterable[SpanLike], label_map: Mapping[str, str] | None = None
) -> tuple[Mention, ...]:
    """Entities (anything with start, end, label and maybe score) as mentions, their types
    renamed by ``label_map``."""
    mapping = label_map or {}
    return tuple(
        Mention(
            e.start,
            e.end,
            mapping.get(e.label, e.label),
            getattr(e, "score", None),
            e.label,
        )
        for e in entities
        if e.end > e.start
    )


def compare_spans(a: Sequence[Mention], b: Sequence[Mention]) -> tuple[EntityDiff, ...]:
    """Every entity of ``a`` and ``b`` once, paired by span: disagreements first, then
    agreements, each by position."""
    a_triples = [(m.label, m.start, m.end) for m in a]
    b_triples = [(m.label, m.start, m.end) for m in b]
    diffs = [
        EntityDiff(_FROM_MATCHING[kind], a[i] if i >= 0 else None, b[j] if j >= 0 else None)
        for kind, i, j in error_pairs(a_triples, b_triples)
    ]
    diffs.sort(key=lambda d: (d.agree, d.start, d.end, DIFF_KINDS.index(d.kind)))
    return tuple(diffs)


def words(text: str) -> list[tuple[int, int]]:
    """The words both sides are compared on: runs of letters and digits, and each other
    non-space character alone."""
    return [m.span() for m in _WORD.finditer(text)]


def word_labels(spans: list[tuple[int, int]], entities: Sequence[Mention]) -> list[str]:
    """Each word's ``B-X``/``I-X`` (first/later word an entity touches) or ``O``."""
    labels = ["O"] * len(spans)
    ordered = sorted(entities, key=lambda m: (m.start, m.end))
    i = 0
    for entity in ordered:
        while i < len(spans) and spans[i][1] <= entity.start:
            i += 1
        first = True
        j = i
        while j < len(spans) and spans[j][0] < entity.end:
            if labels[j] == "O":
                labels[j] = f"{'B' if first else 'I'}-{entity.label}"
            first = False
            j += 1
    return labels


def word_scores(spans: list[tuple[int, int]], prediction: Prediction) -> list[float | None]:
    """Each word's mean label probability over the prediction's tokens touching it."""
    tokens = [t for t in prediction.tokens if not t.special and t.end > t.start]
    if not tokens:
        return [None] * len(spans)
    starts = np.array([t.start for t in tokens])
    ends = np.maximum.accumulate(np.array([t.end for t in tokens]))
    scores = np.array([t.score for t in tokens], dtype=np.float64)
    out: list[float | None] = []
    for ws, we in spans:
        lo = int(np.searchsorted(ends, ws, side="right"))
        hi = int(np.searchsorted(starts, we, side="left"))
        touching = [k for k in range(lo, hi) if tokens[k].end > ws and tokens[k].start < we]
        out.append(float(scores[touching].mean()) if touching else None)
    return out


def compare(a: Prediction, b: Prediction, label_map: Mapping[str, str] | None = None) -> Comparison:
    """A's and B's predictions of one text, compared (``label_map``: B's types to A's)."""
    if a.text != b.text:
        raise ValueError("the two predictions are of different texts")
    a_mentions = mentions(a.entities)
    b_mentions = mentions(b.entities, label_map)
    diffs = compare_spans(a_mentions, b_mentions)
    spans = words(a.text)
    a_labels, b_labels = word_labels(spans, a_mentions), word_labels(spans, b_mentions)
    a_scores, b_scores = word_scores(spans, a), word_scores(spans, b)
    rows = tuple(
        WordDiff(s, e, a.text[s:e], a_labels[k], a_scores[k], b_labels[k], b_scores[k])
        for k, (s, e) in enumerate(spans)
    )
    return Comparison.of(a.text, diffs, rows)


# --------------------------------------------------------------------------- sides


@dataclass(frozen=True)
class CompareTarget:
    """What model B is, relative to A's settings: another server (``url``), another model on
    A's server (``model``), the local engine (``local``: a model directory, "" for the bundled
    model), and/or other decoding settings. With no backend given, B is A's backend under
    B's settings: the scores are A's, decoded again, no request."""

    url: str | None = None
    model: str | None = None
    local: str | None = None
    aggregation: Aggregation | None = None
    mode: DecodeMode | None = None
    threshold: float | None = None
    label_map: Mapping[str, str] = field(default_factory=dict)

    @property
    def own_backend(self) -> bool:
        return self.url is not None or self.model is not None or self.local is not None

    @property
    def given(self) -> bool:
        """Whether anything at all was asked for (else there is nothing to compare)."""
        return self.own_backend or any(
            v is not None for v in (self.aggregation, self.mode, self.threshold)
        )

    def settings(self, base: Settings) -> Settings:
        """B's connection settings, from A's (key, timeout, encoding are shared)."""
        if self.local is not None:
            return dataclasses.replace(base, local=True, model=self.local or None, tokenizer=None)
        if self.url is not None:
            return dataclasses.replace(
                base, local=False, url=self.url, model=self.model, tokenizer=None
            )
        if self.model is not None:
            return dataclasses.replace(base, local=False, model=self.model, tokenizer=None)
        return base

    def options(self, base: DecodeOptions) -> DecodeOptions:
        """B's decoding options: A's, with what was given for B."""
        changes: dict[str, object] = {}
        if self.aggregation is not None:
            changes["aggregation"] = self.aggregation
        if self.mode is not None:
            changes["mode"] = self.mode
        if self.threshold is not None:
            changes["threshold"] = self.threshold
        return dataclasses.replace(base, **changes)  # type: ignore[arg-type]

    def settings_note(self, base: DecodeOptions) -> str:
        """B's decoding options that differ from A's, as words ("" when none)."""
        other = self.options(base)
        parts = [
            f"{name} {getattr(other, name)}"
            for name in ("aggregation", "mode", "threshold")
            if getattr(other, name) != getattr(base, name)
        ]
        return ", ".join(parts)


async def open_pair(
    settings: Settings, target: CompareTarget, *, discover_timeout: float | None = None
) -> tuple[Connection | NerTuiError, Connection | NerTuiError | None]:
    """Connect A and B concurrently; each side's failure is returned in its place, so one side
    failing does not lose the other. B is None when it shares A's connection."""
    from ner_tui.core.connect import connect

    async def one(s: Settings) -> Connection | NerTuiError:
        try:
            return await connect(
                s, "local" if s.local else "server", discover_timeout=discover_timeout
            )
        except NerTuiError as error:
            return error

    if not target.own_backend:
        return await one(settings), None
    a, b = await asyncio.gather(one(settings), one(target.settings(settings)))
    return a, b


async def score_pair(
    a: Connection | None, b: Connection | None, text: str, *, shared: bool
) -> tuple[ScoredText | NerTuiError, ScoredText | NerTuiError]:
    """Score ``text`` on both sides concurrently, each side's failure in its place.
    ``shared``: B is A's backend (other settings only): one request, A's scores for both."""

    async def one(conn: Connection | None) -> ScoredText | NerTuiError:
        if conn is None:
            return NerTuiError("not connected")
        try:
            return await conn.score(text)
        except NerTuiError as error:
            return error

    if shared:
        scored = await one(a)
        return scored, scored
    first, second = await asyncio.gather(one(a), one(b))
    return first, second


# --------------------------------------------------------------------------- a corpus


def type_counts(
    gold: Iterable[SpanLike], predicted: Iterable[SpanLike]
) -> dict[str, tuple[int, int, int]]:
    """Exact-match ``(correct, predicted, gold)`` per type (multisets, as the scorer counts)."""
    g = Counter((s.label, s.start, s.end) for s in gold)
    p = Counter((s.label, s.start, s.end) for s in predicted)
    out: dict[str, list[int]] = {}
    for (label, _, _), n in g.items():
        out.setdefault(label, [0, 0, 0])[2] += n
    for key, n in p.items():
        row = out.setdefault(key[0], [0, 0, 0])
        row[1] += n
        row[0] += min(n, g.get(key, 0))
    return {label: (c, pr, go) for label, (c, pr, go) in out.items()}


def f1_of(counts: np.ndarray) -> np.ndarray:
    """F1 from ``(..., 3)`` arrays of (correct, predicted, gold); 0 where both are 0."""
    # seqeval's arithmetic (precision and recall first), so a reported F1 equals eval's to the bit.
    correct = counts[..., 0].astype(np.float64)
    predicted, gold = counts[..., 1], counts[..., 2]
    precision = np.divide(correct, predicted, out=np.zeros_like(correct), where=predicted > 0)
    recall = np.divide(correct, gold, out=np.zeros_like(correct), where=gold > 0)
    denom = precision + recall
    return np.divide(2.0 * precision * recall, denom, out=np.zeros_like(correct), where=denom > 0)


def bootstrap_weights(rng: np.random.Generator, rows: int, n: int) -> np.ndarray:
    """``rows`` resamples of ``n`` documents drawn with replacement, as counts per document
    (``(rows, n)``); draws ``rows * n`` indices from ``rng``, row after row."""
    index = rng.integers(0, n, size=(rows, n))
    flat = (index + np.arange(rows)[:, None] * n).ravel()
    return np.bincount(flat, minlength=rows * n).reshape(rows, n)


def paired_bootstrap(
    a: np.ndarray,
    b: np.ndarray,
    *,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    chunk_cells: int = 4_000_000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The F1 difference B - A of each column and its paired bootstrap interval.

    ``a``, ``b``: ``(documents, columns, 3)`` exact-match counts (correct, predicted, gold) of
    the same documents. Each resample draws the documents with replacement and sums both
    models' counts over the *same* draw, so what the two share (hard documents) cancels.
    Returns ``(difference, low, high)``, one value per column: the difference on the corpus
    itself and the ``confidence`` percentile interval of the resampled differences."""
    if a.shape != b.shape or a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"counts must both be (documents, columns, 3), got {a.shape}, {b.shape}")
    n = a.shape[0]
    difference = f1_of(b.sum(axis=0)) - f1_of(a.sum(axis=0))
    if n == 0:
        nan = np.full(a.shape[1], np.nan)
        return difference, nan, nan
    rng = np.random.default_rng(seed)
    both = np.concatenate([a, b], axis=1).reshape(n, -1).astype(np.float64)
    diffs = np.empty((resamples, a.shape[1]))
    step = max(1, chunk_cells // n)
    for first in range(0, resamples, step):
        rows = min(step, resamples - first)
        sums = (bootstrap_weights(rng, rows, n) @ both).reshape(rows, 2, a.shape[1], 3)
        f1 = f1_of(sums)
        diffs[first : first + rows] = f1[:, 1] - f1[:, 0]
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(diffs, [tail, 100 - tail], axis=0)
    return difference, low, high


@dataclass(frozen=True)
class F1Difference:
    """One row of the comparison: A's and B's F1 of a type (or ``micro``), B - A, and the
    paired bootstrap interval of B - A."""

    label: str
    f1_a: float
    f1_b: float
    difference: float
    low: float
    high: float

    @property
    def worse(self) -> bool:
        """B is worse and the interval says it is not noise (it lies wholly below 0)."""
        return self.high < 0

    @property
    def better(self) -> bool:
        return self.low > 0

    @property
    def verdict(self) -> str:
        return "B worse" if self.worse else "B better" if self.better else "no clear difference"


@dataclass
class PairedCounts:
    """Per-document exact-match counts of A and B against the same gold, for the bootstrap.

    Memory grows with documents x types (six ints each), not with the text."""

    _a: list[dict[str, tuple[int, int, int]]] = field(default_factory=list)
    _b: list[dict[str, tuple[int, int, int]]] = field(default_factory=list)

    def add(self, gold: Iterable[SpanLike], a: Iterable[SpanLike], b: Iterable[SpanLike]) -> None:
        gold = list(gold)
        self._a.append(type_counts(gold, a))
        self._b.append(type_counts(gold, b))

    def __len__(self) -> int:
        return len(self._a)

    def arrays(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """``(columns, a, b)``: column 0 is ``micro`` (all types summed), then each type
        sorted; arrays ``(documents, columns, 3)``."""
        types = sorted({t for doc in (*self._a, *self._b) for t in doc})
        index = {t: k + 1 for k, t in enumerate(types)}
        out = []
        for docs in (self._a, self._b):
            arr = np.zeros((len(docs), len(types) + 1, 3), dtype=np.int64)
            for d, counts in enumerate(docs):
                for label, row in counts.items():
                    arr[d, index[label]] = row
            arr[:, 0] = arr[:, 1:].sum(axis=1)
            out.append(arr)
        return ["micro", *types], out[0], out[1]

    def differences(
        self, *, resamples: int = 1000, seed: int = 0, confidence: float = 0.95
    ) -> list[F1Difference]:
        """``micro`` first, then each type: F1 of A and B, B - A and its interval."""
        columns, a, b = self.arrays()
        diff, low, high = paired_bootstrap(
            a, b, resamples=resamples, seed=seed, confidence=confidence
        )
        f1_a, f1_b = f1_of(a.sum(axis=0)), f1_of(b.sum(axis=0))
        return [
            F1Difference(
                label, float(f1_a[k]), float(f1_b[k]), float(diff[k]), float(low[k]), float(high[k])
            )
            for k, label in enumerate(columns)
        ]


# --------------------------------------------------------------------------- a corpus, kept


@dataclass(frozen=True, slots=True)
class DocumentDiff:
    """One corpus document: how many entities A and B disagree on, and each one's F1 against
    the gold (None without gold or without a prediction)."""

    index: int
    disagreements: int
    entities: int
    f1_a: float | None
    f1_b: float | None


@dataclass(frozen=True)
class CorpusComparison:
    """A and B over a corpus: the per-type differences (``micro`` first) and the documents,
    those the two disagree on most first."""

    differences: list[F1Difference]
    documents: list[DocumentDiff]
    paired: int  # documents in the bootstrap (gold, and both sides predicted)


EntityTuple = tuple[int, int, str, float]


def rename(
    decoded: Sequence[tuple[EntityTuple, ...] | None], label_map: Mapping[str, str]
) -> list[tuple[EntityTuple, ...] | None]:
    """Decoded entities with their types renamed (B's into A's names)."""
    if not label_map:
        return list(decoded)
    return [
        None
        if entities is None
        else tuple((s, e, label_map.get(label, label), score) for s, e, label, score in entities)
        for entities in decoded
    ]


def compare_corpus(
    a: Sequence[Any],
    b: Sequence[Any],
    *,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> CorpusComparison:
    """Compare two scorings of one corpus (``corpus_scores.DocumentResult`` sequences of the
    same documents, B's types already in A's names)."""
    counts = PairedCounts()
    documents: list[DocumentDiff] = []
    for k, (ra, rb) in enumerate(zip(a, b, strict=True)):
        diffs = compare_spans(
            [Mention(s, e, label, score, label) for s, e, label, score in ra.entities],
            [Mention(s, e, label, score, label) for s, e, label, score in rb.entities],
        )
        both = ra.score is not None and rb.score is not None
        if both and ra.doc.gold is not None:
            counts.add(ra.doc.gold, ra.predicted, rb.predicted)
        documents.append(
            DocumentDiff(
                k,
                sum(not d.agree for d in diffs),
                len(diffs),
                ra.score.f1 if ra.score is not None else None,
                rb.score.f1 if rb.score is not None else None,
            )
        )
    documents.sort(key=lambda d: (-d.disagreements, d.index))
    differences = (
        counts.differences(resamples=resamples, seed=seed, confidence=confidence)
        if len(counts)
        else []
    )
    return CorpusComparison(differences, documents, len(counts))
