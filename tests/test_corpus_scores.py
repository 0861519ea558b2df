"""The corpus view's scoring without a model or a terminal: kept entities filtered at a
threshold and scored as eval scores them, documents sorted and filtered, errors listed; the
one-pass decoder against decode() text by text, and re-scoring only the documents that changed
against scoring all of them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ner_tui.core import corpus_scores
from ner_tui.core.corpus import CorpusDocument, token_spans
from ner_tui.core.corpus_scores import (
    CorpusDecoder,
    CorpusScores,
    Decoded,
    _rescore_all,
    _rescore_plain,
    all_errors,
    decode_each,
    entity_types,
    rescore,
    select,
)
from ner_tui.core.scoring import Span
from ner_tui.core.types import AGGREGATIONS, DecodeOptions, ScoredText

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


# --------------------------------------------------------------------------- one pass, many texts

SCHEMES = {
    "IOB2": ("O", "B-PER", "I-PER", "B-LOC", "I-LOC"),
    "IOBES": ("O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"),
    "BILOU": ("O", "B-PER", "I-PER", "L-PER", "U-PER", "B-LOC", "I-LOC", "L-LOC", "U-LOC"),
    "IO": ("O", "PER", "LOC"),
}


@st.composite
def texts(draw: st.DrawFn, names: tuple[str, ...]) -> ScoredText:
    """A random text as a model saw it: special tokens anywhere (or none), words of several
    tokens, tokens sharing a character range or with none, rows that are and are not sure."""
    n = draw(st.integers(0, 14))
    text = "x" * draw(st.integers(0, 40))
    offsets, special, words, word = [], [], [], -1
    for _ in range(n):
        is_special = draw(st.integers(0, 7)) == 0
        start = draw(st.integers(0, len(text) + 2))
        end = start + draw(st.integers(-1, 4))
        offsets.append((0, 0) if is_special else (start, end))
        special.append(is_special)
        if is_special or draw(st.booleans()):
            word += 1 if not is_special else 0
        words.append(None if is_special else max(word, 0))
    raw = draw(
        st.lists(st.floats(0.0, 1.0, width=32), min_size=n * len(names), max_size=n * len(names))
    )
    probs = np.array(raw, dtype=np.float32).reshape(n, len(names)) + np.float32(1e-3)
    probs /= probs.sum(axis=1, keepdims=True)
    return ScoredText(
        text=text,
        token_ids=np.arange(n, dtype=np.int64),
        token_strs=tuple(f"t{i}" for i in range(n)),
        offsets=np.array(offsets, dtype=np.int64).reshape(n, 2),
        special=np.array(special, dtype=bool).reshape(n),
        word_ids=tuple(words),
        probs=probs,
        id2label=names,
        chunk_of=np.zeros(n, dtype=np.int64),
        chunks=(),
        model="random",
        source="test",
    )


@st.composite
def corpora(draw: st.DrawFn) -> list[ScoredText | None]:
    """A few texts, some without a prediction (None), of one or two label sets."""
    schemes = draw(st.lists(st.sampled_from(sorted(SCHEMES)), min_size=1, max_size=2))
    return draw(
        st.lists(
            st.one_of(st.none(), *(texts(SCHEMES[s]) for s in schemes)),
            min_size=0,
            max_size=8,
        )
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpora(), st.sampled_from(AGGREGATIONS), st.sampled_from(["lenient", "strict"]))
def test_one_pass_over_every_text_equals_decode_text_by_text(
    scored: list[ScoredText | None], aggregation: str, mode: str
) -> None:
    options = DecodeOptions(aggregation=aggregation, mode=mode)  # type: ignore[arg-type]
    assert CorpusDecoder(scored).decode(options) == decode_each(scored, options)


def test_an_inconsistent_text_raises_as_decode_does() -> None:
    names = SCHEMES["IOB2"]
    good = ScoredText(
        text="ab",
        token_ids=np.arange(1),
        token_strs=("ab",),
        offsets=np.array([[0, 2]]),
        special=np.zeros(1, dtype=bool),
        word_ids=(0,),
        probs=np.full((1, len(names)), 1 / len(names), np.float32),
        id2label=names,
        chunk_of=np.zeros(1, dtype=np.int64),
        chunks=(),
        model="hand-made",
        source="test",
    )
    bad = replace(good, probs=np.zeros((len(good.token_strs) + 1, 5), np.float32))
    with pytest.raises(ValueError, match="inconsistent ScoredText"):
        CorpusDecoder([good, bad]).decode(DecodeOptions())


# --------------------------------------------------------------------------- re-scoring a part


@st.composite
def documents(draw: st.DrawFn) -> tuple[list[CorpusDocument], list[Decoded], list[Decoded]]:
    """Documents with gold (CoNLL-like tokens or characters, some without gold) and two
    predictions of each (None: not predicted), entities with random scores."""
    labels = st.sampled_from(["PER", "LOC", "ORG"])

    def spans(size: int) -> st.SearchStrategy[list[tuple[int, int, str, float]]]:
        cuts = st.lists(st.integers(0, size), min_size=0, max_size=8, unique=True).map(sorted)
        return cuts.flatmap(
            lambda c: st.tuples(
                *(
                    st.tuples(
                        st.just(a), st.just(b), labels, st.sampled_from([0.2, 0.4, 0.6, 0.95])
                    )
                    for a, b in zip(c[0::2], c[1::2], strict=False)
                    if b > a
                )
            ).map(list)
        )

    docs, first, second = [], [], []
    for i in range(draw(st.integers(1, 6))):
        size = 12
        text = "ab " * (size // 3)
        conll = draw(st.booleans())
        tokens = tuple((3 * k, 3 * k + 2) for k in range(size // 3)) if conll else None
        gold_chars = draw(spans(size))
        gold = None
        if draw(st.integers(0, 4)):
            if conll:
                gold = token_spans(gold_chars, tokens)  # type: ignore[arg-type]
            else:
                gold = tuple(Span(s, e, t) for s, e, t, _ in gold_chars)
        docs.append(CorpusDocument(i, i + 1, text, gold, tokens))
        first.append(None if draw(st.integers(0, 5)) == 0 else tuple(draw(spans(size))))
        mine = first[-1]
        if mine is not None and draw(st.booleans()):  # the same spans, other scores
            scores = st.sampled_from([0.1, 0.3, 0.55, 0.8, 0.99])
            second.append(tuple((s, e, t, draw(scores)) for s, e, t, _ in mine))
        else:
            second.append(None if draw(st.integers(0, 5)) == 0 else tuple(draw(spans(size))))
    return docs, first, second


@settings(max_examples=150, deadline=None)
@given(documents(), st.sampled_from([0.0, 0.3, 0.5, 0.9]), st.sampled_from([0.0, 0.5, 0.7]))
def test_rescoring_only_what_changed_equals_scoring_everything(
    corpus: tuple[list[CorpusDocument], list[Decoded], list[Decoded]], before: float, after: float
) -> None:
    docs, first, second = corpus
    previous = rescore(docs, first, DecodeOptions(threshold=before))
    for decoded in (first, second, first):
        fresh = rescore(docs, decoded, DecodeOptions(threshold=after))
        options = DecodeOptions(threshold=after)
        again = rescore(docs, decoded, options, previous=previous, redo_share=1.0)
        assert again.results == fresh.results
        if fresh.report is None:
            assert again.report is None
        else:
            assert again.report is not None
            assert _json(again.report.to_json()) == _json(fresh.report.to_json())
        previous = again  # and on from there, as the app goes from setting to setting


def test_a_threshold_change_reuses_the_unchanged_documents() -> None:
    scores = rescore(DOCS, DECODED, DecodeOptions())
    kept = rescore(DOCS, DECODED, DecodeOptions(threshold=0.5), previous=scores)
    assert kept.results[0] is scores.results[0]  # both entities above 0.5: not scored again
    assert kept.results[1] is not scores.results[1]
    fresh = rescore(DOCS, DECODED, DecodeOptions(threshold=0.5))
    assert kept.report is not None and fresh.report is not None
    assert _json(kept.report.to_json()) == _json(fresh.report.to_json())


def test_remembered_settings_are_bounded_by_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    """The decoder keeps the most recent settings' scores, as many as hold SEEN_DOCUMENTS
    documents' results (a threshold sweep across aggregations must not keep every corpus)."""
    monkeypatch.setattr(corpus_scores, "SEEN_DOCUMENTS", 7)  # two settings of three documents
    decoder = CorpusDecoder([])
    settings = [DecodeOptions(threshold=t) for t in (0.0, 0.1, 0.2)]
    scored = {o: rescore(DOCS, DECODED, o) for o in settings}
    decoder.remember(scored[settings[0]])
    decoder.remember(scored[settings[1]])
    assert decoder.recall(settings[0], 3) is scored[settings[0]]  # now the most recent
    assert decoder.recall(settings[0], 2) is None  # other documents
    decoder.remember(scored[settings[2]])  # the least recent (0.1) goes
    assert decoder.recall(settings[1], 3) is None
    assert decoder.recall(settings[0], 3) is scored[settings[0]]
    assert decoder.recall(settings[2], 3) is scored[settings[2]]
    monkeypatch.setattr(corpus_scores, "SEEN_DOCUMENTS", 1)  # fewer than a corpus: the last
    decoder.remember(scored[settings[1]])
    assert [decoder.recall(o, 3) is not None for o in settings] == [False, True, False]


