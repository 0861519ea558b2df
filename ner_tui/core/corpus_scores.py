"""A whole corpus scored from kept model scores: the app's corpus view, without Textual.

The model is asked once per document (the :class:`ScoredText` is kept); changing aggregation,
strict mode or threshold re-scores the corpus from those scores alone:

- aggregation or mode changed: every kept text is decoded again, all texts in one vectorised
  pass over arrays packed once (:class:`CorpusDecoder`; the entities equal
  :func:`~ner_tui.core.decoding.decode`'s text by text), each (aggregation, mode) once;
- only the threshold changed: the entities decoded at threshold 0 are filtered by their mean
  score, which is exactly what :func:`~ner_tui.core.decoding.decode` does with a threshold, so
  no text is decoded again (:func:`rescore`).

Every document is scored as :func:`~ner_tui.core.evaluation.score_document` scores it (the
same step as ``ner-tui eval``, so the numbers are eval's), all documents in one vectorised pass
(:func:`_score_batch`; the per-document step, :func:`_rescore_plain`, is its reference, which
tests compare it with, and takes the documents the pass does not cover). The corpus's constants
(units, gold entities and gold unit types) are computed once and carried from one
:class:`CorpusScores` to the next. Given the previous :class:`CorpusScores`,
:func:`rescore` scores again only the documents whose kept entities changed: their old counts
are taken out of the corpus totals and the new ones put in (:meth:`Scorer.merge`), which leaves
exactly the totals of scoring every document afresh.
"""

from __future__ import annotations

import gc
import itertools
import operator
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast, get_args

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
from ner_tui.core.evaluation import _WORD, predicted_spans, score_document
from ner_tui.core.labels import OUT, LabelSet
from ner_tui.core.matching import ERROR_KINDS, MIN_OVERLAP_PERCENT, ErrorKind
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
    # The corpus's constants for re-scoring it (documents only, never predictions).
    prepared: _Prepared | None = field(default=None, repr=False, compare=False)


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


