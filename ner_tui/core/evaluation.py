"""One corpus document scored against its gold: the shared step of ``ner-tui eval`` and the
app's corpus view.

Predictions are character spans; a CoNLL gold is over its own tokens (as seqeval counts), so
predictions are first put in the gold's units. The token confusion matrix counts CoNLL tokens,
or whitespace-separated words for a JSONL gold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ner_tui.core.corpus import CorpusDocument, token_spans
from ner_tui.core.export import json_score
from ner_tui.core.html import Mark
from ner_tui.core.scoring import DocumentScore, ScoredError, Scorer, Span

_WORD = re.compile(r"\S+")


def predicted_spans(
    doc: CorpusDocument, entities: Iterable[tuple[int, int, str, float | None]]
) -> tuple[Span, ...]:
    """Predicted character spans ``(start, end, label, score)`` in the gold's units."""
    if doc.tokens is not None:
        return token_spans(entities, doc.tokens)
    return tuple(Span(start, end, label, score) for start, end, label, score in entities)


def score_document(
    scorer: Scorer, doc: CorpusDocument, gold: tuple[Span, ...], predicted: tuple[Span, ...]
) -> DocumentScore:
    """Add one document's ``gold`` and ``predicted`` spans to ``scorer``; its own score."""
    if doc.tokens is not None:
        units = list(doc.tokens)
    else:
        units = [m.span() for m in _WORD.finditer(doc.text)]
    return scorer.add(
        gold,
        predicted,
        gold_tokens=_token_types(doc, gold, units),
        pred_tokens=_token_types(doc, predicted, units),
    )


def _token_types(
    doc: CorpusDocument, spans: tuple[Span, ...], units: list[tuple[int, int]]
) -> list[str]:
    """The entity type of each unit ("" outside): CoNLL tokens, or whitespace words."""
    types = [""] * len(units)
    if doc.tokens is not None:
        for span in spans:
            types[span.start : span.end] = [span.label] * (span.end - span.start)
        return types
    for span in spans:
        for i, (start, end) in enumerate(units):
            if start < span.end and end > span.start and not types[i]:
                types[i] = span.label
    return types


def char_span(doc: CorpusDocument, span: Span) -> tuple[int, int]:
    """``span``'s character offsets in ``doc.text`` (token spans of a CoNLL gold converted)."""
    if doc.tokens is None:
        return span.start, span.end
    return doc.tokens[span.start][0], doc.tokens[span.end - 1][1]


def html_marks(
    doc: CorpusDocument, gold: tuple[Span, ...], predicted: tuple[Span, ...], score: DocumentScore
) -> tuple[list[Mark], list[Mark]]:
    """Gold and predicted spans as marks for the HTML page, in characters: a gold span the
    model did not predict exactly is ``missed``, a prediction not in the gold ``wrong``, each
    with its error kind (``wrong type``, ``wrong boundary``...) as a note."""
    kinds: dict[tuple[str, Span], str] = {}
    for error in score.errors:
        if error.gold is not None:
            kinds[("gold", error.gold)] = error.kind
        if error.pred is not None:
            kinds[("pred", error.pred)] = error.kind
    exact = {(s.start, s.end, s.label) for s in gold}
    exact &= {(s.start, s.end, s.label) for s in predicted}

    def marks(spans: tuple[Span, ...], side: str, status: str) -> list[Mark]:
        out = []
        for span in spans:
            start, end = char_span(doc, span)
            right = (span.start, span.end, span.label) in exact
            note = "" if right else kinds.get((side, span), "").replace("_", " ")
            out.append(Mark(start, end, span.label, span.score, "" if right else status, note))
        return out

    return marks(gold, "gold", "missed"), marks(predicted, "pred", "wrong")


def error_record(doc: CorpusDocument, error: ScoredError) -> dict[str, Any]:
    """One error as JSON: its document, kind, and the gold and predicted spans with text."""

    def where(span: Span | None) -> dict[str, Any] | None:
        if span is None:
            return None
        start, end = char_span(doc, span)
        record: dict[str, Any] = {"start": start, "end": end, "label": span.label}
        record["text"] = doc.text[start:end]
        if span.score is not None:
            record["score"] = json_score(span.score)
        return record

    return {
        "document": doc.index,
        "line": doc.line,
        "kind": error.kind,
        "gold": where(error.gold),
        "predicted": where(error.pred),
    }
