"""decode(): ScoredText -> tokens and entities with exact character spans.

Every ScoredText here is built by hand (tokens, offsets, special mask, word ids, probability
rows), so each case says exactly what the model saw.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ner_tui.core.decoding import (
    PREFIXLESS_WARNING,
    decode,
    looks_like_probabilities,
    softmax,
    top_k,
)
from ner_tui.core.labels import LabelSet
from ner_tui.core.types import AGGREGATIONS, Chunk, DecodeOptions, Prediction, ScoredText

NAMES = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG")
CLS = ("[CLS]", 0, 0)
SEP = ("[SEP]", 0, 0)


def row(label: str, p: float = 0.9, names: Sequence[str] = NAMES) -> np.ndarray:
    """A probability row putting ``p`` on ``label`` and the rest evenly elsewhere."""
    out = np.full(len(names), (1.0 - p) / (len(names) - 1), dtype=np.float32)
    out[list(names).index(label)] = p
    return out


def scored(
    text: str,
    tokens: Sequence[tuple[str, int, int]],
    rows: Sequence[np.ndarray | str],
    *,
    words: Sequence[int | None] | None = None,
    names: Sequence[str] = NAMES,
    chunk_of: Sequence[int] | None = None,
    chunks: tuple[Chunk, ...] = (),
) -> ScoredText:
    """Tokens ``(string, start, end)``; ``[CLS]``/``[SEP]``/``<s>``/``</s>`` are special.
    ``words`` defaults to one word per content token."""
    special = [t in ("[CLS]", "[SEP]", "<s>", "</s>") for t, _, _ in tokens]
    if words is None:
        counter = iter(range(len(tokens)))
        words = [None if sp else next(counter) for sp in special]
    probs = np.array(
        [row(r, names=names) if isinstance(r, str) else r for r in rows], dtype=np.float32
    ).reshape(len(tokens), len(names))
    n = len(tokens)
    return ScoredText(
        text=text,
        token_ids=np.arange(n, dtype=np.int64),
        token_strs=tuple(t for t, _, _ in tokens),
        offsets=np.array([(s, e) for _, s, e in tokens], dtype=np.int64).reshape(n, 2),
        special=np.array(special, dtype=bool),
        word_ids=tuple(words),
        probs=probs,
        id2label=tuple(names),
        chunk_of=np.array(chunk_of if chunk_of is not None else [0] * n, dtype=np.int64),
        chunks=chunks,
        model="hand-made",
        source="test",
    )


def spans(prediction: Prediction) -> list[tuple[str, str, int, int]]:
    return [(e.label, e.text, e.start, e.end) for e in prediction.entities]


OBAMA = "Obama visited Seattle"
OBAMA_TOKENS = [CLS, ("Ob", 0, 2), ("##ama", 2, 5), ("visited", 6, 13), ("Seattle", 14, 21), SEP]
OBAMA_WORDS = [None, 0, 0, 1, 2, None]


def test_whole_words_are_the_default() -> None:
    assert DecodeOptions().aggregation == "first"


def test_simple_groups_b_and_i_tokens_into_exact_spans() -> None:
    rows = ["O", row("B-PER", 0.8), row("I-PER", 0.6), "O", "B-LOC", "O"]
    options = DecodeOptions(aggregation="simple")
    p = decode(scored(OBAMA, OBAMA_TOKENS, rows, words=OBAMA_WORDS), options)
    assert spans(p) == [("PER", "Obama", 0, 5), ("LOC", "Seattle", 14, 21)]
    per = p.entities[0]
    assert per.score == pytest.approx(0.7)
    assert per.min_score == pytest.approx(0.6)
    assert (per.token_start, per.token_end) == (1, 3)
    assert p.scheme == "IOB2"
    assert p.warnings == ()
    assert [t.label for t in p.tokens] == ["O", "B-PER", "I-PER", "O", "B-LOC", "O"]
    assert p.tokens[1].score == pytest.approx(0.8)
    assert p.tokens[0].special and not p.tokens[1].special
    assert (p.tokens[4].start, p.tokens[4].end, p.tokens[4].word) == (14, 21, 2)


def test_none_makes_every_labelled_token_its_own_entity() -> None:
    rows = ["O", "B-PER", "I-PER", "O", "B-LOC", "O"]
    p = decode(scored(OBAMA, OBAMA_TOKENS, rows, words=OBAMA_WORDS), DecodeOptions("none"))
    assert spans(p) == [("PER", "Ob", 0, 2), ("PER", "ama", 2, 5), ("LOC", "Seattle", 14, 21)]


def test_word_strategies_label_whole_words_and_score_per_word() -> None:
    # "Ob" says B-PER, "##ama" says B-LOC more confidently.
    rows = ["O", row("B-PER", 0.6), row("B-LOC", 0.8), "O", "O", "O"]
    st_ = scored(OBAMA, OBAMA_TOKENS, rows, words=OBAMA_WORDS)
    first = decode(st_, DecodeOptions("first"))
    assert spans(first) == [("PER", "Obama", 0, 5)]
    assert first.entities[0].score == pytest.approx(0.6)
    assert [t.label for t in first.tokens[1:3]] == ["B-PER", "B-PER"]
    maxed = decode(st_, DecodeOptions("max"))
    assert spans(maxed) == [("LOC", "Obama", 0, 5)]
    assert maxed.entities[0].score == pytest.approx(0.8)
    simple = decode(st_, DecodeOptions("simple"))
    assert spans(simple) == [("PER", "Ob", 0, 2), ("LOC", "ama", 2, 5)]


def test_word_b_and_i_come_from_the_aggregated_word_labels() -> None:
    text = "New York City"
    tokens = [CLS, ("New", 0, 3), ("Yo", 4, 6), ("##rk", 6, 8), ("City", 9, 13), SEP]
    # Subword labels disagree inside "York"; under first the word takes I-LOC.
    rows = ["O", row("B-LOC", 0.9), row("I-LOC", 0.7), row("B-PER", 0.9), row("I-LOC", 0.5), "O"]
    p = decode(scored(text, tokens, rows, words=[None, 0, 1, 1, 2, None]), DecodeOptions("first"))
    assert spans(p) == [("LOC", "New York City", 0, 13)]
    # Members are words: mean of 0.9, 0.7, 0.5 (not of the four tokens).
    assert p.entities[0].score == pytest.approx(0.7)
    assert p.entities[0].min_score == pytest.approx(0.5)
    assert (p.entities[0].token_start, p.entities[0].token_end) == (1, 5)


def test_special_tokens_break_entities_and_never_join_one() -> None:
    text = "Ann Lee"
    tokens = [("Ann", 0, 3), ("[SEP]", 0, 0), ("Lee", 4, 7)]
    rows = ["B-PER", "I-PER", "I-PER"]
    lenient = decode(scored(text, tokens, rows))
    assert spans(lenient) == [("PER", "Ann", 0, 3), ("PER", "Lee", 4, 7)]
    strict = decode(scored(text, tokens, rows), DecodeOptions(mode="strict"))
    assert spans(strict) == [("PER", "Ann", 0, 3)]
    assert [t.rejected for t in strict.tokens] == [False, False, True]


def test_a_literal_sep_typed_by_the_user_is_text() -> None:
    text = "[SEP] met [bold]Lee[/bold]"
    tokens = [
        CLS,
        ("[SEP]-literal", 0, 5),  # mask 0: the user typed it
        ("met", 6, 9),
        ("[bold]", 10, 16),
        ("Lee", 16, 19),
        ("[/bold]", 19, 26),
        SEP,
    ]
    rows = ["O", "B-ORG", "O", "O", "B-PER", "O", "O"]
    p = decode(scored(text, tokens, rows))
    assert spans(p) == [("ORG", "[SEP]", 0, 5), ("PER", "Lee", 16, 19)]


def test_empty_offset_tokens_never_make_empty_spans() -> None:
    # Byte-level BPE: a whitespace token with an empty range, inside and alone.
    text = "Ann  Lee went"
    tokens = [
        ("<s>", 0, 0),
        ("Ann", 0, 3),
        ("Ġ", 4, 4),
        ("ĠLee", 5, 8),
        ("Ġ", 8, 8),
        ("went", 9, 13),
    ]
    rows = ["O", "B-PER", "I-PER", "I-PER", "B-LOC", "O"]
    p = decode(scored(text, tokens, rows))
    assert spans(p) == [("PER", "Ann  Lee", 0, 8)]  # the lone empty B-LOC makes nothing
    # An entity that starts on an empty token starts at its first real character.
    rows = ["O", "O", "B-PER", "I-PER", "O", "O"]
    assert spans(decode(scored(text, tokens, rows))) == [("PER", "Lee", 5, 8)]


def test_tokens_sharing_one_character_range_do_not_overlap() -> None:
    text = "Hi 👍🏽!"
    thumbs = (3, 5)  # emoji + skin-tone modifier (2 code points), split into byte tokens
    tokens = [CLS, ("Hi", 0, 2), ("Ġð", *thumbs), ("Ł", *thumbs), ("į", *thumbs), ("!", 5, 6), SEP]
    rows = ["O", "O", "B-ORG", "B-ORG", "B-ORG", "O", "O"]
    p = decode(scored(text, tokens, rows), DecodeOptions("none"))
    assert spans(p) == [("ORG", "👍🏽", 3, 5)]
    assert any("shared characters" in w for w in p.warnings)
    rows = ["O", "B-PER", "I-PER", "I-PER", "I-PER", "O", "O"]
    p = decode(scored(text, tokens, rows))
    assert spans(p) == [("PER", "Hi 👍🏽", 0, 5)]
    assert p.warnings == ()


def test_threshold_drops_low_scoring_entities_inclusively() -> None:
    text = "Ann and Bob"
    tokens = [("Ann", 0, 3), ("and", 4, 7), ("Bob", 8, 11)]
    rows = [row("B-PER", 0.5), "O", row("B-PER", 0.9)]
    assert len(decode(scored(text, tokens, rows), DecodeOptions(threshold=0.5)).entities) == 2
    p = decode(scored(text, tokens, rows), DecodeOptions(threshold=0.6))
    assert spans(p) == [("PER", "Bob", 8, 11)]
    assert p.tokens[0].label == "B-PER"  # the token table keeps its label


def test_top_k_alternatives_exclude_the_chosen_label_best_first() -> None:
    probs = np.array([0.1, 0.5, 0.05, 0.2, 0.0, 0.15, 0.0], dtype=np.float32)
    st_ = scored("Ann", [("Ann", 0, 3)], [probs])
    token = decode(st_, DecodeOptions(top_k=3)).tokens[0]
    assert token.label == "B-PER"
    assert token.score == pytest.approx(0.5)
    assert [name for name, _ in token.alternatives] == ["B-LOC", "B-ORG", "O"]
    assert [s for _, s in token.alternatives] == pytest.approx([0.2, 0.15, 0.1])
    assert decode(st_, DecodeOptions(top_k=0)).tokens[0].alternatives == ()
    assert len(decode(st_, DecodeOptions(top_k=50)).tokens[0].alternatives) == len(NAMES) - 1


def test_alternatives_follow_the_aggregated_label() -> None:
    """Under first, the second subword takes the word's label; its own argmax becomes an
    alternative and its score is its own probability of the word's label."""
    rows = ["O", row("B-PER", 0.6), row("B-LOC", 0.8), "O", "O", "O"]
    p = decode(scored(OBAMA, OBAMA_TOKENS, rows, words=OBAMA_WORDS), DecodeOptions("first"))
    token = p.tokens[2]
    assert token.label == "B-PER"
    assert token.score == pytest.approx(0.2 / 6)
    assert token.alternatives[0] == ("B-LOC", pytest.approx(0.8))
    assert "B-PER" not in [name for name, _ in token.alternatives]