def _json(value: object) -> str:
    import json

    return json.dumps(value, sort_keys=True)


# --------------------------------------------------------------------------- the vectorised pass

SCORES = [0.2, 0.5, 0.5, 0.7, 0.95]  # 0.5: exactly at a threshold below


@st.composite
def mixed_corpora(draw: st.DrawFn) -> tuple[list[CorpusDocument], list[Decoded], list[Decoded]]:
    """CoNLL-like documents (gold over ``doc.tokens``) and JSONL ones (gold over characters,
    the confusion over whitespace words), with gold and without, empty ones, long entities
    (nervaluate's 1% overlap rule), and two predictions of each: entities that hit a gold one
    exactly, with another type, overlap it, lie inside it, span several, cut words, and now
    and then out of order or overlapping (the plain path's shapes)."""
    labels = st.sampled_from(["PER", "LOC", "ORG"])
    docs: list[CorpusDocument] = []
    firsts: list[Decoded] = []
    seconds: list[Decoded] = []
    for i in range(draw(st.integers(1, 7))):
        conll = draw(st.booleans())
        sizes = draw(st.lists(st.integers(1, 4), min_size=0, max_size=9))
        if draw(st.integers(0, 9)) == 0:
            sizes.append(draw(st.integers(101, 140)))  # a token longer than 100 characters
        gaps = [1 if conll else draw(st.integers(1, 3)) for _ in sizes]
        words, at = [], 0
        for size, gap in zip(sizes, gaps, strict=True):
            words.append((at, at + size))
            at += size + gap
        text = "".join("w" * (e - s) + " " * gap for (s, e), gap in zip(words, gaps, strict=True))[
            : max(at - 1, 0)
        ]
        bounds = sorted({0, len(text), *(p for w in words for p in w)})

        def cuts(n: int, pool: list[int]) -> list[tuple[int, int]]:
            points = sorted(set(draw(st.lists(st.sampled_from(pool), max_size=n))))
            return [(a, b) for a, b in zip(points[0::2], points[1::2], strict=False) if b > a]

        gold: tuple[Span, ...] | None = None
        if draw(st.integers(0, 4)):
            if conll:
                pairs = cuts(8, list(range(len(words) + 1)))
            else:
                pairs = cuts(8, bounds + list(range(len(text) + 1)))
            gold = tuple(Span(a, b, draw(labels)) for a, b in pairs)
            if gold and draw(st.integers(0, 19)) == 0:  # overlapping gold: the plain path
                end = gold[0].end + 1 if not conll or gold[0].end < len(words) else gold[0].end
                gold = (*gold, Span(gold[0].start, end, draw(labels)))
        tokens = tuple(words) if conll else None
        docs.append(CorpusDocument(i, i + 1, text, gold, tokens))
        gold_chars = []
        for span in gold or ():
            if conll and span.end <= len(words):
                gold_chars.append((words[span.start][0], words[span.end - 1][1]))
            elif not conll:
                gold_chars.append((span.start, span.end))

        def predictions(pool: list[int], gold_chars: list[tuple[int, int]]) -> Decoded:
            if draw(st.integers(0, 6)) == 0:
                return None
            pairs = cuts(10, pool)
            if gold_chars and draw(st.booleans()):  # exact hits, maybe with another type
                pairs = sorted(set(pairs) | set(draw(st.lists(st.sampled_from(gold_chars)))))
                kept: list[tuple[int, int]] = []
                for a, b in pairs:  # apart again, as decoded entities are
                    if not kept or a >= kept[-1][1]:
                        kept.append((a, b))
                pairs = kept
            entities = [(a, b, draw(labels), draw(st.sampled_from(SCORES))) for a, b in pairs]
            if entities and draw(st.integers(0, 14)) == 0:  # out of order, overlapping
                a, b, label, score = entities[0]
                entities.append((a, b + 1, label, score))
            return tuple(entities)

        pool = bounds + [p for g in gold_chars for p in g] + list(range(len(text) + 3))
        firsts.append(predictions(pool, gold_chars))
        seconds.append(predictions(pool, gold_chars))
    return docs, firsts, seconds


