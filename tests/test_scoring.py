"""The eval scorer against its oracles (seqeval 1.2.2, nervaluate 1.2.1) and its own rules.

Tag sequences become spans through the project's decoder (:func:`decode_tags`), the path
``ner-tui eval`` takes, so these tests also pin the decoder/scorer pair to seqeval."""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nervaluate import Evaluator
from seqeval.metrics import classification_report
from seqeval.scheme import IOB2, IOBES

from ner_tui.core.scoring import Scorer, Span
from ner_tui.core.tagging import decode_tags

TYPES = ("PER", "LOC", "ARGM-TMP")


def spans_of(tags: list[str], scheme: str = "IOB2", mode: str = "lenient") -> list[Span]:
    entities, _ = decode_tags(tags, scheme=scheme, mode=mode)
    return [Span(start, end, label) for label, start, end in entities]


def score_tags(
    y_true: list[list[str]], y_pred: list[list[str]], scheme: str = "IOB2", mode: str = "lenient"
) -> Scorer:
    scorer = Scorer()
    for t, p in zip(y_true, y_pred, strict=True):
        scorer.add(spans_of(t, scheme, mode), spans_of(p, scheme, mode))
    return scorer


def seqeval_report(y_true: list[list[str]], y_pred: list[list[str]], **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return classification_report(y_true, y_pred, output_dict=True, **kwargs)


def assert_equals_seqeval(scorer: Scorer, expected: dict[str, Any]) -> None:
    report = scorer.report()
    rows = {name: row for name, row in expected.items() if not name.endswith(" avg")}
    assert list(report.per_type) == sorted(rows)
    for name, row in rows.items():
        ours = report.per_type[name]
        assert (ours.precision, ours.recall, ours.f1, ours.support) == (
            row["precision"],
            row["recall"],
            row["f1-score"],
            row["support"],
        ), name
    for avg, ours in (
        ("micro", report.micro),
        ("macro", report.macro),
        ("weighted", report.weighted),
    ):
        row = expected[f"{avg} avg"]
        if avg == "macro" and not rows:
            # seqeval averages an empty array (nan); we report 0.0.
            assert math.isnan(row["precision"])
            assert (ours.precision, ours.recall, ours.f1) == (0.0, 0.0, 0.0)
            continue
        assert (ours.precision, ours.recall, ours.f1, ours.support) == (
            row["precision"],
            row["recall"],
            row["f1-score"],
            row["support"],
        ), avg


def tag_pairs(prefixes: str) -> st.SearchStrategy[tuple[list[list[str]], list[list[str]]]]:
    """Corpora of (gold, predicted) tag sequences of equal lengths from the given prefixes."""
    tag = st.sampled_from(["O"] * 3 + [f"{p}-{t}" for p in prefixes for t in TYPES])

    @st.composite
    def corpus(draw: st.DrawFn) -> tuple[list[list[str]], list[list[str]]]:
        lengths = draw(st.lists(st.integers(1, 12), min_size=1, max_size=6))
        y_true = [draw(st.lists(tag, min_size=n, max_size=n)) for n in lengths]
        y_pred = [draw(st.lists(tag, min_size=n, max_size=n)) for n in lengths]
        return y_true, y_pred

    return corpus()


# --- seqeval -------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(tag_pairs("BIES"))
def test_lenient_spans_equal_seqeval_default(
    corpus: tuple[list[list[str]], list[list[str]]],
) -> None:
    y_true, y_pred = corpus
    assert_equals_seqeval(score_tags(y_true, y_pred), seqeval_report(y_true, y_pred))


@settings(max_examples=200, deadline=None)
@given(tag_pairs("BI"))
def test_strict_iob2_spans_equal_seqeval_strict(
    corpus: tuple[list[list[str]], list[list[str]]],
) -> None:
    y_true, y_pred = corpus
    expected = seqeval_report(y_true, y_pred, mode="strict", scheme=IOB2)
    assert_equals_seqeval(score_tags(y_true, y_pred, "IOB2", "strict"), expected)


@settings(max_examples=200, deadline=None)
@given(tag_pairs("BIES"))
def test_strict_iobes_spans_equal_seqeval_strict(
    corpus: tuple[list[list[str]], list[list[str]]],
) -> None:
    y_true, y_pred = corpus
    expected = seqeval_report(y_true, y_pred, mode="strict", scheme=IOBES)
    assert_equals_seqeval(score_tags(y_true, y_pred, "IOBES", "strict"), expected)


def test_seqeval_hand_case() -> None:
    y_true = [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    y_pred = [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    scorer = score_tags(y_true, y_pred)
    assert_equals_seqeval(scorer, seqeval_report(y_true, y_pred))
    report = scorer.report()
    assert report.per_type["MISC"].f1 == 0.0
    assert report.per_type["PER"].f1 == 1.0
    assert (report.micro.precision, report.micro.correct, report.micro.predicted) == (0.5, 1, 2)


def test_types_on_one_side_and_unequal_supports() -> None:
    y_true = [["B-PER", "O", "B-LOC", "I-LOC"], ["B-LOC", "O", "O"], ["B-PER", "I-PER", "O"]]
    y_pred = [["B-PER", "O", "B-ORG", "I-ORG"], ["B-LOC", "O", "B-ORG"], ["O", "B-PER", "O"]]
    scorer = score_tags(y_true, y_pred)
    assert_equals_seqeval(scorer, seqeval_report(y_true, y_pred))
    report = scorer.report()
    assert report.only_in_predictions == ("ORG",)
    assert report.only_in_gold == ()
    assert report.per_type["ORG"] == report.per_type["ORG"].__class__(0.0, 0.0, 0.0, 0, 2, 0)


def test_strict_mode_drops_invalid_sequences_like_seqeval() -> None:
    y_true = [["B-PER", "I-PER", "O", "B-LOC"]]
    y_pred = [["I-PER", "I-PER", "O", "B-LOC"]]
    lenient = score_tags(y_true, y_pred).report()
    strict = score_tags(y_true, y_pred, "IOB2", "strict").report()
    assert lenient.per_type["PER"].predicted == 1
    assert strict.per_type["PER"].predicted == 0
    assert_equals_seqeval(
        score_tags(y_true, y_pred, "IOB2", "strict"),
        seqeval_report(y_true, y_pred, mode="strict", scheme=IOB2),
    )


def test_no_entities_anywhere() -> None:
    y = [["O", "O"]]
    scorer = score_tags(y, y)
    assert_equals_seqeval(scorer, seqeval_report(y, y))
    report = scorer.report()
    assert report.per_type == {}
    assert report.schemes["strict"].f1 == 0.0
    assert report.best_threshold.threshold == 0.0


# --- nervaluate ----------------------------------------------------------------------------


def nervaluate_results(gold: list[list[Span]], pred: list[list[Span]]) -> Any:
    def dicts(docs: list[list[Span]]) -> list[list[dict[str, object]]]:
        # nervaluate's ends are inclusive.
        return [[{"label": s.label, "start": s.start, "end": s.end - 1} for s in d] for d in docs]

    tags = sorted({s.label for d in gold + pred for s in d})
    return Evaluator(dicts(gold), dicts(pred), tags=tags, loader="dict").evaluate()


FIELDS = ("correct", "incorrect", "partial", "missed", "spurious", "possible", "actual")
SCORES = ("precision", "recall", "f1")
OURS = {"strict": "strict", "exact": "exact", "partial": "partial", "ent_type": "type"}


def assert_equals_nervaluate(gold: list[list[Span]], pred: list[list[Span]]) -> None:
    scorer = Scorer()
    for g, p in zip(gold, pred, strict=True):
        scorer.add(g, p)
    report = scorer.report()
    expected = nervaluate_results(gold, pred)

    def same(ours: object, theirs: object, where: str) -> None:
        for field in FIELDS + SCORES:
            assert getattr(ours, field) == getattr(theirs, field), (where, field)

    for name, ours_name in OURS.items():
        same(report.schemes[ours_name], expected["overall"][name], name)
    assert set(report.schemes_per_type) == set(expected["entities"])
    for label, by_scheme in expected["entities"].items():
        for name, ours_name in OURS.items():
            same(report.schemes_per_type[label][ours_name], by_scheme[name], f"{label}/{name}")


@st.composite
def span_lists(draw: st.DrawFn) -> list[Span]:
    """Unsorted, possibly overlapping or duplicated token spans; some long ones, so
    nervaluate's 1% overlap rule (relative to the true span) matters."""
    spans = []
    for _ in range(draw(st.integers(0, 6))):
        start = draw(st.integers(0, 30))
        length = draw(st.one_of(st.integers(1, 6), st.integers(90, 260)))
        spans.append(Span(start, start + length, draw(st.sampled_from(TYPES))))
    return spans


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(span_lists(), span_lists()), min_size=1, max_size=5))
def test_schemes_equal_nervaluate(docs: list[tuple[list[Span], list[Span]]]) -> None:
    assert_equals_nervaluate([g for g, _ in docs], [p for _, p in docs])


@settings(max_examples=200, deadline=None)
@given(span_lists().flatmap(lambda gold: st.tuples(st.just(gold), st.permutations(gold))))
def test_predictions_equal_to_gold_in_any_order(doc: tuple[list[Span], list[Span]]) -> None:
    # The scorer's shortcut for such documents must agree with nervaluate's full walk.
    gold, pred = doc
    assert_equals_nervaluate([gold], [pred])
    score = Scorer().add(gold, pred)
    assert (score.correct, score.errors) == (len(gold), ())


@settings(max_examples=200, deadline=None)
@given(tag_pairs("BI"))
def test_schemes_equal_nervaluate_on_decoded_tags(
    corpus: tuple[list[list[str]], list[list[str]]],
) -> None:
    y_true, y_pred = corpus
    assert_equals_nervaluate([spans_of(t) for t in y_true], [spans_of(p) for p in y_pred])


def test_nervaluate_hand_cases() -> None:
    gold = [
        [Span(0, 2, "PER"), Span(4, 6, "LOC")],  # one exact, one type error
        [Span(0, 3, "PER")],  # boundary error
        [Span(0, 2, "PER"), Span(2, 4, "PER")],  # a prediction spanning both
        [Span(0, 200, "LOC")],  # one shared token of 200: below nervaluate's 1%
        [],
    ]
    pred = [
        [Span(0, 2, "PER"), Span(4, 6, "PER")],
        [Span(1, 3, "PER")],
        [Span(0, 4, "PER")],
        [Span(199, 201, "LOC")],
        [Span(3, 5, "LOC")],
    ]
    assert_equals_nervaluate(gold, pred)
    scorer = Scorer()
    for g, p in zip(gold, pred, strict=True):
        scorer.add(g, p)
    strict = scorer.report().schemes["strict"]
    # 1 correct; incorrect: 4-6 type, 1-3 bounds, 0-4 vs 0-2; spurious: 199-201 and 3-5.
    assert (strict.correct, strict.incorrect, strict.missed, strict.spurious) == (1, 3, 2, 2)


def test_nervaluate_type_scheme_takes_the_first_of_equally_close() -> None:
    # PER[2,4) is 3 away from both gold entities; it takes the first, so PER[3,6) is correct.
    gold = [[Span(0, 3, "PER"), Span(3, 6, "PER")]]
    pred = [[Span(2, 4, "PER"), Span(3, 6, "PER")]]
    assert_equals_nervaluate(gold, pred)
    scorer = Scorer()
    scorer.add(gold[0], pred[0])
    type_ = scorer.report().schemes["type"]
    assert (type_.correct, type_.spurious, type_.missed) == (2, 0, 0)


def test_nervaluate_order_dependence_is_reproduced() -> None:
    # Both predictions overlap the first gold entity; the first prediction takes it.
    gold = [[Span(0, 4, "PER"), Span(3, 6, "PER")]]
    for pred in ([Span(2, 5, "PER"), Span(0, 4, "PER")], [Span(0, 4, "PER"), Span(2, 5, "PER")]):
        assert_equals_nervaluate(gold, [pred])


# --- error kinds ---------------------------------------------------------------------------


def kinds(gold: list[Span], pred: list[Span]) -> list[tuple[str, Span | None, Span | None]]:
    return [(e.kind, e.gold, e.pred) for e in Scorer().add(gold, pred).errors]


def test_error_kinds_hand_cases() -> None:
    per, loc = Span(0, 2, "PER"), Span(5, 7, "LOC")
    assert kinds([per], [per]) == []
    assert kinds([per], []) == [("missed", per, None)]
    assert kinds([], [per]) == [("spurious", None, per)]
    assert kinds([per], [Span(0, 2, "LOC")]) == [("wrong_type", per, Span(0, 2, "LOC"))]
    assert kinds([per], [Span(1, 3, "PER")]) == [("wrong_boundary", per, Span(1, 3, "PER"))]
    assert kinds([per], [Span(1, 3, "LOC")]) == [("wrong_both", per, Span(1, 3, "LOC"))]
    # Exact beats overlap: the PER[0,2) prediction is correct, PER[0,4) is left spurious.
    assert kinds([per], [Span(0, 4, "PER"), per]) == [("spurious", None, Span(0, 4, "PER"))]
    # Same type beats more overlap.
    wide = Span(0, 10, "LOC")
    got = kinds([Span(0, 8, "PER")], [wide, Span(6, 9, "PER")])
    assert got == [
        ("wrong_boundary", Span(0, 8, "PER"), Span(6, 9, "PER")),
        ("spurious", None, wide),
    ]
    # Then more overlap, whatever the order.
    gold = [Span(0, 10, "PER")]
    small, large = Span(0, 2, "PER"), Span(3, 9, "PER")
    assert kinds(gold, [small, large]) == [
        ("spurious", None, small),
        ("wrong_boundary", gold[0], large),
    ]
    # Errors come sorted by position; each side used once.
    got = kinds([loc, per], [Span(5, 6, "LOC"), Span(1, 2, "ORG"), Span(8, 9, "ORG")])
    assert [k for k, _, _ in got] == ["wrong_both", "wrong_boundary", "spurious"]


def test_document_score_counts_and_f1() -> None:
    doc = Scorer().add([Span(0, 2, "PER"), Span(3, 4, "LOC")], [Span(0, 2, "PER")])
    assert (doc.correct, doc.gold, doc.predicted) == (1, 2, 1)
    assert doc.f1 == pytest.approx(2 / 3)
    assert Scorer().add([], []).f1 == 1.0
    assert Scorer().add([], [Span(0, 1, "PER")]).f1 == 0.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(span_lists(), span_lists()), min_size=1, max_size=4))