def test_strict_rejects_orphans_and_flags_whole_words() -> None:
    text = "Bob Marley lives"
    tokens = [CLS, ("Bob", 0, 3), ("Mar", 4, 7), ("##ley", 7, 10), ("lives", 11, 16), SEP]
    rows = ["O", "O", "I-PER", "I-PER", "O", "O"]
    st_ = scored(text, tokens, rows, words=[None, 0, 1, 1, 2, None])
    lenient = decode(st_, DecodeOptions("first"))
    assert spans(lenient) == [("PER", "Marley", 4, 10)]
    assert not any(t.rejected for t in lenient.tokens)
    strict = decode(st_, DecodeOptions("first", mode="strict"))
    assert strict.entities == ()
    assert [t.rejected for t in strict.tokens] == [False, False, True, True, False, False]
    none_strict = decode(st_, DecodeOptions("none", mode="strict"))
    assert none_strict.entities == ()
    assert [t.rejected for t in none_strict.tokens] == [False, False, True, True, False, False]


def test_iobes_model() -> None:
    names = ("O", "B-LOC", "I-LOC", "E-LOC", "S-LOC")
    text = "New York and Paris"
    tokens = [("New", 0, 3), ("York", 4, 8), ("and", 9, 12), ("Paris", 13, 18)]
    good = decode(scored(text, tokens, ["B-LOC", "E-LOC", "O", "S-LOC"], names=names))
    assert good.scheme == "IOBES"
    assert spans(good) == [("LOC", "New York", 0, 8), ("LOC", "Paris", 13, 18)]
    open_ = scored(text, tokens, ["B-LOC", "I-LOC", "O", "S-LOC"], names=names)
    assert spans(decode(open_)) == [("LOC", "New York", 0, 8), ("LOC", "Paris", 13, 18)]
    strict = decode(open_, DecodeOptions(mode="strict"))
    assert spans(strict) == [("LOC", "Paris", 13, 18)]
    assert [t.rejected for t in strict.tokens] == [True, True, False, False]


