"""Scoring a model's entities against gold entities, corpus-wide, for ``ner-tui eval``.

One :class:`Scorer` takes documents one at a time (:meth:`Scorer.add`) and keeps counts only,
so memory does not grow with the corpus. :meth:`Scorer.report` gives:

- seqeval's ``classification_report`` (default ``output_dict`` numbers): per-type, micro,
  macro and weighted precision/recall/F1 of exact ``(type, start, end)`` matches. With spans
  from :func:`ner_tui.core.tagging.decode_tags` the numbers equal seqeval's default mode
  (lenient decoder) or ``mode="strict"`` (strict decoder with the scheme). Zero divisions give
  0.0 as in seqeval; with no entity at all the macro average is 0.0 (seqeval returns nan).
- nervaluate's ``evaluate()`` ("overall" and "entities"): strict, exact, partial and type
  (nervaluate's ``ent_type``) counts and scores, with its greedy, order-dependent matching
  (see :mod:`ner_tui.core.matching`).
- the error browser's kinds (missed, spurious, wrong type, wrong boundary, wrong both),
  per document in the returned :class:`DocumentScore` and counted over the corpus.
- a token-level confusion matrix when per-token entity types are given.
- precision/recall/F1 (exact match, micro) when only predictions with ``score >= t`` are kept,
  ``t`` on a fixed grid from 0.0 to 1.0; predictions without a score are kept at every ``t``.

Duplicate spans count once each (as multisets): a duplicated prediction matching one gold
entity is one correct prediction and one wrong one, as nervaluate counts it (seqeval's sets
cannot hold duplicates; decoded tag sequences have none).
"""

from __future__ import annotations

import math
import operator
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from ner_tui.core.matching import (
    CORRECT,
    ERROR_KINDS,
    INCORRECT,
    MISSED,
    PARTIAL,
    SPURIOUS,
    ErrorKind,
    Triple,
    add_all_correct,
    add_schemes,
    error_pairs,
)

__all__ = [
    "DocumentScore",
    "ErrorKind",
    "Report",
    "SchemeScores",
    "ScoredError",
    "Scorer",
    "Span",
    "ThresholdPoint",
    "TypeScores",
]

# Our scheme names, in nervaluate's count-vector order; "type" is nervaluate's "ent_type".
SCHEME_NAMES: tuple[str, ...] = ("strict", "exact", "partial", "type")


@dataclass(frozen=True, slots=True)
class Span:
    """A labelled span, exclusive end: character offsets (JSONL corpora) or token indices (CoNLL).

    ``score`` is the model's confidence for a predicted span, ``None`` for gold. Empty spans
    (``end <= start``) are rejected: they cannot be matched by overlap."""

    start: int
    end: int
    label: str
    score: float | None = None

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"empty span {self.label}[{self.start},{self.end})")


@dataclass(frozen=True, slots=True)
class ScoredError:
    """One error of one document: ``gold`` is None for spurious, ``pred`` None for missed."""

    kind: ErrorKind
    gold: Span | None
    pred: Span | None


@dataclass(frozen=True, slots=True)
class DocumentScore:
    """Exact-match counts and the errors of one document, errors sorted by position."""

    correct: int
    gold: int
    predicted: int
    errors: tuple[ScoredError, ...]

    @property
    def f1(self) -> float:
        """Exact-match F1 of this document; 1.0 when it has neither gold nor predictions."""
        total = self.gold + self.predicted
        return 1.0 if total == 0 else 2 * self.correct / total


@dataclass(frozen=True)
class TypeScores:
    """seqeval's row: precision, recall, F1, support (gold count), plus predicted and correct
    counts (totals over all types in the averaged rows)."""

    precision: float
    recall: float
    f1: float
    support: int
    predicted: int
    correct: int


@dataclass(frozen=True)
class SchemeScores:
    """nervaluate's ``EvaluationResult`` for one scheme: counts, ``possible`` (gold side),
    ``actual`` (prediction side) and scores (partial matches count half in partial/type)."""

    correct: int
    incorrect: int
    partial: int
    missed: int
    spurious: int
    possible: int
    actual: int
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class ThresholdPoint:
    """Exact-match micro scores keeping only predictions with ``score >= threshold``."""

    threshold: float
    precision: float
    recall: float
    f1: float
    kept: int


