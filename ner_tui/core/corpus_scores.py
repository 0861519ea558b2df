"""A whole corpus scored from kept model scores: the app's corpus view, without Textual.

The model is asked once per document (the :class:`ScoredText` is kept); changing aggregation,
strict mode or threshold re-scores the corpus from those scores alone:

- aggregation or mode changed: every kept text is decoded again, all texts in one vectorised
  pass over arrays packed once (:class:`CorpusDecoder`; the entities equal
  :func:`~ner_tui.core.decoding.decode`'s text by text), each (aggregation, mode) once;
- only the threshold changed: the entities decoded at threshold 0 are filtered by their mean
  score, which is exactly what :func:`~ner_tui.core.decoding.decode` does with a threshold, so
  no text is decoded again (:func:`rescore`).

Each document is scored with :func:`~ner_tui.core.evaluation.score_document`, the same step as
``ner-tui eval``, so the numbers are eval's. Given the previous :class:`CorpusScores`,
:func:`rescore` scores again only the documents whose kept entities changed: their old counts
are taken out of the corpus totals and the new ones put in (:meth:`Scorer.merge`), which leaves
exactly the totals of scoring every document afresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, cast, get_args

import numpy as np

from ner_tui.core.corpus import CorpusDocument
from ner_tui.core.decoding import (
    WORD_AGGREGATIONS,
    _check_shapes,
    _segment_reduce,
    aggregate,
    decode,
    label_set,
)
from ner_tui.core.evaluation import predicted_spans, score_document
from ner_tui.core.labels import OUT, LabelSet
from ner_tui.core.scoring import DocumentScore, Report, ScoredError, Scorer, Span
from ner_tui.core.tagging import decode_codes
from ner_tui.core.types import DecodeOptions, ScoredText

EntityTuple = tuple[int, int, str, float]  # character start, end, type, mean score


@dataclass(frozen=True, slots=True)
class DocumentResult:
    """One document under some decode options.

    ``score`` is None when the document has no gold (or could not be predicted);
    ``min_confidence`` is the lowest mean score of its entities, None without entities."""

    doc: CorpusDocument
    entities: tuple[EntityTuple, ...]  # character spans, kept at the threshold
    predicted: tuple[Span, ...]  # the same in the gold's units
    score: DocumentScore | None
    min_confidence: float | None

    @property
    def error_count(self) -> int:
        return len(self.score.errors) if self.score is not None else 0


@dataclass(frozen=True)
class CorpusScores:
    """Every document's result and the corpus report (None: no document has gold)."""

    options: DecodeOptions
    report: Report | None
    results: tuple[DocumentResult, ...]
    # The corpus totals behind ``report`` (every scored document's counts), for re-scoring
    # only the documents that change; never modified (a re-score works on a copy).
    totals: Scorer | None = field(default=None, repr=False, compare=False)


Decoded = tuple[EntityTuple, ...] | None


def decode_corpus(scored: Sequence[ScoredText | None], options: DecodeOptions) -> list[Decoded]:
    """Each kept text's entities at threshold 0 under ``options`` (None stays None)."""
    return CorpusDecoder(scored).decode(options)


def decode_each(scored: Sequence[ScoredText | None], options: DecodeOptions) -> list[Decoded]:
    """:func:`decode_corpus` one text at a time with :func:`decode` (the reference)."""
    base = replace(options, threshold=0.0, top_k=1)
    out: list[Decoded] = []
    for item in scored:
        if item is None:
            out.append(None)
            continue
        prediction = decode(item, base)
        out.append(tuple((e.start, e.end, e.label, e.score) for e in prediction.entities))
    return out


@dataclass
class _Packed:
    """The texts of one label set, every per-token array concatenated."""

    positions: list[int]  # where each text is in the corpus
    labels: LabelSet
    probs: np.ndarray  # (N, labels)
    special: np.ndarray  # (N,) bool
    offsets: np.ndarray  # (N, 2), clipped to each text
    doc_of: np.ndarray  # (N,) index into ``positions`` of each token's text
    doc_starts: np.ndarray  # (texts + 1,) first token of each text, then N
    word_starts: np.ndarray  # first token of each word unit (never across texts)