def _same(a: CorpusScores, b: CorpusScores) -> None:
    assert a.results == b.results
    for x, y in zip(a.results, b.results, strict=True):
        assert type(x.entities) is tuple and x.predicted == y.predicted
        assert (x.score.errors if x.score else None) == (y.score.errors if y.score else None)
    if b.report is None:
        assert a.report is None
    else:
        assert a.report is not None
        assert _json(a.report.to_json()) == _json(b.report.to_json())
    assert a.totals is not None and b.totals is not None
    assert vars(a.totals) == vars(b.totals)  # every count, so later merges agree too


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_corpora(), st.sampled_from([0.0, 0.5, 0.7]), st.sampled_from([0.0, 0.5]))
def test_the_vectorised_pass_equals_scoring_document_by_document(
    corpus: tuple[list[CorpusDocument], list[Decoded], list[Decoded]], before: float, after: float
) -> None:
    docs, first, second = corpus
    options = DecodeOptions(threshold=before)
    fast = _rescore_all(docs, first, options)
    _same(fast, _rescore_plain(docs, first, options))
    # And re-scoring only what changed (in vectorised batches) from there.
    options = DecodeOptions(threshold=after)
    again = rescore(docs, second, options, previous=fast, redo_share=1.0)
    _same(again, _rescore_plain(docs, second, options))
    back = rescore(docs, first, options, previous=again, redo_share=1.0)
    _same(back, _rescore_plain(docs, first, options))