@dataclass(frozen=True)
class Report:
    """Everything :class:`Scorer` measured over a corpus (see the module docstring)."""

    documents: int
    per_type: dict[str, TypeScores]
    micro: TypeScores
    macro: TypeScores
    weighted: TypeScores
    schemes: dict[str, SchemeScores]
    schemes_per_type: dict[str, dict[str, SchemeScores]]
    errors: dict[ErrorKind, int]
    errors_per_type: dict[str, dict[ErrorKind, int]]
    confusion: tuple[tuple[str, ...], np.ndarray]
    thresholds: tuple[ThresholdPoint, ...]
    best_threshold: ThresholdPoint
    only_in_gold: tuple[str, ...]
    only_in_predictions: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """A plain dict of everything above (the confusion matrix as nested lists)."""
        labels, counts = self.confusion
        return {
            "documents": self.documents,
            "per_type": {k: asdict(v) for k, v in self.per_type.items()},
            "micro": asdict(self.micro),
            "macro": asdict(self.macro),
            "weighted": asdict(self.weighted),
            "schemes": {k: asdict(v) for k, v in self.schemes.items()},
            "schemes_per_type": {
                t: {k: asdict(v) for k, v in s.items()} for t, s in self.schemes_per_type.items()
            },
            "errors": dict(self.errors),
            "errors_per_type": {t: dict(e) for t, e in self.errors_per_type.items()},
            "confusion": {"labels": list(labels), "counts": counts.tolist()},
            "thresholds": [asdict(p) for p in self.thresholds],
            "best_threshold": asdict(self.best_threshold),
            "only_in_gold": list(self.only_in_gold),
            "only_in_predictions": list(self.only_in_predictions),
        }