class CorpusDecoder:
    """Every kept text packed once into concatenated arrays and decoded in one vectorised pass
    per (aggregation, mode), remembered: the same entities as :func:`decode` text by text
    (at threshold 0; tests compare them), without building any per-token object.

    No unit crosses from one text into the next: word units start afresh at each text, and
    an outside code is put between texts before the tagging scheme is decoded (the decoder
    closes an entity at the end of a sequence exactly as at an ``O``). A text whose arrays are
    inconsistent goes through :func:`decode` alone, which raises as it always did."""

    def __init__(self, scored: Sequence[ScoredText | None]) -> None:
        self.scored = list(scored)
        self._cache: dict[tuple[str, str], list[Decoded]] = {}
        # The corpus scores already computed from these texts, by options (for the caller
        # to fill: a setting visited again is then a lookup).
        self.seen: dict[DecodeOptions, CorpusScores] = {}
        groups: dict[tuple[str, ...], list[int]] = {}
        self._alone: list[int] = []
        for i, item in enumerate(self.scored):
            if item is None:
                continue
            labels = label_set(tuple(item.id2label))
            try:
                _check_shapes(item, np.asarray(item.probs), len(item.token_strs), labels)
            except ValueError:
                self._alone.append(i)
                continue
            groups.setdefault(tuple(item.id2label), []).append(i)
        self._packs = [self._pack(ids, positions) for ids, positions in groups.items()]

    def matches(self, scored: Sequence[ScoredText | None]) -> bool:
        """Whether this decoder holds exactly these kept scores (the same objects)."""
        return len(scored) == len(self.scored) and all(
            a is b for a, b in zip(scored, self.scored, strict=True)
        )

    def _pack(self, id2label: tuple[str, ...], positions: list[int]) -> _Packed:
        texts = [item for item in (self.scored[i] for i in positions) if item is not None]
        sizes = np.array([len(t.token_strs) for t in texts], dtype=np.int64)
        n = int(sizes.sum())
        doc_starts = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        doc_of = np.repeat(np.arange(len(texts)), sizes)
        labels = label_set(id2label)
        m = len(labels)
        probs = (
            np.concatenate([np.asarray(t.probs).reshape(-1, m) for t in texts])
            if n
            else np.zeros((0, m), dtype=np.float32)
        )
        special = (
            np.concatenate([np.asarray(t.special, dtype=bool).reshape(-1) for t in texts])
            if n
            else np.zeros(0, dtype=bool)
        )
        offsets = (
            np.concatenate([np.asarray(t.offsets, dtype=np.int64).reshape(-1, 2) for t in texts])
            if n
            else np.zeros((0, 2), dtype=np.int64)
        )
        lengths = np.array([len(t.text) for t in texts], dtype=np.int64)[doc_of]
        offsets = np.minimum(np.maximum(offsets, 0), lengths[:, None])
        wid = np.fromiter(
            (-1 if w is None else w for t in texts for w in t.word_ids), dtype=np.int64, count=n
        )
        alone = special | (wid < 0)
        new = np.ones(n, dtype=bool)
        new[1:] = (wid[1:] != wid[:-1]) | alone[1:] | alone[:-1]
        new[doc_starts[:-1][sizes > 0]] = True
        return _Packed(
            positions, labels, probs, special, offsets, doc_of, doc_starts, np.flatnonzero(new)
        )

    def decode(self, options: DecodeOptions) -> list[Decoded]:
        """Each text's entities at threshold 0 under ``options``'s aggregation and mode
        (remembered: asking again for the same aggregation and mode is a lookup)."""
        key = (options.aggregation, options.mode)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self.decode_uncached(options)
        return cached

    def decode_uncached(self, options: DecodeOptions) -> list[Decoded]:
        """:meth:`decode` without looking at or filling what is remembered."""
        out: list[Decoded] = [None] * len(self.scored)
        for pack in self._packs:
            for position, entities in zip(
                pack.positions, _decode_packed(pack, options), strict=True
            ):
                out[position] = entities
        if self._alone:
            alone = decode_each([self.scored[i] for i in self._alone], options)
            for position, one in zip(self._alone, alone, strict=True):
                out[position] = one
        return out


