"""Tag sequences -> spans: our vectorised decoders against seqeval 1.2.2 (and nervaluate).

seqeval conventions: ``get_entities`` returns inclusive ends, ``Entities`` exclusive ones; ours
are exclusive everywhere.
"""

from __future__ import annotations

import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nervaluate.utils import collect_named_entities
from seqeval.metrics.sequence_labeling import get_entities
from seqeval.scheme import BILOU, IOB1, IOB2, IOBES, Entities

from ner_tui.core.labels import split_label
from ner_tui.core.tagging import decode_tags

SEQEVAL_SCHEMES = {"IOB2": IOB2, "IOB1": IOB1, "IOBES": IOBES, "BILOU": BILOU}
PREFIXES = {"IOB2": "BI", "IOB1": "BI", "IOBES": "BIES", "BILOU": "BILU"}
TYPES = ["PER", "LOC", "ARGM-LOC"]
FAST = settings(max_examples=150, deadline=None)

Span = tuple[str, int, int]


def seqeval_lenient(tags: list[str]) -> list[Span]:
    """seqeval's default mode. BILOU is spelled as IOBES first (get_entities knows E-/S- but
    not L-/U-: raw, it would merge ``U-PER U-PER`` into one entity)."""
    spelled = [
        "E" + t[1:] if t.startswith("L-") else "S" + t[1:] if t.startswith("U-") else t
        for t in tags
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [(t, s, e + 1) for t, s, e in get_entities(spelled)]


def seqeval_strict(tags: list[str], scheme: str) -> list[Span]:
    entities = Entities([tags], scheme=SEQEVAL_SCHEMES[scheme]).entities[0]
    return sorted(((e.tag, e.start, e.end) for e in entities), key=lambda x: (x[1], x[2]))


def covered(spans: list[Span]) -> set[int]:
    return {i for _, s, e in spans for i in range(s, e)}


# --- The reference table of decoding.md, one explicit case per cell --------------------------

ERROR = "error"
TABLE = [
    # tags, scheme, mode, expected
    ("I-PER I-PER O", "IOB2", "lenient", [("PER", 0, 2)]),
    ("I-PER I-PER O", "IOB2", "strict", []),
    ("I-PER I-PER O", "IOBES", "strict", []),
    ("B-PER I-LOC O", "IOB2", "lenient", [("PER", 0, 1), ("LOC", 1, 2)]),
    ("B-PER I-LOC O", "IOB2", "strict", [("PER", 0, 1)]),
    ("B-PER I-LOC O", "IOBES", "strict", []),
    ("B-PER B-PER", "IOB2", "lenient", [("PER", 0, 1), ("PER", 1, 2)]),
    ("B-PER B-PER", "IOB2", "strict", [("PER", 0, 1), ("PER", 1, 2)]),
    ("B-PER B-PER", "IOBES", "strict", []),
    ("B-PER O", "IOB2", "lenient", [("PER", 0, 1)]),
    ("B-PER O", "IOB2", "strict", [("PER", 0, 1)]),
    ("B-PER O", "IOBES", "strict", []),
    ("B-PER E-PER", "IOBES", "lenient", [("PER", 0, 2)]),
    ("B-PER E-PER", "IOB2", "strict", ERROR),
    ("B-PER E-PER", "IOBES", "strict", [("PER", 0, 2)]),
    ("S-PER S-PER", "IOBES", "lenient", [("PER", 0, 1), ("PER", 1, 2)]),
    ("S-PER S-PER", "IOB2", "strict", ERROR),
    ("S-PER S-PER", "IOBES", "strict", [("PER", 0, 1), ("PER", 1, 2)]),
    ("B-PER I-PER O", "IOB2", "lenient", [("PER", 0, 2)]),
    ("B-PER I-PER O", "IOB2", "strict", [("PER", 0, 2)]),
    ("B-PER I-PER O", "IOBES", "strict", []),
    ("B-PER L-PER U-LOC", "BILOU", "lenient", [("PER", 0, 2), ("LOC", 2, 3)]),
    ("B-PER L-PER U-LOC", "IOB2", "strict", ERROR),
    ("B-PER L-PER U-LOC", "BILOU", "strict", [("PER", 0, 2), ("LOC", 2, 3)]),
]


@pytest.mark.parametrize(
    ("tags", "scheme", "mode", "expected"),
    TABLE,
    ids=[f"{t.replace(' ', '_')}-{s}-{m}" for t, s, m, _ in TABLE],
)
def test_reference_table(tags: str, scheme: str, mode: str, expected: list[Span] | str) -> None:
    seq = tags.split()
    if expected == ERROR:
        with pytest.raises(ValueError):
            Entities([seq], scheme=SEQEVAL_SCHEMES[scheme])  # the oracle refuses too
        with pytest.raises(ValueError, match="not valid in the IOB2 scheme"):
            decode_tags(seq, scheme, mode)
        return
    oracle = seqeval_lenient(seq) if mode == "lenient" else seqeval_strict(seq, scheme)
    assert oracle == expected  # the table itself agrees with seqeval
    spans, rejected = decode_tags(seq, scheme, mode)
    assert spans == expected
    non_o = {i for i, t in enumerate(seq) if t != "O"}
    assert rejected == (non_o - covered(spans) if mode == "strict" else set())


def test_strict_marks_exactly_the_dropped_tokens() -> None:
    spans, rejected = decode_tags(["B-PER", "I-LOC", "O", "I-PER", "B-LOC"], "IOB2", "strict")
    assert spans == [("PER", 0, 1), ("LOC", 4, 5)]
    assert rejected == {1, 3}


def test_bilou_lenient_keeps_adjacent_units_apart() -> None:
    """Raw get_entities would merge U-PER U-PER into one entity; BILOU means two."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert get_entities(["U-PER", "U-PER"]) == [("PER", 0, 1)]
    assert decode_tags(["U-PER", "U-PER"], "BILOU", "lenient")[0] == [("PER", 0, 1), ("PER", 1, 2)]


def test_iob1_quirks_follow_seqeval() -> None:
    # In IOB1, B- only separates two adjacent same-type entities.
    assert decode_tags(["I-PER", "B-PER", "I-PER"], "IOB1", "strict") == (
        [("PER", 0, 1), ("PER", 1, 3)],
        set(),
    )
    # A B- after O is invalid in IOB1: dropped, and the I- after it starts the entity.
    assert decode_tags(["O", "B-PER", "I-PER"], "IOB1", "strict") == ([("PER", 2, 3)], {1})
    assert seqeval_strict(["O", "B-PER", "I-PER"], "IOB1") == [("PER", 2, 3)]


def test_prefixless_runs_are_entities_in_both_modes() -> None:
    tags = ["PER", "PER", "O", "LOC", "PER", "PER"]
    expected = [("PER", 0, 2), ("LOC", 3, 4), ("PER", 4, 6)]
    for mode in ("lenient", "strict"):
        assert decode_tags(tags, "IO", mode) == (expected, set())


def test_prefixless_labels_with_hyphens_are_taken_whole() -> None:
    assert decode_tags(["B-PER", "B-PER", "I-PER"], "IO", "lenient")[0] == [
        ("B-PER", 0, 2),
        ("I-PER", 2, 3),
    ]


def test_empty_and_all_outside() -> None:
    for scheme in ("IOB2", "IOB1", "IOBES", "BILOU", "IO"):
        for mode in ("lenient", "strict"):
            assert decode_tags([], scheme, mode) == ([], set())
            assert decode_tags(["O", "O"], scheme, mode) == ([], set())


def test_b_o_tags_count_as_outside() -> None:
    assert decode_tags(["B-PER", "B-O", "I-PER"], "IOB2", "strict") == ([("PER", 0, 1)], {2})


def test_unknown_scheme_or_mode() -> None:
    with pytest.raises(ValueError, match="tagging scheme"):
        decode_tags(["O"], "BIO", "lenient")
    with pytest.raises(ValueError, match="decoding mode"):
        decode_tags(["O"], "IOB2", "loose")


# --- Property tests: random tag sequences, every scheme, both modes ---------------------------


def tag_sequences(scheme: str) -> st.SearchStrategy[list[str]]:
    tag = st.one_of(
        st.just("O"),
        st.builds(
            lambda p, t: f"{p}-{t}", st.sampled_from(PREFIXES[scheme]), st.sampled_from(TYPES)
        ),
    )
    return st.lists(tag, max_size=24)


@pytest.mark.parametrize("scheme", list(SEQEVAL_SCHEMES))
@FAST
@given(data=st.data())
def test_lenient_equals_seqeval_get_entities(scheme: str, data: st.DataObject) -> None:
    tags = data.draw(tag_sequences(scheme))
    assert decode_tags(tags, scheme, "lenient") == (seqeval_lenient(tags), set())


@pytest.mark.parametrize("scheme", list(SEQEVAL_SCHEMES))
@FAST
@given(data=st.data())
def test_strict_equals_seqeval_entities(scheme: str, data: st.DataObject) -> None:
    tags = data.draw(tag_sequences(scheme))
    expected = seqeval_strict(tags, scheme)
    spans, rejected = decode_tags(tags, scheme, "strict")
    assert spans == expected
    assert rejected == {i for i, t in enumerate(tags) if t != "O"} - covered(expected)


@FAST
@given(tags=tag_sequences("IOB2"))
def test_lenient_bio_equals_nervaluate(tags: list[str]) -> None:
    """A second, independent conlleval-style decoder: nervaluate's (inclusive ends)."""
    expected = [(e["label"], e["start"], e["end"] + 1) for e in collect_named_entities(tags)]
    assert decode_tags(tags, "IOB2", "lenient")[0] == expected


@FAST
@given(tags=st.lists(st.sampled_from(["O", "PER", "LOC", "ARGM-LOC"]), max_size=24))
def test_prefixless_equals_seqeval_on_i_spelling(tags: list[str]) -> None:
    """A run of equal prefix-less labels is one entity: exactly get_entities on I-X tags."""
    as_i = [t if t == "O" else f"I-{t}" for t in tags]
    for mode in ("lenient", "strict"):
        assert decode_tags(tags, "IO", mode) == (seqeval_lenient(as_i), set())


@FAST
@given(tags=tag_sequences("IOBES"), mode=st.sampled_from(["lenient", "strict"]))
def test_spans_are_sorted_disjoint_and_typed(tags: list[str], mode: str) -> None:
    spans, rejected = decode_tags(tags, "IOBES", mode)
    ends = 0
    for type_, start, end in spans:
        assert ends <= start < end <= len(tags)
        assert all(split_label(tags[i])[1] == type_ for i in range(start, end))
        ends = end
    assert not rejected & covered(spans)