def test_the_vectorised_pass_scores_without_the_per_document_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stars of every kind (a gold entity split in two, two gold entities under one, exact,
    wrong type, missed, spurious, no gold) in CoNLL and JSONL documents: no document goes the plain
    way, and the result is still the plain one."""
    text = "Angela Merkel met Macron in Paris ."
    tokens = ((0, 6), (7, 13), (14, 17), (18, 24), (25, 27), (28, 33), (34, 35))
    conll = CorpusDocument(0, 1, text, (Span(0, 2, "PER"), Span(3, 4, "PER")), tokens)
    jsonl = CorpusDocument(1, 2, text, (Span(0, 6, "PER"), Span(7, 13, "PER"), Span(28, 33, "LOC")))
    docs = [conll, jsonl, CorpusDocument(2, 3, text, None)]
    decoded: list[Decoded] = [
        ((0, 6, "PER", 0.9), (7, 13, "PER", 0.8), (18, 24, "ORG", 0.5), (25, 27, "LOC", 0.3)),
        ((0, 13, "PER", 0.9), (14, 17, "MISC", 0.2), (28, 33, "ORG", 0.6)),
        ((0, 6, "PER", 0.7),),
    ]
    expected = _rescore_plain(docs, decoded, DecodeOptions())
    kinds = {e.kind for r in expected.results if r.score for e in r.score.errors}
    assert kinds == {"wrong_boundary", "wrong_type", "missed", "spurious"}

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a document went the plain way")

    monkeypatch.setattr(corpus_scores, "score_document", refuse)
    monkeypatch.setattr(corpus_scores, "predicted_spans", refuse)
    _same(_rescore_all(docs, decoded, DecodeOptions()), expected)