def _decode_packed(pack: _Packed, options: DecodeOptions) -> list[tuple[EntityTuple, ...]]:
    """:func:`decode`'s steps on the concatenated arrays (see :class:`CorpusDecoder`)."""
    n, texts = len(pack.special), len(pack.positions)
    if n == 0:
        return [() for _ in range(texts)]
    labels, special = pack.labels, pack.special
    by_word = options.aggregation in WORD_AGGREGATIONS
    u_start = pack.word_starts if by_word else np.arange(n)
    word_ids = cast("Sequence[int | None]", pack.doc_of)  # only its length is read: units given
    label_ids, scores = aggregate(
        pack.probs, word_ids, special, options.aggregation, labels, units=u_start
    )
    u_end = np.append(u_start[1:], n)
    u_label = label_ids[u_start]
    codes = labels.codes[u_label]
    codes[special[u_start]] = OUT
    types = labels.type_ids[u_label]
    # An outside code before every text but the first, so no entity runs from one into the next.
    first_unit = np.searchsorted(u_start, pack.doc_starts[1:-1])
    codes_s = np.insert(codes, first_unit, OUT)
    types_s = np.insert(types, first_unit, 0)
    real = np.ones(len(codes_s), dtype=bool)
    real[first_unit + np.arange(len(first_unit))] = False
    unit_of = np.cumsum(real) - 1  # position with separators -> unit
    starts_s, ends_s, rejected_s = decode_codes(codes_s, types_s, labels.scheme, options.mode)
    if options.aggregation == "none":
        rejected = rejected_s[real]
        starts = np.flatnonzero((codes != OUT) & ~rejected)
        ends = starts + 1
    else:
        starts, ends = unit_of[starts_s], unit_of[ends_s - 1] + 1
    if len(starts) == 0:
        return [() for _ in range(texts)]
    u_score = scores[u_start].astype(np.float64)
    mean = _segment_reduce(np.add, u_score, starts, ends) / (ends - starts)
    tok_start, tok_end = u_start[starts], u_end[ends - 1]
    offsets = pack.offsets
    has_chars = (offsets[:, 1] > offsets[:, 0]) & ~special
    big = int(offsets[:, 1].max(initial=0)) + 1
    first_char = _segment_reduce(
        np.minimum, np.where(has_chars, offsets[:, 0], big), tok_start, tok_end
    )
    last_char = _segment_reduce(
        np.maximum, np.where(has_chars, offsets[:, 1], -1), tok_start, tok_end
    )
    doc = pack.doc_of[tok_start]
    kept = np.flatnonzero((first_char < last_char) & (mean >= 0.0))
    kept = kept[np.lexsort((last_char[kept], first_char[kept], doc[kept]))]
    doc_k, first_k, last_k = doc[kept], first_char[kept], last_char[kept]
    names = np.array(labels.entity_types, dtype=object)[types[starts[kept]]].tolist()
    rows = list(zip(first_k.tolist(), last_k.tolist(), names, mean[kept].tolist(), strict=True))
    same_doc = doc_k[1:] == doc_k[:-1]
    if (same_doc & (first_k[1:] < last_k[:-1])).any():  # tokens sharing characters: rare
        docs, rows = _trimmed(rows, doc_k.tolist())
        doc_k = np.array(docs, dtype=np.int64)
    bounds = np.searchsorted(doc_k, np.arange(texts + 1)).tolist()
    return [tuple(rows[bounds[i] : bounds[i + 1]]) for i in range(texts)]