def test_bilou_model_with_hyphenated_types() -> None:
    names = ("O", "B-ARGM-LOC", "I-ARGM-LOC", "L-ARGM-LOC", "U-ARGM-LOC")
    text = "in the park today"
    tokens = [("in", 0, 2), ("the", 3, 6), ("park", 7, 11), ("today", 12, 17)]
    rows = ["U-ARGM-LOC", "B-ARGM-LOC", "L-ARGM-LOC", "U-ARGM-LOC"]
    p = decode(scored(text, tokens, rows, names=names), DecodeOptions(mode="strict"))
    assert p.scheme == "BILOU"
    assert [(e.label, e.text) for e in p.entities] == [
        ("ARGM-LOC", "in"),
        ("ARGM-LOC", "the park"),
        ("ARGM-LOC", "today"),
    ]


def test_prefixless_labels_warn_that_neighbours_merge() -> None:
    names = ("O", "PER", "LOC")
    text = "Ann Lee in Rome"
    tokens = [("Ann", 0, 3), ("Lee", 4, 7), ("in", 8, 10), ("Rome", 11, 15)]
    p = decode(scored(text, tokens, ["PER", "PER", "O", "LOC"], names=names))
    assert p.scheme == "IO"
    assert spans(p) == [("PER", "Ann Lee", 0, 7), ("LOC", "Rome", 11, 15)]
    assert PREFIXLESS_WARNING in p.warnings