def test_error_counts_add_up(docs: list[tuple[list[Span], list[Span]]]) -> None:
    scorer = Scorer()
    for gold, pred in docs:
        doc = scorer.add(gold, pred)
        n = {k: sum(e.kind == k for e in doc.errors) for k in ("missed", "spurious")}
        wrong = sum(e.kind.startswith("wrong_") for e in doc.errors)
        assert doc.correct + wrong + n["missed"] == doc.gold == len(gold)
        assert doc.correct + wrong + n["spurious"] == doc.predicted == len(pred)
        for e in doc.errors:
            if e.gold is not None and e.pred is not None:
                assert e.gold.start < e.pred.end and e.pred.start < e.gold.end
    report = scorer.report()
    assert sum(report.errors.values()) == sum(
        sum(v.values()) for v in report.errors_per_type.values()
    )
    assert report.micro.correct + report.errors["missed"] + sum(
        report.errors[k] for k in ("wrong_type", "wrong_boundary", "wrong_both")
    ) == sum(len(g) for g, _ in docs)


def test_errors_per_type_use_the_gold_type_except_spurious() -> None:
    scorer = Scorer()
    scorer.add([Span(0, 2, "PER")], [Span(0, 2, "LOC"), Span(5, 6, "ORG")])
    report = scorer.report()
    assert report.errors_per_type["PER"]["wrong_type"] == 1
    assert report.errors_per_type["ORG"]["spurious"] == 1
    assert sum(report.errors_per_type["LOC"].values()) == 0
    assert report.errors["wrong_type"] == report.errors["spurious"] == 1