class Scorer:
    """Accumulates documents; memory constant in the number of documents (counts only).

    ``thresholds`` is the number of grid points ``0, 1/(n-1), ..., 1`` for the score curve."""

    def __init__(self, *, thresholds: int = 101) -> None:
        if thresholds < 2:
            raise ValueError("thresholds must be at least 2 (the grid includes 0.0 and 1.0)")
        self._grid = _grid(thresholds)  # shared, never modified
        self._documents = 0
        self._gold: dict[str, int] = {}
        self._pred: dict[str, int] = {}
        self._correct: dict[str, int] = {}
        # _kept[k] / _kept_correct[k]: predictions kept at grid points 0..k-1 only.
        self._kept = [0] * (thresholds + 1)
        self._kept_correct = [0] * (thresholds + 1)
        self._schemes = [0] * 20
        self._schemes_per_type: dict[str, list[int]] = {}
        self._errors: dict[str, dict[ErrorKind, int]] = {}
        self._confusion: Counter[tuple[str, str]] = Counter()

    @property
    def grid(self) -> Sequence[float]:
        """The score curve's thresholds (shared between scorers: do not modify)."""
        return self._grid

    def add(
        self,
        gold: Sequence[Span],
        pred: Sequence[Span],
        *,
        gold_tokens: Sequence[str] | None = None,
        pred_tokens: Sequence[str] | None = None,
    ) -> DocumentScore:
        """Score one document and add it to the corpus counts.

        ``gold_tokens``/``pred_tokens``: per-token entity types (``""`` for outside), both or
        neither, the same length, for the token confusion matrix. Span order matters to
        nervaluate's schemes (they match greedily in the order given)."""
        if (gold_tokens is None) != (pred_tokens is None):
            raise ValueError("give both gold_tokens and pred_tokens, or neither")
        if gold_tokens is not None and pred_tokens is not None:
            if len(gold_tokens) != len(pred_tokens):
                raise ValueError(
                    f"{len(gold_tokens)} gold token types but {len(pred_tokens)} predicted"
                )
            self._confusion.update(zip(gold_tokens, pred_tokens, strict=True))
        self._documents += 1
        g: list[Triple] = [(s.label, s.start, s.end) for s in gold]
        p: list[Triple] = [(s.label, s.start, s.end) for s in pred]
        hits = _exact_hits(g, p, pred)

        counts = self._gold
        for label, _, _ in g:
            counts[label] = counts.get(label, 0) + 1
        counts, right = self._pred, self._correct
        grid, kept, kept_correct, last = self._grid, self._kept, self._kept_correct, len(self._grid)
        n_correct = 0
        for (label, _, _), span, hit in zip(p, pred, hits, strict=True):
            counts[label] = counts.get(label, 0) + 1
            k = last if span.score is None else bisect_right(grid, span.score)
            kept[k] += 1
            if hit:
                n_correct += 1
                right[label] = right.get(label, 0) + 1
                kept_correct[k] += 1

        if n_correct == len(g) == len(p):
            per_label: dict[str, int] = {}
            for label, _, _ in g:
                per_label[label] = per_label.get(label, 0) + 1
            add_all_correct(per_label, self._schemes, self._schemes_per_type)
            return DocumentScore(n_correct, len(g), len(p), ())

        errors = self.add_mismatched(gold, pred, g, p)
        return DocumentScore(n_correct, len(g), len(p), errors)

    def add_mismatched(
        self, gold: Sequence[Span], pred: Sequence[Span], g: list[Triple], p: list[Triple]
    ) -> tuple[ScoredError, ...]:
        """The second half of :meth:`add` for a document whose predictions are not exactly its
        gold: nervaluate's counts and the error kinds (``g``/``p``: the spans as triples)."""
        add_schemes(g, p, self._schemes, self._schemes_per_type)
        errors = []
        for kind, j, i in error_pairs(g, p):
            if kind is None:
                continue
            gold_span = gold[j] if j >= 0 else None
            pred_span = pred[i] if i >= 0 else None
            label = gold_span.label if gold_span is not None else pred[i].label
            by_kind = self._errors.get(label)
            if by_kind is None:
                by_kind = self._errors[label] = dict.fromkeys(ERROR_KINDS, 0)
            by_kind[kind] += 1
            errors.append(ScoredError(kind, gold_span, pred_span))
        errors.sort(key=_error_position)
        return tuple(errors)

    @classmethod
    def from_counts(
        cls,
        *,
        thresholds: int = 101,
        documents: int,
        gold: dict[str, int],
        pred: dict[str, int],
        correct: dict[str, int],
        kept: Sequence[int],
        kept_correct: Sequence[int],
        schemes: Sequence[int],
        schemes_per_type: dict[str, list[int]],
        errors: dict[str, dict[ErrorKind, int]],
        confusion: dict[tuple[str, str], int],
    ) -> Scorer:
        """A scorer holding counts summed elsewhere (the corpus view's vectorised scoring):
        exactly the state :meth:`add` leaves after the same documents, zero counts dropped
        as :meth:`merge` drops them."""
        out = cls(thresholds=thresholds)
        if len(kept) != len(out._kept) or len(kept_correct) != len(out._kept):
            raise ValueError(f"kept counts need {len(out._kept)} buckets")
        part = cls.__new__(cls)
        part._grid = out._grid
        part._documents = documents
        part._gold, part._pred, part._correct = gold, pred, correct
        part._kept, part._kept_correct = [int(n) for n in kept], [int(n) for n in kept_correct]
        part._schemes = [int(n) for n in schemes]
        part._schemes_per_type = schemes_per_type
        part._errors = errors
        part._confusion = Counter(confusion)
        out.merge(part)
        return out

    def copy(self) -> Scorer:
        """An independent scorer with the same counts (for re-scoring some documents)."""
        other = Scorer.__new__(Scorer)
        other._grid = self._grid
        other._documents = self._documents
        other._gold, other._pred, other._correct = (
            dict(self._gold),
            dict(self._pred),
            dict(self._correct),
        )
        other._kept, other._kept_correct = list(self._kept), list(self._kept_correct)
        other._schemes = list(self._schemes)
        other._schemes_per_type = {t: list(v) for t, v in self._schemes_per_type.items()}
        other._errors = {t: dict(v) for t, v in self._errors.items()}
        other._confusion = Counter(self._confusion)
        return other

    def merge(self, other: Scorer, *, sign: int = 1) -> None:
        """Add (``sign=1``) or take away (``sign=-1``) the counts of ``other``, a scorer with
        the same grid. Taking away documents added earlier leaves exactly the counts of a
        scorer that never saw them (keys whose counts reach zero are removed), so a corpus
        can be re-scored by replacing only the documents whose predictions changed."""
        if other._grid is not self._grid and other._grid != self._grid:
            raise ValueError("scorers with different threshold grids cannot be merged")
        self._documents += sign * other._documents
        for mine, theirs in (
            (self._gold, other._gold),
            (self._pred, other._pred),
            (self._correct, other._correct),
        ):
            _merge_counts(mine, theirs, sign)
        op = operator.add if sign == 1 else operator.sub
        self._kept = list(map(op, self._kept, other._kept))
        self._kept_correct = list(map(op, self._kept_correct, other._kept_correct))
        self._schemes = list(map(op, self._schemes, other._schemes))
        for label, vector in other._schemes_per_type.items():
            acc = self._schemes_per_type.get(label, [0] * len(vector))
            acc = list(map(op, acc, vector))
            if any(acc):
                self._schemes_per_type[label] = acc
            else:
                self._schemes_per_type.pop(label, None)
        for label, by_kind in other._errors.items():
            kinds = self._errors.setdefault(label, dict.fromkeys(ERROR_KINDS, 0))
            for kind, n in by_kind.items():
                kinds[kind] += sign * n
            if not any(kinds.values()):
                del self._errors[label]
        _merge_counts(self._confusion, other._confusion, sign)

    def report(self) -> Report:
        """The corpus report so far (the scorer can keep taking documents afterwards)."""
        names = sorted(set(self._gold) | set(self._pred))
        per_type, micro, macro, weighted = _seqeval_rows(
            names, self._gold, self._pred, self._correct
        )
        schemes = _scheme_scores(self._schemes)
        schemes_per_type = {t: _scheme_scores(self._schemes_per_type[t]) for t in names}
        errors = dict.fromkeys(ERROR_KINDS, 0)
        for by_kind in self._errors.values():
            for kind, n in by_kind.items():
                errors[kind] += n
        errors_per_type = {
            t: dict(self._errors.get(t, dict.fromkeys(ERROR_KINDS, 0))) for t in names
        }
        thresholds = self._threshold_points(sum(self._gold.values()))
        best = max(thresholds, key=lambda point: point.f1)  # max() keeps the first (lowest t)
        return Report(
            documents=self._documents,
            per_type=per_type,
            micro=micro,
            macro=macro,
            weighted=weighted,
            schemes=schemes,
            schemes_per_type=schemes_per_type,
            errors=errors,
            errors_per_type=errors_per_type,
            confusion=self._confusion_matrix(),
            thresholds=thresholds,
            best_threshold=best,
            only_in_gold=tuple(t for t in names if t not in self._pred),
            only_in_predictions=tuple(t for t in names if t not in self._gold),
        )

    def _threshold_points(self, gold_total: int) -> tuple[ThresholdPoint, ...]:
        points = []
        kept = kept_correct = 0
        # Walk the grid from 1.0 down: a prediction in bucket k is kept at grid points < k.
        for j in range(len(self._grid) - 1, -1, -1):
            kept += self._kept[j + 1]
            kept_correct += self._kept_correct[j + 1]
            precision, recall, f1 = _prf(kept_correct, kept, gold_total)
            points.append(ThresholdPoint(self._grid[j], precision, recall, f1, kept))
        return tuple(reversed(points))

    def _confusion_matrix(self) -> tuple[tuple[str, ...], np.ndarray]:
        if not self._confusion:
            return (), np.zeros((0, 0), dtype=np.int64)
        types = {t for pair in self._confusion for t in pair if t}
        labels = ("O", *sorted(types))
        index = {t: k for k, t in enumerate(labels)}
        index[""] = 0
        counts = np.zeros((len(labels), len(labels)), dtype=np.int64)
        for (gold, pred), n in self._confusion.items():
            counts[index[gold], index[pred]] += n
        return labels, counts