def test_generic_label_names_and_b_o() -> None:
    names = ("LABEL_0", "LABEL_1")
    p = decode(scored("Ann", [("Ann", 0, 3)], ["LABEL_1"], names=names))
    assert spans(p) == [("LABEL_1", "Ann", 0, 3)]
    assert any("LABEL_0 is taken as the outside label" in w for w in p.warnings)
    names = ("B-O", "B-PER", "I-PER")
    p = decode(scored("Ann is", [("Ann", 0, 3), ("is", 4, 6)], ["B-PER", "B-O"], names=names))
    assert spans(p) == [("PER", "Ann", 0, 3)]


def test_label_set_override_changes_the_scheme() -> None:
    text = "Ann Bob"
    tokens = [("Ann", 0, 3), ("Bob", 4, 7)]
    st_ = scored(text, tokens, ["I-PER", "B-PER"])
    iob2 = decode(st_, DecodeOptions(mode="strict"))
    assert spans(iob2) == [("PER", "Bob", 4, 7)]
    iob1 = decode(
        st_, DecodeOptions(mode="strict"), labels=LabelSet.from_names(NAMES, scheme="IOB1")
    )
    assert iob1.scheme == "IOB1"
    assert spans(iob1) == [("PER", "Ann", 0, 3), ("PER", "Bob", 4, 7)]