def _trimmed(rows: list[EntityTuple], docs: list[int]) -> tuple[list[int], list[EntityTuple]]:
    """:func:`decode`'s trimming, text by text: an entity starting before the previous one
    ended starts where it ended, or is dropped when nothing is left."""
    out_docs: list[int] = []
    out: list[EntityTuple] = []
    prev_doc, prev_end = -1, 0
    for d, (s, e, label, score) in zip(docs, rows, strict=True):
        if d != prev_doc:
            prev_doc, prev_end = d, 0
        if s < prev_end:
            s = prev_end
            if s >= e:
                continue
        out_docs.append(d)
        out.append((s, e, label, score))
        prev_end = e
    return out_docs, out


def rescore(
    docs: Sequence[CorpusDocument],
    decoded: Sequence[Decoded],
    options: DecodeOptions,
    *,
    previous: CorpusScores | None = None,
    redo_share: float = 0.5,
) -> CorpusScores:
    """Score every document from its threshold-0 entities, keeping those at ``options``'s
    threshold; documents with an error or no entities list (``decoded`` None) are unscored.

    ``previous``: the scores of the same documents under other options; only the documents
    whose kept entities differ are scored again (the result is the same as without it).
    When more than ``redo_share`` of them have other spans, every document is scored afresh
    (taking a document's counts out and putting the new ones in costs two scorings)."""
    threshold = options.threshold
    if (
        previous is None
        or previous.totals is None
        or len(previous.results) != len(docs)
        or len(docs) == 0
    ):
        return _rescore_all(docs, decoded, options)
    results = list(previous.results)
    todo: list[tuple[int, tuple[EntityTuple, ...]]] = []
    moved: list[tuple[int, tuple[EntityTuple, ...]]] = []  # the same spans, other scores
    for i, (doc, entities, old) in enumerate(zip(docs, decoded, results, strict=True)):
        kept = () if entities is None else tuple(e for e in entities if e[3] >= threshold)
        scored = entities is not None and doc.gold is not None
        if old.doc is doc and (old.score is not None) == scored:
            if old.entities == kept:
                continue  # the same result as before
            if old.score is not None and _same_spans(old.entities, kept):
                moved.append((i, kept))
                continue
        todo.append((i, kept))
    if len(todo) > redo_share * len(docs):
        return _rescore_all(docs, decoded, options)
    totals = previous.totals.copy()
    for i, kept in moved:
        results[i] = _new_confidence(results[i], kept, totals)
    for i, kept in todo:
        doc, entities, old = docs[i], decoded[i], results[i]
        if old.score is not None and old.doc.gold is not None:
            gone = Scorer()
            score_document(gone, old.doc, old.doc.gold, old.predicted)
            totals.merge(gone, sign=-1)
        if entities is None:
            results[i] = DocumentResult(doc, (), (), None, None)
            continue
        predicted = predicted_spans(doc, kept)
        score = None
        if doc.gold is not None:
            one = Scorer()
            score = score_document(one, doc, doc.gold, predicted)
            totals.merge(one)
        low = min((e[3] for e in kept), default=None)
        results[i] = DocumentResult(doc, kept, predicted, score, low)
    any_gold = any(r.score is not None for r in results)
    report = totals.report() if any_gold else None
    return CorpusScores(options, report, tuple(results), totals)


def _same_spans(a: tuple[EntityTuple, ...], b: tuple[EntityTuple, ...]) -> bool:
    return len(a) == len(b) and all(x[:3] == y[:3] for x, y in zip(a, b, strict=True))