@lru_cache(maxsize=8)
def _grid(points: int) -> list[float]:
    return [j / (points - 1) for j in range(points)]


def _merge_counts(mine: dict[Any, int], theirs: dict[Any, int], sign: int) -> None:
    for key, n in theirs.items():
        total = mine.get(key, 0) + sign * n
        if total:
            mine[key] = total
        else:
            mine.pop(key, None)


def _exact_hits(g: list[Triple], p: list[Triple], pred: Sequence[Span]) -> list[bool]:
    """Which predictions are exact matches, each gold entity used once; among duplicate
    predictions the most confident win, so the score curve drops the less confident ones."""
    gold_set = set(g)
    if len(set(p)) == len(p):
        return [key in gold_set for key in p]
    budget = Counter(g)
    hits = [False] * len(p)
    scores = [span.score for span in pred]
    order = sorted(range(len(p)), key=lambda i: -(math.inf if (s := scores[i]) is None else s))
    for i in order:
        if budget[p[i]] > 0:
            budget[p[i]] -= 1
            hits[i] = True
    return hits


def _error_position(error: ScoredError) -> tuple[int, int]:
    span = error.gold if error.gold is not None else error.pred
    assert span is not None
    return span.start, span.end


def _prf(correct: int, predicted: int, gold: int) -> tuple[float, float, float]:
    """Precision, recall, F1 as seqeval computes them (0.0 on a zero division)."""
    precision = correct / predicted if predicted else 0.0
    recall = correct / gold if gold else 0.0
    denom = precision + recall
    return precision, recall, (2.0 * precision * recall / denom if denom else 0.0)