def test_chunked_text_merges_across_the_chunk_edge() -> None:
    text = "Mr John Smith spoke"
    tokens = [CLS, ("Mr", 0, 2), ("John", 3, 7), ("Smith", 8, 13), ("spoke", 14, 19), SEP]
    chunks = (Chunk(0, 1, 3, 0, 7), Chunk(1, 3, 5, 8, 19))
    st_ = scored(
        text,
        tokens,
        ["O", "O", "B-PER", "I-PER", "O", "O"],
        chunk_of=[0, 0, 0, 1, 1, 1],
        chunks=chunks,
    )
    p = decode(st_)
    assert spans(p) == [("PER", "John Smith", 3, 13)]
    assert [t.chunk for t in p.tokens] == [0, 0, 0, 1, 1, 1]


def test_unicode_text_spans_are_exact() -> None:
    text = "Obama\r\n\tvisited\u00a0東京都 in 2024-05-01"
    tokens = [
        ("Obama", 0, 5),
        ("visited", 8, 15),
        ("東京", 16, 18),
        ("都", 18, 19),
        ("2024", 23, 27),
    ]
    rows = ["B-PER", "O", "B-LOC", "I-LOC", "B-ORG"]
    p = decode(scored(text, tokens, rows), DecodeOptions("simple"))
    assert spans(p) == [("PER", "Obama", 0, 5), ("LOC", "東京都", 16, 19), ("ORG", "2024", 23, 27)]
    assert all(e.text == text[e.start : e.end] for e in p.entities)


def test_empty_text_and_no_tokens() -> None:
    p = decode(scored("", [CLS, SEP], ["B-PER", "I-PER"]))
    assert p.entities == ()
    assert len(p.tokens) == 2
    p = decode(scored("", [], []))
    assert p.entities == () and p.tokens == ()


def test_logits_passed_as_probabilities_are_reported() -> None:
    st_ = scored("Ann", [("Ann", 0, 3)], [np.array([-1.0, 3.0, 0, 0, 0, 0, 0], np.float32)])
    p = decode(st_)
    assert any("not probabilities" in w for w in p.warnings)
    assert spans(p) == [("PER", "Ann", 0, 3)]


def test_inconsistent_scored_text_raises_a_clear_value_error() -> None:
    st_ = scored("Ann", [("Ann", 0, 3)], ["B-PER"])
    bad = ScoredText(**{**st_.__dict__, "probs": np.zeros((2, len(NAMES)), np.float32)})
    with pytest.raises(ValueError, match="inconsistent ScoredText"):
        decode(bad)
    bad = ScoredText(**{**st_.__dict__, "id2label": ("O", "B-PER")})
    with pytest.raises(ValueError, match="7 score columns but 2 labels"):
        decode(bad)


def test_softmax_is_stable_and_detected() -> None:
    logits = np.array([[1000.0, 1000.0, -1000.0], [0.0, 1.0, 2.0]], dtype=np.float32)
    probs = softmax(logits)
    assert probs.dtype == np.float32
    assert np.all(np.isfinite(probs))
    assert probs[0].tolist() == pytest.approx([0.5, 0.5, 0.0])
    assert looks_like_probabilities(probs)
    assert not looks_like_probabilities(logits)
    assert not looks_like_probabilities(np.array([[0.7, 0.7]]))
    assert not looks_like_probabilities(np.array([[1.5, -0.5]]))
    assert looks_like_probabilities(np.zeros((0, 3)))
    assert softmax(np.array([[1, 2]])).dtype == np.float32  # ints become float32


def test_top_k_orders_best_first_and_caps_k() -> None:
    probs = np.array([[0.1, 0.6, 0.3], [0.5, 0.25, 0.25]], dtype=np.float32)
    idx, val = top_k(probs, 2)
    assert idx.tolist() == [[1, 2], [0, 1]]  # ties: lower index first
    assert np.allclose(val, [[0.6, 0.3], [0.5, 0.25]])
    assert top_k(probs, 10)[0].shape == (2, 3)
    assert top_k(probs, 0)[0].shape == (2, 0)


# --- Property test: random text, offsets, labels and options --------------------------------

LABEL_SETS = [
    NAMES,
    ("O", "B-LOC", "I-LOC", "E-LOC", "S-LOC"),
    ("O", "B-X", "I-X", "L-X", "U-X"),
    ("O", "PER", "LOC"),
    ("LABEL_0", "LABEL_1", "LABEL_2"),
    ("B-O", "B-ARGM-LOC", "I-ARGM-LOC"),
]