def test_empty_span_is_rejected() -> None:
    with pytest.raises(ValueError, match="empty span"):
        Span(3, 3, "PER")


# --- thresholds, confusion, JSON -----------------------------------------------------------


def test_threshold_curve() -> None:
    scorer = Scorer(thresholds=11)
    gold = [Span(0, 1, "PER"), Span(2, 3, "PER"), Span(4, 5, "LOC")]
    pred = [
        Span(0, 1, "PER", 0.95),
        Span(2, 3, "PER", 0.3),
        Span(6, 7, "LOC", 0.6),
        Span(8, 9, "LOC", 0.1),
    ]
    scorer.add(gold, pred)
    scorer.add([Span(0, 1, "LOC")], [Span(0, 1, "LOC", None)])  # no score: always kept
    report = scorer.report()
    points = {round(p.threshold, 2): p for p in report.thresholds}
    assert len(report.thresholds) == 11
    assert points[0.0].kept == 5 and points[0.0].f1 == report.micro.f1
    kept = [points[t].kept for t in (0.1, 0.2, 0.3, 0.4, 0.7, 1.0)]
    assert kept == [5, 4, 4, 3, 2, 1]
    assert points[0.7].precision == 1.0 and points[0.7].recall == 0.5
    assert points[1.0].recall == 0.25
    # F1: 2/3 at 0.0-0.1, 3/4 at 0.2-0.3, 4/7 at 0.4-0.6, 2/3 at 0.7-0.9: the lowest best is 0.2.
    assert points[0.2].f1 == points[0.3].f1 == 0.75
    assert report.best_threshold == points[0.2]
    assert points[0.4].f1 == pytest.approx(4 / 7)