def _seqeval_rows(
    names: list[str], gold: dict[str, int], pred: dict[str, int], correct: dict[str, int]
) -> tuple[dict[str, TypeScores], TypeScores, TypeScores, TypeScores]:
    """seqeval's per-type rows and averages, with its numpy arithmetic (so floats are equal)."""
    tp = np.array([correct.get(t, 0) for t in names], dtype=np.int64)
    ps = np.array([pred.get(t, 0) for t in names], dtype=np.int64)
    ts = np.array([gold.get(t, 0) for t in names], dtype=np.int64)
    rows = [_prf(int(a), int(b), int(c)) for a, b, c in zip(tp, ps, ts, strict=True)]
    per_type = {
        t: TypeScores(p, r, f, int(s), int(n), int(c))
        for t, (p, r, f), s, n, c in zip(names, rows, ts, ps, tp, strict=True)
    }
    tp_all, ps_all, ts_all = int(tp.sum()), int(ps.sum()), int(ts.sum())
    micro = TypeScores(*_prf(tp_all, ps_all, ts_all), ts_all, ps_all, tp_all)
    if not names:
        zero = TypeScores(0.0, 0.0, 0.0, 0, 0, 0)
        return per_type, micro, zero, zero
    cols = np.array(rows, dtype=np.float64).T
    p, r, f = (float(np.average(col)) for col in cols)
    macro = TypeScores(p, r, f, ts_all, ps_all, tp_all)
    if ts_all == 0:
        weighted = TypeScores(0.0, 0.0, 0.0, 0, ps_all, tp_all)
    else:
        p, r, f = (float(np.average(col, weights=ts)) for col in cols)
        weighted = TypeScores(p, r, f, ts_all, ps_all, tp_all)
    return per_type, micro, macro, weighted


def _scheme_scores(acc: list[int]) -> dict[str, SchemeScores]:
    """nervaluate's ``compute_metrics`` on each scheme's summed counts."""
    out = {}
    for k, name in enumerate(SCHEME_NAMES):
        c = acc[5 * k : 5 * k + 5]
        correct, incorrect, partial = c[CORRECT], c[INCORRECT], c[PARTIAL]
        actual = correct + incorrect + partial + c[SPURIOUS]
        possible = correct + incorrect + partial + c[MISSED]
        hits = correct + 0.5 * partial if name in ("partial", "type") else correct
        precision = hits / actual if actual > 0 else 0.0
        recall = hits / possible if possible > 0 else 0.0
        denom = precision + recall
        f1 = 2 * (precision * recall) / denom if denom > 0 else 0.0
        out[name] = SchemeScores(
            correct,
            incorrect,
            partial,
            c[MISSED],
            c[SPURIOUS],
            possible,
            actual,
            precision,
            recall,
            f1,
        )
    return out