#: How many documents' results :meth:`CorpusDecoder.remember` keeps over all settings (about
#: 20 settings of a 10,000-sentence corpus, 2 of 100,000).
SEEN_DOCUMENTS = 200_000


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
        # The corpus scores already computed from these texts, by options, most recent last
        # (remember/recall: a setting visited again is a lookup).
        self._seen: OrderedDict[DecodeOptions, CorpusScores] = OrderedDict()
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

    def remember(self, scores: CorpusScores) -> None:
        """Keep ``scores`` for :meth:`recall`: the most recent settings, as many as hold
        :data:`SEEN_DOCUMENTS` documents' results in all (at least the last one), since a
        sweep of thresholds across aggregations would otherwise keep hundreds of corpora."""
        self._seen[scores.options] = scores
        self._seen.move_to_end(scores.options)
        keep = max(1, SEEN_DOCUMENTS // max(1, len(scores.results)))
        while len(self._seen) > keep:
            self._seen.popitem(last=False)

    def recall(self, options: DecodeOptions, documents: int) -> CorpusScores | None:
        """The scores remembered for ``options`` over ``documents`` documents, if any."""
        scores = self._seen.get(options)
        if scores is None or len(scores.results) != documents:
            return None
        self._seen.move_to_end(options)
        return scores

    def score(
        self,
        docs: Sequence[CorpusDocument],
        options: DecodeOptions,
        *,
        previous: CorpusScores | None = None,
    ) -> CorpusScores:
        """``docs`` scored under ``options`` from these kept scores (:func:`rescore` of
        :meth:`decode`'s entities, given ``previous``), and remembered for :meth:`recall`."""
        scores = rescore(docs, self.decode(options), options, previous=previous)
        self.remember(scores)
        return scores

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
            with _gc_paused():  # tens of thousands of entity tuples, none in a cycle
                decoded = _decode_packed(pack, options)
            for position, entities in zip(pack.positions, decoded, strict=True):
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
    whose kept entities differ are scored again (the result is the same as without it), and
    the corpus's constants it holds are reused. When more than ``redo_share`` of them have
    other entities, every document is scored afresh (taking a document's counts out and
    putting the new ones in costs two scorings)."""
    threshold = options.threshold
    prep = previous.prepared if previous is not None else None
    if prep is not None and not prep.holds(docs):
        prep = None
    if (
        previous is None
        or previous.totals is None
        or prep is None
        or len(previous.results) != len(docs)
        or len(docs) == 0
    ):
        return _rescore_all(docs, decoded, options, prep)
    batch = _flatten(range(len(docs)), list(decoded), threshold)
    if batch is None:
        return _rescore_all(docs, decoded, options, prep)
    results = list(previous.results)
    todo: list[int] = []
    most = redo_share * len(docs)
    for i, (doc, entities, old, whole) in enumerate(
        zip(docs, decoded, results, batch.whole(), strict=True)
    ):
        if old.doc is not doc:
            return _rescore_all(docs, decoded, options, prep, batch)
        if entities is None:
            kept: tuple[EntityTuple, ...] = ()
        elif whole and type(entities) is tuple:
            kept = entities
        else:
            kept = tuple(e for e in entities if e[3] >= threshold)
        scored = entities is not None and doc.gold is not None
        if (old.score is not None) == scored and old.entities == kept:
            continue  # the same result as before
        todo.append(i)
        if len(todo) > most:  # no need to look further
            return _rescore_all(docs, decoded, options, prep, batch)
    old_lists = [results[i].entities if results[i].score is not None else None for i in todo]
    gone_batch = _flatten(todo, old_lists, None)
    new_batch = _flatten(todo, [decoded[i] for i in todo], threshold)
    if gone_batch is None or new_batch is None:
        return _rescore_all(docs, decoded, options, prep)
    totals = previous.totals.copy()
    gone, new = Scorer(), Scorer()
    with _gc_paused():
        _score_batch(prep, gone_batch, gone, build=False)
        fresh = _score_batch(prep, new_batch, new)
    totals.merge(gone, sign=-1)
    for i, result in zip(todo, fresh, strict=True):
        results[i] = result
    totals.merge(new)
    any_gold = any(r.score is not None for r in results)
    report = totals.report() if any_gold else None
    return CorpusScores(options, report, tuple(results), totals, prep)


def _rescore_all(
    docs: Sequence[CorpusDocument],
    decoded: Sequence[Decoded],
    options: DecodeOptions,
    prep: _Prepared | None = None,
    batch: _Batch | None = None,
) -> CorpusScores:
    """Every document scored in one vectorised pass (:func:`_score_batch`), documents it
    does not cover one by one; the same as :func:`_rescore_plain`."""
    if not docs:
        return _rescore_plain(docs, decoded, options)
    if prep is None:
        prep = _prepare(docs)
    if batch is None:
        batch = _flatten(range(len(docs)), list(decoded), options.threshold)
    if batch is None:
        return replace(_rescore_plain(docs, decoded, options), prepared=prep)
    scorer = Scorer()
    with _gc_paused():
        results = _score_batch(prep, batch, scorer)
    any_gold = any(r.score is not None for r in results)
    report = scorer.report() if any_gold else None
    return CorpusScores(options, report, tuple(results), scorer, prep)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a batch builds its results: tens of thousands
    of new objects (none in a cycle) would otherwise start several collections, each walking
    every object the process holds (a third of the time of a 10,000-document re-score)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _rescore_plain(
    docs: Sequence[CorpusDocument], decoded: Sequence[Decoded], options: DecodeOptions
) -> CorpusScores:
    """Every document scored with :func:`score_document`, one by one: the reference."""
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


# --------------------------------------------------------------------------- vectorised scoring
#
# The full re-score in one vectorised pass over the whole corpus (numpy), with the per-document
# Python path (:func:`_rescore_plain`, ``score_document``) kept as the reference and as the
# fallback for documents whose shapes the vectorised rules below do not cover.
#
# Both sides of a document are sorted and do not overlap (a CoNLL gold from its tags, a JSONL
# gold as read, predictions as decoded; ``token_spans`` keeps them so), so the overlap graph of
# a document falls apart into chains. When every chain is a "star" (one gold entity with the
# predictions that overlap it, each overlapping nothing else; or one prediction with the gold
# entities it overlaps, each overlapping nothing else) nervaluate's greedy walks and the error
# browser's pairing reduce to "the first (or closest, or best-tiered) edge of each star", which
# numpy computes for every document at once. Documents with a longer chain, or whose spans are
# not sorted and apart, go through the plain path, document by document.

_CORRECT, _INCORRECT, _PARTIAL, _MISSED, _SPURIOUS = range(5)
_KIND_OF_TIER = (-1, 2, 3, 4)  # tier -> index in ERROR_KINDS (tier 0: a correct pair)


@dataclass
class _Prepared:
    """The constants of one corpus (documents, never predictions) in concatenated arrays,
    computed once for every document and carried from one :class:`CorpusScores` to the next.

    Two coordinate lines: characters (``cbase[d] + char``: tokens and words are mapped
    there) and gold units (``ubase[d] + unit``: token indices of a CoNLL gold, characters of a
    JSONL one); each document owns a window of each, one longer than anything in it, so a
    searchsorted over the whole corpus never crosses from one document into the next."""

    docs: tuple[CorpusDocument, ...]
    names: list[str]  # label code -> type ("" is 0, outside)
    codes: dict[str, int]
    slow: np.ndarray  # (D,) bool: scored by the plain path only
    conll: np.ndarray  # (D,) bool: gold over doc.tokens
    has_gold: np.ndarray  # (D,) bool
    cbase: np.ndarray  # (D,) first position of each document on the character line
    cwidth: np.ndarray  # (D,) its window's last position (relative)
    ubase: np.ndarray  # (D,) the same on the gold-unit line
    uwidth: np.ndarray  # (D,)
    unit_first: np.ndarray  # (D + 1,) first unit (token or word) of each document
    unit_cs: np.ndarray  # (U,) each unit's characters on the character line
    unit_ce: np.ndarray  # (U,)
    unit_doc: np.ndarray  # (U,)
    gold_code: np.ndarray  # (U,) the gold type of each unit (0: outside)
    gold_first: np.ndarray  # (D + 1,) first gold entity of each document
    g_doc: np.ndarray  # (G,) gold entities of the documents not slow, in order
    g_s: np.ndarray  # (G,) in the gold's units
    g_e: np.ndarray  # (G,)
    g_lab: np.ndarray  # (G,) label codes

    def holds(self, docs: Sequence[CorpusDocument]) -> bool:
        return len(docs) == len(self.docs) and all(map(operator.is_, docs, self.docs))


def _segment_first(keys: np.ndarray) -> np.ndarray:
    """Where each run of equal ``keys`` starts (a boolean mask)."""
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    return first


def _apart(doc: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per item: it starts before the previous item of its document ended (bad)."""
    bad = np.zeros(len(doc), dtype=bool)
    bad[1:] = (doc[1:] == doc[:-1]) & (starts[1:] < ends[:-1])
    return bad


def _exclusive_cummax(values: np.ndarray, floor: int = 0) -> np.ndarray:
    out = np.full(len(values), floor, dtype=np.int64)
    if len(values) > 1:
        out[1:] = np.maximum.accumulate(values)[:-1]
    return np.maximum(out, floor)


def _paint(size: int, lo: np.ndarray, hi: np.ndarray, values: np.ndarray) -> np.ndarray:
    """An array of ``size`` zeros with ``values[k]`` on ``[lo[k], hi[k])`` (ranges apart)."""
    out = np.zeros(size, dtype=np.int64)
    lengths = hi - lo
    keep = lengths > 0
    lo, lengths, values = lo[keep], lengths[keep], values[keep]
    total = int(lengths.sum())
    if total:
        ends = np.cumsum(lengths)
        out[np.repeat(lo - ends + lengths, lengths) + np.arange(total)] = np.repeat(values, lengths)
    return out


def _word_ranges(
    prep: _Prepared, doc: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The units (words) a JSONL document's sorted, apart character spans give their type to
    (:func:`~ner_tui.core.evaluation._token_types`: every word it overlaps that no earlier
    span took), as global unit ranges."""
    width = prep.cwidth[doc]
    lo = prep.cbase[doc] + np.clip(starts, 0, width)
    hi = prep.cbase[doc] + np.clip(ends, 0, width)
    w0 = np.searchsorted(prep.unit_ce, lo, side="right")
    w1 = np.searchsorted(prep.unit_cs, hi, side="left")
    return np.maximum(w0, _exclusive_cummax(w1)), w1


def _prepare(docs: Sequence[CorpusDocument]) -> _Prepared:
    """Each document's units, gold entities and gold unit types, for every document."""
    n = len(docs)
    codes: dict[str, int] = {"": 0}
    conll = np.zeros(n, dtype=bool)
    n_units = np.zeros(n, dtype=np.int64)
    n_gold = np.zeros(n, dtype=np.int64)
    text_len = np.zeros(n, dtype=np.int64)
    units: list[tuple[int, int]] = []
    gold_s: list[int] = []
    gold_e: list[int] = []
    gold_l: list[int] = []
    for d, doc in enumerate(docs):
        text_len[d] = len(doc.text)
        tokens = doc.tokens
        if tokens is not None:
            conll[d] = True
            units.extend(tokens)
            n_units[d] = len(tokens)
        elif doc.gold is not None:
            words = [m.span() for m in _WORD.finditer(doc.text)]
            units.extend(words)
            n_units[d] = len(words)
        if doc.gold:
            n_gold[d] = len(doc.gold)
            for span in doc.gold:
                gold_s.append(span.start)
                gold_e.append(span.end)
                gold_l.append(codes.setdefault(span.label, len(codes)))
    unit = np.array(units, dtype=np.int64).reshape(-1, 2)
    unit_doc = np.repeat(np.arange(n), n_units)
    g_doc = np.repeat(np.arange(n), n_gold)
    g_s = np.array(gold_s, dtype=np.int64)
    g_e = np.array(gold_e, dtype=np.int64)
    g_lab = np.array(gold_l, dtype=np.int64)
    # Anything the rules below do not hold for goes the plain way: units (tokens) empty,
    # negative or out of order; gold entities empty, out of order, overlapping or (CoNLL)
    # past the last token.
    slow = np.zeros(n, dtype=bool)
    bad_unit = (
        (unit[:, 0] < 0) | (unit[:, 1] <= unit[:, 0]) | _apart(unit_doc, unit[:, 0], unit[:, 1])
    )
    slow[unit_doc[bad_unit]] = True
    bad_gold = (g_s < 0) | (g_e <= g_s) | _apart(g_doc, g_s, g_e)
    bad_gold |= conll[g_doc] & (g_e > n_units[g_doc])
    slow[g_doc[bad_gold]] = True
    keep_unit, keep_gold = ~slow[unit_doc], ~slow[g_doc]
    unit, unit_doc = unit[keep_unit], unit_doc[keep_unit]
    g_doc, g_s, g_e, g_lab = g_doc[keep_gold], g_s[keep_gold], g_e[keep_gold], g_lab[keep_gold]
    n_units[slow] = 0
    n_gold[slow] = 0
    unit_first = np.concatenate(([0], np.cumsum(n_units))).astype(np.int64)
    gold_first = np.concatenate(([0], np.cumsum(n_gold))).astype(np.int64)
    # Windows: the text, every unit and every (JSONL) gold entity fit in their document's.
    cwidth = text_len.copy()
    has_units = n_units > 0
    cwidth[has_units] = np.maximum(cwidth[has_units], unit[unit_first[1:][has_units] - 1, 1])
    has_gold = n_gold > 0
    last_gold_end = np.zeros(n, dtype=np.int64)
    last_gold_end[has_gold] = g_e[gold_first[1:][has_gold] - 1]
    cwidth = np.maximum(cwidth, np.where(conll, 0, last_gold_end))
    uwidth = np.where(conll, n_units, cwidth)
    cbase = np.concatenate(([0], np.cumsum(cwidth + 1)[:-1])).astype(np.int64)
    ubase = np.concatenate(([0], np.cumsum(uwidth + 1)[:-1])).astype(np.int64)
    unit_cs = cbase[unit_doc] + unit[:, 0]
    unit_ce = cbase[unit_doc] + unit[:, 1]
    prep = _Prepared(
        tuple(docs),
        list(codes),
        codes,
        slow,
        conll,
        np.array([doc.gold is not None for doc in docs], dtype=bool),
        cbase,
        cwidth,
        ubase,
        uwidth,
        unit_first,
        unit_cs,
        unit_ce,
        unit_doc,
        np.zeros(0, dtype=np.int64),
        gold_first,
        g_doc,
        g_s,
        g_e,
        g_lab,
    )
    on_tokens = conll[g_doc]
    lo = np.where(on_tokens, unit_first[g_doc] + g_s, 0)
    hi = np.where(on_tokens, unit_first[g_doc] + g_e, 0)
    chars = ~on_tokens
    if chars.any():
        lo[chars], hi[chars] = _word_ranges(prep, g_doc[chars], g_s[chars], g_e[chars])
    prep.gold_code = _paint(len(unit_doc), lo, hi, g_lab)
    return prep


@dataclass
class _Batch:
    """The flat view of some documents' entities (:func:`_score_batch`'s input)."""

    sel: np.ndarray  # (B,) document positions, ascending
    lists: list[tuple[EntityTuple, ...] | None]
    flat: list[EntityTuple]
    e_doc: np.ndarray  # (E,) the document of each entity
    e_s: np.ndarray
    e_e: np.ndarray
    e_label: tuple[str, ...]
    e_score: np.ndarray
    keep: np.ndarray  # (E,) kept at the threshold
    threshold: float
    keep_all: bool  # no threshold: every entity kept

    def whole(self) -> list[bool]:
        """Per document: every entity kept."""
        bounds = np.append(np.searchsorted(self.e_doc, self.sel), len(self.e_doc))
        kept = np.concatenate(([0], np.cumsum(self.keep)))
        return ((kept[bounds[1:]] - kept[bounds[:-1]]) == np.diff(bounds)).tolist()


def _flatten(
    sel: Sequence[int], lists: list[tuple[EntityTuple, ...] | None], threshold: float | None
) -> _Batch | None:
    """None when a score is not a float (the plain path then scores everything)."""
    sizes = np.array([0 if e is None else len(e) for e in lists], dtype=np.int64)
    flat = [x for e in lists if e for x in e]
    sel_a = np.asarray(sel, dtype=np.int64)
    e_doc = np.repeat(sel_a, sizes)
    if flat:
        starts, ends, e_label, scores = zip(*flat, strict=True)
        e_score = np.array(scores)
        if e_score.dtype != np.float64:
            return None
        try:
            e_s = np.array(starts, dtype=np.int64)
            e_e = np.array(ends, dtype=np.int64)
        except (TypeError, ValueError, OverflowError):
            return None
    else:
        e_s = e_e = np.zeros(0, dtype=np.int64)
        e_score = np.zeros(0, dtype=np.float64)
        e_label = ()
    keep = np.ones(len(flat), dtype=bool) if threshold is None else e_score >= threshold
    return _Batch(
        sel_a,
        lists,
        flat,
        e_doc,
        e_s,
        e_e,
        e_label,
        e_score,
        keep,
        threshold or 0.0,
        threshold is None,
    )


def _score_batch(
    prep: _Prepared, batch: _Batch, scorer: Scorer, *, build: bool = True
) -> list[DocumentResult]:
    """Score ``batch``'s documents into ``scorer``; their results, in order (see above), or
    none when not ``build`` (only the counts wanted)."""
    docs = prep.docs
    n_docs = len(docs)
    grid = scorer.grid
    in_batch = np.zeros(n_docs, dtype=bool)
    in_batch[batch.sel] = True
    predicted_doc = np.zeros(n_docs, dtype=bool)
    predicted_doc[batch.sel[[e is not None for e in batch.lists]]] = True
    has_gold = prep.has_gold

    # Kept entities, and the documents whose kept entities break the rules (plain path).
    kept_idx = np.flatnonzero(batch.keep)
    k_doc, k_s, k_e = batch.e_doc[kept_idx], batch.e_s[kept_idx], batch.e_e[kept_idx]
    k_score = batch.e_score[kept_idx]
    slow = prep.slow.copy()
    on_tokens = prep.conll[k_doc]
    bad = (k_e <= k_s) | (~on_tokens & _apart(k_doc, k_s, k_e))
    slow[k_doc[bad]] = True

    # Predicted spans in the gold's units: JSONL as they are; CoNLL through token_spans's
    # walk (an entity takes the tokens it overlaps that no earlier entity took).
    p_s, p_e = k_s.copy(), k_e.copy()
    emitted = np.ones(len(kept_idx), dtype=bool)
    tok = np.flatnonzero(on_tokens)
    if len(tok):
        d = k_doc[tok]
        width = prep.cwidth[d]
        lo = prep.cbase[d] + np.clip(k_s[tok], 0, width)
        hi = prep.cbase[d] + np.clip(k_e[tok], 0, width)
        raw_first = np.searchsorted(prep.unit_ce, lo, side="right")
        raw_last = np.searchsorted(prep.unit_cs, hi, side="left")
        first = np.maximum(raw_first, _exclusive_cummax(raw_last))
        last = np.maximum(raw_last, first)
        emitted[tok] = last > first
        p_s[tok] = first - prep.unit_first[d]
        p_e[tok] = last - prep.unit_first[d]
    p_idx = np.flatnonzero(emitted)  # into the kept entities
    p_doc, p_s, p_e = k_doc[p_idx], p_s[p_idx], p_e[p_idx]
    p_score = k_score[p_idx]
    codes = dict(prep.codes)
    names = list(prep.names)
    flat = batch.flat
    for label in sorted(set(batch.e_label) - codes.keys()):
        codes[label] = len(names)
        names.append(label)
    e_lab = np.fromiter(map(codes.__getitem__, batch.e_label), np.int64, len(batch.e_label))
    p_lab = e_lab[kept_idx[p_idx]]
    labels = np.array(names, dtype=object)[p_lab].tolist()

    # Scored documents: with gold, predicted, in the batch. Overlaps between their gold and
    # predicted entities, as ranges (both sides sorted and apart in each document).
    scored = in_batch & has_gold & predicted_doc
    p_in = np.flatnonzero(scored[p_doc] & ~slow[p_doc])
    g_in = np.flatnonzero(scored[prep.g_doc] & ~slow[prep.g_doc])
    pd, ps, pe, pl = p_doc[p_in], p_s[p_in], p_e[p_in], p_lab[p_in]
    gd, gs, ge, gl = prep.g_doc[g_in], prep.g_s[g_in], prep.g_e[g_in], prep.g_lab[g_in]
    P_s = prep.ubase[pd] + np.clip(ps, 0, prep.uwidth[pd])
    P_e = prep.ubase[pd] + np.clip(pe, 0, prep.uwidth[pd])
    G_s, G_e = prep.ubase[gd] + gs, prep.ubase[gd] + ge
    ov_lo = np.searchsorted(G_e, P_s, side="right")
    ov_hi = np.searchsorted(G_s, P_e, side="left")
    pdeg = np.maximum(ov_hi - ov_lo, 0)
    pv_lo = np.searchsorted(P_e, G_s, side="right")
    pv_hi = np.searchsorted(P_s, G_e, side="left")
    gdeg = np.maximum(pv_hi - pv_lo, 0)
    n_edges = int(pdeg.sum())
    e_p = np.repeat(np.arange(len(pd)), pdeg)
    e_g = ov_lo[e_p] + (np.arange(n_edges) - np.repeat(np.cumsum(pdeg) - pdeg, pdeg))
    # A chain longer than a star: the plain path.
    complex_edge = (pdeg[e_p] >= 2) & (gdeg[e_g] >= 2)
    slow[pd[e_p[complex_edge]]] = True
    vec = scored & ~slow
    keep_p, keep_g = vec[pd], vec[gd]
    keep_e = keep_p[e_p]
    # Renumber the kept predictions, gold entities and edges.
    p_new = np.cumsum(keep_p) - 1
    g_new = np.cumsum(keep_g) - 1
    p_in, pd, ps, pe, pl, pdeg = (
        p_in[keep_p],
        pd[keep_p],
        ps[keep_p],
        pe[keep_p],
        pl[keep_p],
        pdeg[keep_p],
    )
    g_in, gd, gs, ge, gl = g_in[keep_g], gd[keep_g], gs[keep_g], ge[keep_g], gl[keep_g]
    e_p, e_g = p_new[e_p[keep_e]], g_new[e_g[keep_e]]

    eps, epe, egs, ege = ps[e_p], pe[e_p], gs[e_g], ge[e_g]
    shared = np.minimum(epe, ege) - np.maximum(eps, egs)
    suff = shared / (ege - egs) * 100.0 >= MIN_OVERLAP_PERCENT
    same_bounds = (eps == egs) & (epe == ege)
    same_label = pl[e_p] == gl[e_g]
    tier = np.where(same_bounds, np.where(same_label, 0, 1), np.where(same_label, 2, 3))
    gstar = pdeg[e_p] == 1  # else the prediction is a star's centre
    n_labels = len(names)
    n_gold_l = np.bincount(gl, minlength=n_labels)
    n_pred_l = np.bincount(pl, minlength=n_labels)

    # nervaluate: a gold entity's star goes to its first prediction overlapping enough (and
    # per type, to the first of its type); a prediction's star to its first gold entity
    # overlapping enough (strict, exact, partial) or the closest of its type (type).
    def firsts(mask: np.ndarray, group: np.ndarray) -> np.ndarray:
        idx = np.flatnonzero(mask)
        return idx[_segment_first(group[idx])]

    gw = firsts(gstar & suff, e_g)
    gw_l = firsts(gstar & suff & same_label, e_g)
    pw = firsts(~gstar & suff, e_p)
    pw_l = firsts(~gstar & suff & same_label, e_p)
    n_match = len(gw) + len(pw)
    strict_ok = int((same_bounds & same_label)[gw].sum())
    exact_ok = int(same_bounds[gw].sum())
    type_ok = int(same_label[gw].sum()) + len(pw_l)
    overall = [0] * 20
    missed, spurious = len(gs) - n_match, len(ps) - n_match
    for base, ok in ((0, strict_ok), (5, exact_ok), (10, exact_ok), (15, type_ok)):
        overall[base + _CORRECT] = ok
        overall[base + (_PARTIAL if base == 10 else _INCORRECT)] = n_match - ok
        overall[base + _MISSED] = missed
        overall[base + _SPURIOUS] = spurious
    lab_gw = gl[e_g[gw_l]]
    lab_pw = pl[e_p[pw_l]]
    match_l = np.bincount(lab_gw, minlength=n_labels) + np.bincount(lab_pw, minlength=n_labels)
    ok_l = np.bincount(lab_gw[same_bounds[gw_l]], minlength=n_labels)
    per_type: dict[str, list[int]] = {}
    for code in np.flatnonzero(n_gold_l + n_pred_l).tolist():
        ok, m = int(ok_l[code]), int(match_l[code])
        miss, spur = int(n_gold_l[code]) - m, int(n_pred_l[code]) - m
        acc = [0] * 20
        for base in (0, 5, 10):
            acc[base + _CORRECT] = ok
            acc[base + (_PARTIAL if base == 10 else _INCORRECT)] = m - ok
        acc[15 + _CORRECT] = m
        for base in (0, 5, 10, 15):
            acc[base + _MISSED] = miss
            acc[base + _SPURIOUS] = spur
        per_type[names[code]] = acc

    # Exact hits (no duplicates: the predictions of a document are apart).
    hit_edge = tier == 0
    hit = np.zeros(len(ps), dtype=bool)
    hit[e_p[hit_edge]] = True

    # Error kinds: each star's centre pairs with its best edge by (tier, longest shared,
    # document order); everything else in it is missed or spurious.
    order_g = np.lexsort((e_p, -shared, tier, e_g))
    order_g = order_g[gstar[order_g]]
    pair_g = order_g[_segment_first(e_g[order_g])]
    order_p = np.lexsort((e_g, -shared, tier, e_p))
    order_p = order_p[~gstar[order_p]]
    pair_p = order_p[_segment_first(e_p[order_p])]
    pairs = np.concatenate((pair_g, pair_p))
    paired_g = np.zeros(len(gs), dtype=bool)
    paired_p = np.zeros(len(ps), dtype=bool)
    paired_g[e_g[pairs]] = True
    paired_p[e_p[pairs]] = True
    pairs = pairs[tier[pairs] > 0]  # a correct pair is no error
    lone_g = np.flatnonzero(~paired_g)
    lone_p = np.flatnonzero(~paired_p)
    err_doc = np.concatenate((gd[e_g[pairs]], gd[lone_g], pd[lone_p]))
    err_s = np.concatenate((gs[e_g[pairs]], gs[lone_g], ps[lone_p]))
    err_e = np.concatenate((ge[e_g[pairs]], ge[lone_g], pe[lone_p]))
    err_kind = np.concatenate(
        (
            np.array(_KIND_OF_TIER, dtype=np.int64)[tier[pairs]],
            np.zeros(len(lone_g), dtype=np.int64),
            np.ones(len(lone_p), dtype=np.int64),
        )
    )
    err_g = np.concatenate((e_g[pairs], lone_g, np.full(len(lone_p), -1)))
    err_p = np.concatenate((e_p[pairs], np.full(len(lone_g), -1), lone_p))
    err_lab = np.concatenate((gl[e_g[pairs]], gl[lone_g], pl[lone_p]))
    category = np.concatenate((np.zeros(len(pairs)), np.ones(len(lone_g)), np.full(len(lone_p), 2)))
    order = np.lexsort((category, err_e, err_s, err_doc))
    err_doc, err_kind, err_g, err_p = err_doc[order], err_kind[order], err_g[order], err_p[order]
    err_lab = err_lab[order]
    errors_l: dict[str, dict[ErrorKind, int]] = {}
    by_kind = np.bincount(err_lab * 5 + err_kind, minlength=5 * n_labels).reshape(-1, 5)
    for code in np.flatnonzero(by_kind.sum(axis=1)).tolist():
        errors_l[names[code]] = dict(zip(ERROR_KINDS, by_kind[code].tolist(), strict=True))

    # Score curve, counts per type.
    buckets = np.searchsorted(np.asarray(grid), p_score[p_in], side="right")
    kept_counts = np.bincount(buckets, minlength=len(grid) + 1)
    kept_right = np.bincount(buckets[hit], minlength=len(grid) + 1)
    correct_l = np.bincount(pl[hit], minlength=n_labels)

    # Token confusion: the gold's units of every scored document.
    units = np.flatnonzero(vec[prep.unit_doc])
    confusion: dict[tuple[str, str], int] = {}
    if len(units):
        lo = np.zeros(len(pd), dtype=np.int64)
        hi = np.zeros(len(pd), dtype=np.int64)
        by_token = prep.conll[pd]
        lo[by_token] = prep.unit_first[pd[by_token]] + ps[by_token]
        hi[by_token] = prep.unit_first[pd[by_token]] + pe[by_token]
        chars = ~by_token
        if chars.any():
            lo[chars], hi[chars] = _word_ranges(prep, pd[chars], ps[chars], pe[chars])
        pred_code = _paint(len(prep.unit_doc), lo, hi, pl)
        pair_codes = prep.gold_code[units] * n_labels + pred_code[units]
        counts = np.bincount(pair_codes, minlength=n_labels * n_labels)
        for code in np.flatnonzero(counts).tolist():
            confusion[(names[code // n_labels], names[code % n_labels])] = int(counts[code])

    def by_name(counts: np.ndarray) -> dict[str, int]:
        return {names[c]: int(counts[c]) for c in np.flatnonzero(counts).tolist()}

    scorer.merge(
        Scorer.from_counts(
            thresholds=len(grid),
            documents=int(vec.sum()),
            gold=by_name(n_gold_l),
            pred=by_name(n_pred_l),
            correct=by_name(correct_l),
            kept=kept_counts.tolist(),
            kept_correct=kept_right.tolist(),
            schemes=overall,
            schemes_per_type=per_type,
            errors=errors_l,
            confusion=confusion,
        )
    )

    # The results: Python objects only (see :func:`_builder`).
    sel_l = batch.sel.tolist()
    lists = batch.lists
    slow_b = np.flatnonzero(slow[batch.sel] & predicted_doc[batch.sel]).tolist()
    if not build:
        for b in slow_b:
            doc, entities = docs[sel_l[b]], lists[b]
            if doc.gold is not None and entities is not None:
                kept = tuple(e for e in entities if batch.keep_all or e[3] >= batch.threshold)
                score_document(scorer, doc, doc.gold, predicted_spans(doc, kept))
        return []
    spans = _new_spans(p_s.tolist(), p_e.tolist(), labels, p_score.tolist())
    pb = [*np.searchsorted(p_doc, batch.sel).tolist(), len(p_doc)]
    kb_a = np.append(np.searchsorted(k_doc, batch.sel), len(k_doc))
    eb_a = np.append(np.searchsorted(batch.e_doc, batch.sel), len(batch.e_doc))
    kb = kb_a.tolist()
    whole = (np.diff(kb_a) == np.diff(eb_a)).tolist()
    kept_flat = [flat[k] for k in kept_idx.tolist()]
    kept_all = [
        e if w and type(e) is tuple else tuple(kept_flat[a:z])
        for e, w, a, z in zip(lists, whole, kb, kb[1:], strict=False)
    ]
    predicted_all = [tuple(spans[a:z]) for a, z in itertools.pairwise(pb)]
    low_of: list[float | None] = [None] * len(sel_l)
    nonempty = np.flatnonzero(np.diff(kb_a) > 0)
    if len(nonempty):
        mins = np.minimum.reduceat(k_score, kb_a[nonempty]).tolist()
        for i, m in zip(nonempty.tolist(), mins, strict=True):
            low_of[i] = m
    # Errors, grouped by document (sorted by document, then position).
    gold_index = (g_in - prep.gold_first[gd]).tolist()  # each scored gold entity's index
    p_global = p_in.tolist()  # scored prediction -> its index in ``spans``
    err_golds = [
        None if g < 0 else docs[d].gold[gold_index[g]]  # type: ignore[index]
        for g, d in zip(err_g.tolist(), err_doc.tolist(), strict=True)
    ]
    err_preds = [None if q < 0 else spans[p_global[q]] for q in err_p.tolist()]
    err_objects = _new_errors([ERROR_KINDS[k] for k in err_kind.tolist()], err_golds, err_preds)
    errors_of: dict[int, tuple[ScoredError, ...]] = {}
    if len(err_doc):
        with_errors, firsts_at = np.unique(err_doc, return_index=True)
        ends_at = [*firsts_at[1:].tolist(), len(err_doc)]
        for d, a, z in zip(with_errors.tolist(), firsts_at.tolist(), ends_at, strict=True):
            errors_of[d] = tuple(err_objects[a:z])
    correct_d = np.bincount(pd[hit], minlength=n_docs).tolist()
    n_gold_d = (prep.gold_first[1:] - prep.gold_first[:-1]).tolist()
    n_pred_d = np.bincount(pd, minlength=n_docs).tolist()
    score_all: list[DocumentScore | None] = [None] * len(sel_l)
    empty: tuple[ScoredError, ...] = ()
    for b in np.flatnonzero(vec[batch.sel]).tolist():
        d = sel_l[b]
        score_all[b] = _new_score(correct_d[d], n_gold_d[d], n_pred_d[d], errors_of.get(d, empty))
    results = _new_results([docs[d] for d in sel_l], kept_all, predicted_all, score_all, low_of)
    for b in slow_b:  # the plain path, document by document
        doc, kept = docs[sel_l[b]], kept_all[b]
        predicted = predicted_spans(doc, kept)
        score = None
        if doc.gold is not None:
            score = score_document(scorer, doc, doc.gold, predicted)
        low = min((e[3] for e in kept), default=None)
        results[b] = DocumentResult(doc, kept, predicted, score, low)
    return results


_new = object.__new__


def _setters(cls: type, names: str) -> tuple[Any, ...]:
    slots = cls.__slots__  # type: ignore[attr-defined]
    assert tuple(names.split()) == tuple(slots), (cls, slots)
    return tuple(getattr(cls, name).__set__ for name in slots)


_SPAN = _setters(Span, "start end label score")
_ERROR = _setters(ScoredError, "kind gold pred")
_SCORE = _setters(DocumentScore, "correct gold predicted errors")
_RESULT = _setters(DocumentResult, "doc entities predicted score min_confidence")


def _new_spans(
    starts: list[int], ends: list[int], labels: list[str], scores: list[float]
) -> list[Span]:
    """``Span(start, end, label, score)`` each, every ``end > start`` already checked: each
    field set through its slot, as the frozen dataclass's ``__init__`` sets it, without the
    ``__init__`` (a third of the cost, which is most of what is left at 10,000 documents)."""
    s0, s1, s2, s3 = _SPAN
    out: list[Span] = []
    add = out.append
    for a, b, c, d in zip(starts, ends, labels, scores, strict=True):
        span = _new(Span)
        s0(span, a)
        s1(span, b)
        s2(span, c)
        s3(span, d)
        add(span)
    return out


def _new_errors(
    kinds: list[ErrorKind], golds: list[Span | None], preds: list[Span | None]
) -> list[ScoredError]:
    s0, s1, s2 = _ERROR
    out: list[ScoredError] = []
    add = out.append
    for kind, gold, pred in zip(kinds, golds, preds, strict=True):
        error = _new(ScoredError)
        s0(error, kind)
        s1(error, gold)
        s2(error, pred)
        add(error)
    return out


def _new_score(
    correct: int, gold: int, predicted: int, errors: tuple[ScoredError, ...]
) -> DocumentScore:
    s0, s1, s2, s3 = _SCORE
    score = _new(DocumentScore)
    s0(score, correct)
    s1(score, gold)
    s2(score, predicted)
    s3(score, errors)
    return score


def _new_results(
    docs: list[CorpusDocument],
    entities: list[tuple[EntityTuple, ...]],
    predicted: list[tuple[Span, ...]],
    scores: list[DocumentScore | None],
    lows: list[float | None],
) -> list[DocumentResult]:
    s0, s1, s2, s3, s4 = _RESULT
    out: list[DocumentResult] = []
    add = out.append
    for doc, kept, spans, score, low in zip(docs, entities, predicted, scores, lows, strict=True):
        result = _new(DocumentResult)
        s0(result, doc)
        s1(result, kept)
        s2(result, spans)
        s3(result, score)
        s4(result, low)
        add(result)
    return out


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