def _new_confidence(
    old: DocumentResult, kept: tuple[EntityTuple, ...], totals: Scorer
) -> DocumentResult:
    """``old`` with the same entities at other scores (another aggregation often moves only
    the scores): every count and error is the same, but for the spans' scores and the score
    curve's counts, moved in ``totals``."""
    doc, score = old.doc, old.score
    assert doc.gold is not None and score is not None
    predicted = predicted_spans(doc, kept)
    totals.rescore_confidence(doc.gold, old.predicted, predicted)
    now = {id(a): b for a, b in zip(old.predicted, predicted, strict=True)}
    errors = tuple(
        error if error.pred is None else ScoredError(error.kind, error.gold, now[id(error.pred)])
        for error in score.errors
    )
    low = min((e[3] for e in kept), default=None)
    new_score = DocumentScore(score.correct, score.gold, score.predicted, errors)
    return DocumentResult(doc, kept, predicted, new_score, low)


def _rescore_all(
    docs: Sequence[CorpusDocument], decoded: Sequence[Decoded], options: DecodeOptions
) -> CorpusScores:
    scorer = Scorer()
    results: list[DocumentResult] = []
    any_gold = False
    for doc, entities in zip(docs, decoded, strict=True):
        if entities is None:
            results.append(DocumentResult(doc, (), (), None, None))
            continue
        kept = tuple(e for e in entities if e[3] >= options.threshold)
        predicted = predicted_spans(doc, kept)
        score = None
        if doc.gold is not None:
            any_gold = True
            score = score_document(scorer, doc, doc.gold, predicted)
        low = min((e[3] for e in kept), default=None)
        results.append(DocumentResult(doc, kept, predicted, score, low))
    report = scorer.report() if any_gold else None
    return CorpusScores(options, report, tuple(results), scorer)


SortKey = Literal["document", "errors", "f1", "confidence"]
SORT_KEYS: tuple[SortKey, ...] = get_args(SortKey)


def _errors_of(result: DocumentResult, kind: str | None, label: str | None) -> list[ScoredError]:
    errors = result.score.errors if result.score is not None else ()
    return [
        e
        for e in errors
        if (kind is None or e.kind == kind)
        and (label is None or label in {s.label for s in (e.gold, e.pred) if s is not None})
    ]


def select(
    results: Sequence[DocumentResult],
    *,
    sort: SortKey = "document",
    label: str | None = None,
    kind: str | None = None,
) -> list[DocumentResult]:
    """The documents to list: with an entity (gold or predicted) of type ``label`` and an
    error of ``kind`` (of that type), ordered by ``sort``: corpus order, most errors first,
    lowest F1 first, or lowest entity confidence first (unscored/entity-less documents last)."""
    chosen = []
    for r in results:
        if label is not None:
            spans = (*(r.doc.gold or ()), *r.predicted)
            if not any(s.label == label for s in spans):
                continue
        if kind is not None and not _errors_of(r, kind, label):
            continue
        chosen.append(r)
    if sort == "errors":
        chosen.sort(key=lambda r: (-r.error_count, r.doc.index))
    elif sort == "f1":
        chosen.sort(key=lambda r: (r.score is None, r.score.f1 if r.score else 0.0, r.doc.index))
    elif sort == "confidence":
        chosen.sort(key=lambda r: (r.min_confidence is None, r.min_confidence or 0.0, r.doc.index))
    return chosen


def all_errors(
    results: Sequence[DocumentResult], *, kind: str | None = None, label: str | None = None
) -> list[tuple[DocumentResult, int]]:
    """Every error (of ``kind``, touching type ``label``) as (document, index in its errors)."""
    out: list[tuple[DocumentResult, int]] = []
    for r in results:
        errors = r.score.errors if r.score is not None else ()
        wanted = set(map(id, _errors_of(r, kind, label)))
        out.extend((r, i) for i, e in enumerate(errors) if id(e) in wanted)
    return out


def entity_types(results: Sequence[DocumentResult]) -> list[str]:
    """Every entity type in gold or predictions, sorted."""
    return sorted({s.label for r in results for s in (*(r.doc.gold or ()), *r.predicted)})
