"""A whole corpus scored from kept model scores: the app's corpus view, without Textual.

The model is asked once per document (the :class:`ScoredText` is kept); changing aggregation,
strict mode or threshold re-scores the corpus from those scores alone:

- aggregation or mode changed: every kept text is decoded again (:func:`decode_corpus`, CPU only);
- only the threshold changed: the entities decoded at threshold 0 are filtered by their mean
  score, which is exactly what :func:`~ner_tui.core.decoding.decode` does with a threshold, so
  no text is decoded again (:func:`rescore`).

Each document is scored with :func:`~ner_tui.core.evaluation.score_document` into a fresh
:class:`Scorer`, the same step as ``ner-tui eval``, so the numbers are eval's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal, get_args

from ner_tui.core.corpus import CorpusDocument
from ner_tui.core.decoding import decode
from ner_tui.core.evaluation import predicted_spans, score_document
from ner_tui.core.scoring import DocumentScore, Report, ScoredError, Scorer, Span
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


def decode_corpus(
    scored: Sequence[ScoredText | None], options: DecodeOptions
) -> list[tuple[EntityTuple, ...] | None]:
    """Each kept text's entities at threshold 0 under ``options`` (None stays None)."""
    base = replace(options, threshold=0.0, top_k=1)
    out: list[tuple[EntityTuple, ...] | None] = []
    for item in scored:
        if item is None:
            out.append(None)
            continue
        prediction = decode(item, base)
        out.append(tuple((e.start, e.end, e.label, e.score) for e in prediction.entities))
    return out


def rescore(
    docs: Sequence[CorpusDocument],
    decoded: Sequence[tuple[EntityTuple, ...] | None],
    options: DecodeOptions,
) -> CorpusScores:
    """Score every document from its threshold-0 entities, keeping those at ``options``'s
    threshold; documents with an error or no entities list (``decoded`` None) are unscored."""
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
    return CorpusScores(options, report, tuple(results))


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