def test_threshold_keeps_the_more_confident_duplicate() -> None:
    scorer = Scorer(thresholds=3)
    scorer.add([Span(0, 1, "PER")], [Span(0, 1, "PER", 0.2), Span(0, 1, "PER", 0.9)])
    points = scorer.report().thresholds
    assert (points[1].kept, points[1].precision) == (1, 1.0)


def test_confusion_matrix() -> None:
    scorer = Scorer()
    assert scorer.report().confusion[0] == ()
    scorer.add([], [], gold_tokens=["", "PER", "PER", "LOC"], pred_tokens=["", "PER", "LOC", ""])
    scorer.add([], [], gold_tokens=["LOC"], pred_tokens=["LOC"])
    labels, counts = scorer.report().confusion
    assert labels == ("O", "LOC", "PER")
    assert counts.tolist() == [[1, 0, 0], [1, 1, 0], [0, 1, 1]]
    with pytest.raises(ValueError):
        scorer.add([], [], gold_tokens=["PER"], pred_tokens=[])
    with pytest.raises(ValueError):
        scorer.add([], [], gold_tokens=["PER"])


def test_to_json_is_plain_json() -> None:
    y_true = [["B-PER", "I-PER", "O", "B-LOC"]]
    y_pred = [["B-PER", "O", "O", "B-LOC"]]
    scorer = Scorer()
    scorer.add(
        spans_of(y_true[0]),
        spans_of(y_pred[0]),
        gold_tokens=["PER", "PER", "", "LOC"],
        pred_tokens=["PER", "", "", "LOC"],
    )
    data = json.loads(json.dumps(scorer.report().to_json()))
    assert data["documents"] == 1
    assert data["per_type"]["LOC"]["f1"] == 1.0
    assert data["schemes"]["partial"]["partial"] == 1
    assert data["confusion"]["labels"] == ["O", "LOC", "PER"]
    assert data["errors"]["wrong_boundary"] == 1
    assert len(data["thresholds"]) == 101
    assert isinstance(np.asarray(data["confusion"]["counts"]).sum(), np.integer)