@st.composite
def random_scored(draw: st.DrawFn) -> ScoredText:
    text = draw(st.text(max_size=40))
    names = draw(st.sampled_from(LABEL_SETS))
    n = draw(st.integers(0, 30))
    bound = len(text) + 3  # offsets may even point past the text
    offsets = draw(
        st.lists(st.tuples(st.integers(0, bound), st.integers(0, bound)), min_size=n, max_size=n)
    )
    if draw(st.booleans()):
        offsets = sorted((min(a, b), max(a, b)) for a, b in offsets)
    special = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    words: list[int | None] = []
    w = 0
    for sp in special:
        w += draw(st.integers(0, 1))
        words.append(None if sp else w)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(len(names), 0.3), size=n).astype(np.float32)
    kind = draw(st.sampled_from(["probs", "logits", "nan"]))
    if kind == "logits":  # passed without softmax by mistake, with ties
        probs = np.round(rng.normal(size=(n, len(names))), 1).astype(np.float32)
    elif kind == "nan" and n:
        probs[rng.integers(0, n)] = np.nan
    return ScoredText(
        text=text,
        token_ids=np.arange(n, dtype=np.int64),
        token_strs=tuple(f"t{i}" for i in range(n)),
        offsets=np.array(offsets, dtype=np.int64).reshape(n, 2),
        special=np.array(special, dtype=bool),
        word_ids=tuple(words),
        probs=probs.reshape(n, len(names)),
        id2label=names,
        chunk_of=np.zeros(n, dtype=np.int64),
        chunks=(),
        model="random",
        source="hypothesis",
    )


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st_=random_scored(),
    aggregation=st.sampled_from(AGGREGATIONS),
    mode=st.sampled_from(["lenient", "strict"]),
    threshold=st.sampled_from([0.0, 0.3]),
    k=st.integers(0, 4),
)
def test_decode_invariants(
    st_: ScoredText, aggregation: str, mode: str, threshold: float, k: int
) -> None:
    options = DecodeOptions(aggregation, mode, threshold, k)  # type: ignore[arg-type]
    p = decode(st_, options)
    text = st_.text
    n = len(st_)
    assert len(p.tokens) == n
    previous_end = 0
    for e in p.entities:
        assert previous_end <= e.start < e.end <= len(text)  # sorted, disjoint, non-empty
        assert e.text == text[e.start : e.end]
        assert 0 <= e.token_start < e.token_end <= n
        assert not st_.special[e.token_start : e.token_end].any()
        assert e.min_score <= e.score + 1e-9
        assert e.score >= threshold
        assert "-" not in e.label or e.label == "ARGM-LOC"  # a type, never a B-/I- label
        previous_end = e.end
    for t in p.tokens:
        assert not (t.special and t.rejected)
        assert len(t.alternatives) == min(k, len(st_.id2label) - 1)
        assert t.label not in [name for name, _ in t.alternatives]
        assert 0 <= t.start <= len(text) and 0 <= t.end <= len(text)  # clipped into the text
    if mode == "lenient":
        assert not any(t.rejected for t in p.tokens)


def test_token_predictions_are_ordinary_frozen_values() -> None:
    """decode() fills TokenPredictions column-wise for speed: they must be
    indistinguishable from ones built the normal way, and the GC state is left as found."""
    import dataclasses
    import gc

    rows = ["O", "B-PER", "I-PER", "O", "B-LOC", "O"]
    st_ = scored(OBAMA, OBAMA_TOKENS, rows, words=OBAMA_WORDS)
    gc.disable()
    try:
        decode(st_)
        assert not gc.isenabled()
    finally:
        gc.enable()
    tokens = decode(st_).tokens
    assert gc.isenabled()
    for token in tokens:
        rebuilt = type(token)(**{f.name: getattr(token, f.name) for f in dataclasses.fields(token)})
        assert rebuilt == token and hash(rebuilt) == hash(token) and repr(rebuilt) == repr(token)
        with pytest.raises(dataclasses.FrozenInstanceError):
            token.label = "O"  # type: ignore[misc]
