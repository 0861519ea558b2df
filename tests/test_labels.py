"""Label parsing and tagging-scheme detection from a model's id2label."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ner_tui.core.labels import (
    BEGIN,
    END,
    INSIDE,
    OUT,
    SINGLE,
    LabelSet,
    id2label_names,
    is_generic_label,
    split_label,
)


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("O", ("O", "")),
        ("B-PER", ("B", "PER")),
        ("I-PER", ("I", "PER")),
        ("E-LOC", ("E", "LOC")),
        ("S-LOC", ("S", "LOC")),
        ("L-ORG", ("L", "ORG")),
        ("U-ORG", ("U", "ORG")),
        ("M-ORG", ("M", "ORG")),
        ("B-ARGM-LOC", ("B", "ARGM-LOC")),
        ("I-ARGM-LOC", ("I", "ARGM-LOC")),
        ("B-O", ("O", "")),
        ("I-O", ("O", "")),
        ("B", ("B", "_")),
        ("I", ("I", "_")),
        ("PER", ("", "PER")),
        ("LABEL_3", ("", "LABEL_3")),
        ("b-per", ("", "b-per")),
        ("B_PER", ("", "B_PER")),
        ("Bob", ("", "Bob")),
        ("B-", ("", "B-")),
    ],
)
def test_split_label(label: str, expected: tuple[str, str]) -> None:
    assert split_label(label) == expected


def test_iob2_is_the_default_when_b_exists() -> None:
    labels = LabelSet.from_id2label(
        {0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC", 4: "I-LOC", 5: "B-MISC", 6: "I-MISC"}
    )
    assert labels.scheme == "IOB2"
    assert labels.outside_id == 0
    assert labels.entity_types == ("PER", "LOC", "MISC")
    assert labels.prefixes == ("O", "B", "I", "B", "I", "B", "I")
    assert labels.codes.tolist() == [OUT, BEGIN, INSIDE, BEGIN, INSIDE, BEGIN, INSIDE]
    assert labels.type_ids.tolist() == [-1, 0, 0, 1, 1, 2, 2]
    assert labels.notes == ()
    assert len(labels) == 7
    assert labels.prefixes[0] == "O" and labels.prefixes[1] != "O"


def test_string_keys_from_config_json_in_any_order() -> None:
    config = json.loads('{"id2label": {"2": "I-PER", "0": "O", "1": "B-PER"}}')
    labels = LabelSet.from_id2label(config["id2label"])
    assert labels.names == ("O", "B-PER", "I-PER")
    assert labels.scheme == "IOB2"


@pytest.mark.parametrize(
    ("names", "scheme"),
    [
        (["O", "B-PER", "I-PER", "E-PER", "S-PER"], "IOBES"),
        (["B-PER", "I-PER", "O", "E-PER", "S-PER"], "IOBES"),  # BIOES order
        (["O", "B-PER", "E-PER", "S-PER"], "IOBES"),
        (["O", "B-PER", "M-PER", "E-PER", "S-PER"], "IOBES"),  # BMES
        (["O", "B-PER", "I-PER", "L-PER", "U-PER"], "BILOU"),
        (["O", "U-PER"], "BILOU"),
        (["O", "I-PER", "I-LOC"], "IOB1"),
        (["O", "PER", "LOC"], "IO"),
        (["O"], "IO"),
        ([], "IO"),
    ],
)
def test_scheme_detection(names: list[str], scheme: str) -> None:
    assert LabelSet.from_names(names).scheme == scheme


def test_bilou_and_iobes_codes_coincide() -> None:
    bilou = LabelSet.from_names(["O", "B-X", "I-X", "L-X", "U-X"])
    iobes = LabelSet.from_names(["O", "B-X", "I-X", "E-X", "S-X"])
    assert bilou.codes.tolist() == iobes.codes.tolist() == [OUT, BEGIN, INSIDE, END, SINGLE]


def test_mixed_iobes_and_bilou_prefixes_read_as_iobes_with_a_note() -> None:
    labels = LabelSet.from_names(["O", "B-X", "E-X", "U-X"])
    assert labels.scheme == "IOBES"
    assert any("L- is read as E-" in note for note in labels.notes)


def test_hyphenated_types() -> None:
    labels = LabelSet.from_names(["O", "B-ARGM-LOC", "I-ARGM-LOC", "B-ARG0", "I-ARG0"])
    assert labels.scheme == "IOB2"
    assert labels.entity_types == ("ARGM-LOC", "ARG0")
    assert labels.types[1] == labels.types[2] == "ARGM-LOC"


def test_b_o_is_outside_with_a_note() -> None:
    labels = LabelSet.from_names(["B-O", "B-PER", "I-PER"])
    assert labels.outside_id == 0
    assert labels.prefixes[0] == "O"
    assert labels.entity_types == ("PER",)
    assert any("B-O" in note for note in labels.notes)


def test_plain_o_wins_over_b_o_as_the_outside_id() -> None:
    labels = LabelSet.from_names(["B-O", "O", "B-PER", "I-PER"])
    assert labels.outside_id == 1
    assert labels.prefixes[0] == labels.prefixes[1] == "O"


def test_generic_label_n_names_take_label_0_as_outside() -> None:
    labels = LabelSet.from_id2label({"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"})
    assert labels.scheme == "IO"
    assert labels.outside_id == 0
    assert labels.entity_types == ("LABEL_1", "LABEL_2")
    assert any("LABEL_0" in note for note in labels.notes)


@pytest.mark.parametrize(
    ("name", "generic"),
    [
        ("LABEL_0", True),
        ("LABEL_12", True),
        ("LABEL_", False),
        ("LABEL_1x", False),
        ("xLABEL_1", False),
        ("label_1", False),
        ("B-LABEL_1", False),
    ],
)
def test_is_generic_label(name: str, generic: bool) -> None:
    assert is_generic_label(name) is generic


def test_id2label_names_in_id_order() -> None:
    assert id2label_names({"2": "I-PER", "0": "O", "1": "B-PER"}) == ("O", "B-PER", "I-PER")
    assert id2label_names({1: "B", 0: "O"}) == ("O", "B")
    assert id2label_names({}) == ()


def test_generic_names_with_an_explicit_outside_or_none() -> None:
    names = ["LABEL_0", "LABEL_1", "LABEL_2"]
    assert LabelSet.from_names(names, outside=2).outside_id == 2
    none = LabelSet.from_names(names, outside=None)
    assert none.outside_id is None
    assert none.entity_types == ("LABEL_0", "LABEL_1", "LABEL_2")
    assert any("No outside label" in note for note in none.notes)


def test_prefixless_labels_mixed_into_iob2_continue_like_i() -> None:
    labels = LabelSet.from_names(["O", "B-PER", "I-PER", "MISC"])
    assert labels.scheme == "IOB2"
    assert labels.prefixes[3] == ""
    assert labels.codes[3] == INSIDE
    assert any("MISC" in note for note in labels.notes)


def test_scheme_override_iob1() -> None:
    labels = LabelSet.from_names(["O", "B-PER", "I-PER"], scheme="IOB1")
    assert labels.scheme == "IOB1"


def test_scheme_override_io_takes_labels_whole() -> None:
    labels = LabelSet.from_names(["O", "B-PER", "I-PER"], scheme="IO")
    assert labels.entity_types == ("B-PER", "I-PER")
    assert labels.prefixes == ("O", "", "")


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({0: "O", 2: "B-PER"}, "exactly 0..1"),
        ({1: "O", 2: "B-PER"}, "exactly 0..1"),
        ({0: "O", -1: "B-PER"}, "unexpected"),
        ({"zero": "O"}, "not an integer"),
        ({"1.5": "O"}, "not an integer"),
        ({0: "O", "0": "B-PER"}, "appears twice"),
        ({0: 5}, "not str"),
    ],
)
def test_bad_ids_raise_a_clear_value_error(mapping: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LabelSet.from_id2label(mapping)


def test_override_rejects_an_unknown_or_incompatible_scheme() -> None:
    with pytest.raises(ValueError, match="unknown tagging scheme"):
        LabelSet.from_names(["O", "B-PER"], scheme="BIO")
    with pytest.raises(ValueError, match="not valid in the IOB2 scheme"):
        LabelSet.from_names(["O", "B-PER", "E-PER"], scheme="IOB2")
    with pytest.raises(ValueError, match="outside label id"):
        LabelSet.from_names(["O", "B-PER"], outside=5)


def test_label_set_is_a_frozen_value() -> None:
    labels = LabelSet.from_names(["O", "B-PER"])
    assert labels == LabelSet.from_names(["O", "B-PER"])
    with pytest.raises(AttributeError):
        labels.scheme = "IO"  # type: ignore[misc]
    assert isinstance(labels.codes, np.ndarray)
