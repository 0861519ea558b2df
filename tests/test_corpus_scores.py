"""The corpus view's scoring without a model or a terminal: kept entities filtered at a
threshold and scored as eval scores them, documents sorted and filtered, errors listed."""

from __future__ import annotations

from ner_tui.core.corpus import CorpusDocument
from ner_tui.core.corpus_scores import all_errors, entity_types, rescore, select
from ner_tui.core.scoring import Span
from ner_tui.core.types import DecodeOptions

TEXT = "Angela Merkel met Macron in Paris ."
DOCS = [
    CorpusDocument(0, 1, TEXT, (Span(0, 13, "PER"), Span(28, 33, "LOC"))),
    CorpusDocument(1, 2, TEXT, (Span(0, 13, "PER"), Span(18, 24, "PER"), Span(28, 33, "LOC"))),
    CorpusDocument(2, 3, TEXT, None),  # no gold
]
DECODED = [
    ((0, 13, "PER", 0.99), (28, 33, "LOC", 0.95)),  # perfect
    ((0, 13, "PER", 0.98), (28, 33, "ORG", 0.40), (14, 17, "MISC", 0.2)),  # type, missed, spurious
    ((0, 6, "PER", 0.7),),
]


def test_scores_and_threshold_filter() -> None:
    scores = rescore(DOCS, DECODED, DecodeOptions())
    assert scores.report is not None and scores.report.documents == 2
    first, second, plain = scores.results
    assert first.error_count == 0 and first.score is not None and first.score.f1 == 1.0
    assert sorted(e.kind for e in second.score.errors) == ["missed", "spurious", "wrong_type"]  # type: ignore[union-attr]
    assert plain.score is None and plain.min_confidence == 0.7
    kept = rescore(DOCS, DECODED, DecodeOptions(threshold=0.5))
    assert [len(r.entities) for r in kept.results] == [2, 1, 1]
    assert kept.results[1].min_confidence == 0.98


def test_no_gold_has_no_report() -> None:
    scores = rescore(DOCS[2:], DECODED[2:], DecodeOptions())
    assert scores.report is None and scores.results[0].min_confidence == 0.7


def test_sort_filter_and_errors() -> None:
    results = rescore(DOCS, DECODED, DecodeOptions()).results
    order = lambda rs: [r.doc.index for r in rs]  # noqa: E731
    assert order(select(results, sort="errors")) == [1, 0, 2]
    assert order(select(results, sort="f1")) == [1, 0, 2]  # unscored last
    assert order(select(results, sort="confidence")) == [1, 2, 0]  # 0.2, 0.7, 0.95
    assert order(select(results, label="MISC")) == [1]
    assert order(select(results, kind="wrong_type", label="LOC")) == [1]
    assert order(select(results, kind="wrong_type", label="PER")) == []
    assert [i for _, i in all_errors(results, kind="missed")] == [
        next(i for i, e in enumerate(results[1].score.errors) if e.kind == "missed")  # type: ignore[union-attr]
    ]
    assert entity_types(results) == ["LOC", "MISC", "ORG", "PER"]
