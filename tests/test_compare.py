"""core/compare.py: two predictions of one text by span and word, and the paired bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from ner_tui.core.compare import (
    CompareTarget,
    PairedCounts,
    bootstrap_weights,
    compare_spans,
    f1_of,
    mentions,
    paired_bootstrap,
    type_counts,
    word_labels,
    words,
)
from ner_tui.core.labels import parse_label_map
from ner_tui.core.scoring import Scorer, Span
from ner_tui.core.settings import Settings
from ner_tui.core.types import DecodeOptions

TEXT = "Barack Obama met Angela Merkel in New York City and Paris on Monday."


def at(word: str, label: str, nth: int = 0) -> Span:
    start = -1
    for _ in range(nth + 1):
        start = TEXT.index(word, start + 1)
    return Span(start, start + len(word), label, 0.9)


def test_every_entity_once_with_its_kind_and_disagreements_first() -> None:
    a = mentions(
        [
            at("Barack Obama", "PER"),
            at("Angela Merkel", "PER"),
            at("New York", "LOC"),
            at("Paris", "LOC"),
            at("Monday", "DATE"),
        ]
    )
    b = mentions(
        [
            at("Barack Obama", "PERSON"),  # both, once PERSON is renamed to PER
            at("Angela Merkel", "ORG"),  # same span, other type
            at("New York City", "LOC"),  # same type, other bounds
            at("Paris on", "ORG"),  # other bounds and type
            at("met", "MISC"),  # only B
        ],
        {"PERSON": "PER"},
    )
    diffs = compare_spans(a, b)
    kinds = [(d.kind, TEXT[d.start : d.end]) for d in diffs]
    assert kinds == [
        ("only_b", "met"),
        ("other_type", "Angela Merkel"),
        ("other_bounds", "New York City"),
        ("other_bounds_and_type", "Paris on"),
        ("only_a", "Monday"),
        ("both", "Barack Obama"),
    ]
    both = diffs[-1]
    assert both.b is not None and both.b.label == "PER" and both.b.raw_label == "PERSON"
    assert diffs[0].a is None and diffs[4].b is None


def test_label_map_reads_as_eval_map() -> None:
    assert parse_label_map("PERSON=PER, GPE=LOC", "--compare-map", "B=A") == {
        "PERSON": "PER",
        "GPE": "LOC",
    }
    with pytest.raises(Exception, match="--compare-map: `PERSON` is not B=A"):
        parse_label_map("PERSON", "--compare-map", "B=A")


def test_words_are_tokenizer_free_and_labelled_from_spans() -> None:
    text = "Obama's visit to New-York, 2024."
    spans = words(text)
    assert [text[s:e] for s, e in spans] == [
        "Obama", "'", "s", "visit", "to", "New", "-", "York", ",", "2024", ".",
    ]  # fmt: skip
    a = mentions([Span(0, 5, "PER"), Span(17, 25, "LOC")])
    assert (
        word_labels(spans, a)
        == ["B-PER", "O", "O", "O", "O", "B-LOC", "I-LOC", "I-LOC"] + ["O"] * 3
    )


def test_type_counts_match_the_scorer() -> None:
    gold = [Span(0, 2, "PER"), Span(3, 5, "LOC"), Span(6, 7, "LOC")]
    pred = [Span(0, 2, "PER"), Span(3, 5, "ORG"), Span(6, 7, "LOC"), Span(8, 9, "LOC")]
    counts = type_counts(gold, pred)
    scorer = Scorer()
    scorer.add(tuple(gold), tuple(pred))
    report = scorer.report()
    for label, (correct, predicted, support) in counts.items():
        row = report.per_type[label]
        assert (row.correct, row.predicted, row.support) == (correct, predicted, support)


def _direct_bootstrap(
    a: np.ndarray, b: np.ndarray, resamples: int, seed: int, confidence: float
) -> tuple[list[float], list[float]]:
    """The bootstrap written as a plain loop: one resample at a time, counts summed by hand."""
    rng = np.random.default_rng(seed)
    n, columns, _ = a.shape
    diffs = []
    for _ in range(resamples):
        picked = rng.integers(0, n, size=n)
        row = []
        for k in range(columns):
            f1 = []
            for side in (a, b):
                correct = predicted = gold = 0
                for d in picked:
                    correct += int(side[d, k, 0])
                    predicted += int(side[d, k, 1])
                    gold += int(side[d, k, 2])
                f1.append(2 * correct / (predicted + gold) if predicted + gold else 0.0)
            row.append(f1[1] - f1[0])
        diffs.append(row)
    tail = (1 - confidence) / 2 * 100
    low = [float(np.percentile([r[k] for r in diffs], tail)) for k in range(columns)]
    high = [float(np.percentile([r[k] for r in diffs], 100 - tail)) for k in range(columns)]
    return low, high


def _random_counts(rng: np.random.Generator, n: int, columns: int) -> np.ndarray:
    gold = rng.integers(0, 6, size=(n, columns))
    predicted = rng.integers(0, 6, size=(n, columns))
    correct = np.minimum(gold, predicted) - rng.integers(0, 2, size=(n, columns))
    return np.stack([np.maximum(correct, 0), predicted, gold], axis=2)


@pytest.mark.parametrize("chunk_cells", [4_000_000, 37])
def test_bootstrap_equals_the_direct_loop_on_a_fixed_seed(chunk_cells: int) -> None:
    rng = np.random.default_rng(11)
    a, b = _random_counts(rng, 23, 3), _random_counts(rng, 23, 3)
    diff, low, high = paired_bootstrap(
        a, b, resamples=200, seed=7, confidence=0.9, chunk_cells=chunk_cells
    )
    want_low, want_high = _direct_bootstrap(a, b, 200, 7, 0.9)
    np.testing.assert_allclose(low, want_low, rtol=0, atol=1e-12)
    np.testing.assert_allclose(high, want_high, rtol=0, atol=1e-12)
    np.testing.assert_allclose(diff, f1_of(b.sum(0)) - f1_of(a.sum(0)))
    assert (low <= diff + 1e-12).all() and (diff - 1e-12 <= high).all()


def test_bootstrap_weights_resample_every_document_count() -> None:
    weights = bootstrap_weights(np.random.default_rng(0), 50, 9)
    assert weights.shape == (50, 9) and (weights.sum(axis=1) == 9).all()


def test_a_clearly_worse_model_is_worse_and_an_equal_one_is_not() -> None:
    counts = PairedCounts()
    for d in range(40):
        gold = [Span(0, 1, "PER"), Span(2, 3, "LOC")]
        counts.add(gold, gold, gold[:1] if d % 2 else [])
    micro, *types = counts.differences(resamples=300, seed=1)
    assert micro.label == "micro" and micro.f1_a == 1.0 and micro.worse and not micro.better
    assert micro.verdict == "B worse"
    same = PairedCounts()
    for _ in range(10):
        same.add([Span(0, 1, "PER")], [Span(0, 1, "PER")], [Span(0, 1, "PER")])
    (row, _) = same.differences(resamples=100)
    assert row.difference == 0 and not row.worse and not row.better
    assert [t.label for t in types] == ["LOC", "PER"]


def test_target_builds_b_from_a() -> None:
    base = Settings(url="http://a:1", model="m1", tokenizer="t", api_key="k")
    assert not CompareTarget().given
    settings_only = CompareTarget(aggregation="simple", mode="strict")
    assert settings_only.given and not settings_only.own_backend
    assert settings_only.settings(base) is base
    options = settings_only.options(DecodeOptions(threshold=0.5))
    assert (options.aggregation, options.mode, options.threshold) == ("simple", "strict", 0.5)
    assert settings_only.settings_note(DecodeOptions()) == "aggregation simple, mode strict"
    other = CompareTarget(url="http://b:2").settings(base)
    assert (other.base_url, other.model, other.tokenizer, other.api_key) == (
        "http://b:2",
        None,
        None,
        "k",
    )
    local = CompareTarget(local="").settings(base)
    assert local.local and local.model is None
