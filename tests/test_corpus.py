"""Reading corpora: CoNLL as people have it, JSONL spans in three dialects, and every broken
document reported with its line while the others are still read."""

from __future__ import annotations

import io
import json

import pytest

from ner_tui.core.corpus import detect_format, read_corpus, token_spans
from ner_tui.core.scoring import Span

CONLL_2003 = """\
-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

BRUSSELS NNP B-NP B-LOC
1996-08-22 CD I-NP O
"""


def _read(text: str, fmt: str = "auto", **kwargs: object) -> list:  # type: ignore[type-arg]
    return list(read_corpus(io.StringIO(text), fmt, **kwargs))  # type: ignore[arg-type]


def test_conll_2003_sentences_rebuild_the_text_with_exact_offsets() -> None:
    docs = _read(CONLL_2003)
    texts = ["EU rejects German call .", "Peter Blackburn", "BRUSSELS 1996-08-22"]
    assert [d.text for d in docs] == texts
    first = docs[0]
    assert first.tokens == ((0, 2), (3, 10), (11, 17), (18, 22), (23, 24))
    assert first.gold == (Span(0, 1, "ORG"), Span(2, 3, "MISC"))
    assert docs[1].gold == (Span(0, 2, "PER"),)
    assert [d.line for d in docs] == [3, 9, 14]
    assert [d.index for d in docs] == [0, 1, 2]
    for doc in docs:
        assert doc.tokens is not None
        for start, end in doc.tokens:
            assert " " not in doc.text[start:end]


def test_two_column_tab_separated_iobes_with_a_mapping() -> None:
    text = "Angela\tB-PERSON\nMerkel\tE-PERSON\nin\tO\nBerlin\tS-GPE\n"
    (doc,) = _read(text, label_map={"PERSON": "PER", "GPE": "LOC"})
    assert doc.text == "Angela Merkel in Berlin"
    assert doc.gold == (Span(0, 2, "PER"), Span(3, 4, "LOC"))


def test_strict_mode_drops_invalid_gold_as_seqeval_does() -> None:
    text = "a I-PER\nb I-PER\nc O\nd B-LOC\n"
    (lenient,) = _read(text)
    (strict,) = _read(text, mode="strict", scheme="IOB2")
    assert lenient.gold == (Span(0, 2, "PER"), Span(3, 4, "LOC"))
    assert strict.gold == (Span(3, 4, "LOC"),)


def test_a_broken_conll_sentence_is_reported_and_the_next_one_read() -> None:
    text = "Obama B-PER\nnotag\nvisited O\n\nParis B-LOC\n"
    docs = _read(text, "conll")
    assert docs[0].error is not None and "line 2" in docs[0].error.message
    assert "one column" in docs[0].error.message
    assert docs[1].text == "Paris" and docs[1].gold == (Span(0, 1, "LOC"),)


def test_jsonl_dialects_give_the_same_document() -> None:
    text = "Barack Obama visited Paris."
    ours = {"text": text, "entities": [{"start": 0, "end": 12, "label": "PER", "score": 0.9}]}
    prodigy = {"text": text, "spans": [{"start": 0, "end": 12, "label": "PER"}]}
    spacy = [text, {"entities": [[0, 12, "PER"]]}]
    docs = _read("\n".join(json.dumps(v) for v in (ours, prodigy, spacy)))
    assert [d.gold for d in docs] == [(Span(0, 12, "PER", 0.9),), *[(Span(0, 12, "PER"),)] * 2]
    assert all(d.text == text and d.tokens is None for d in docs)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"text": "short", "entities": [{"start": 2, "end": 9, "label": "X"}]}, "outside the text"),
        ({"text": "short", "entities": [{"start": 3, "end": 3, "label": "X"}]}, "or empty"),
        (
            {"text": "Obama Paris", "entities": [[0, 5, "PER"], [3, 11, "LOC"]]},
            "gold spans overlap",
        ),
        ({"text": 3}, "no string `text`"),
        ({"text": "a", "entities": "PER"}, "not a list"),
        ({"text": "a", "entities": [{"start": "0", "end": 1, "label": "X"}]}, "integer offsets"),
    ],
)
def test_each_bad_jsonl_document_has_its_own_message(record: object, message: str) -> None:
    good = {"text": "fine", "entities": []}
    docs = _read(json.dumps(good) + "\n" + json.dumps(record) + "\n" + json.dumps(good))
    assert docs[0].error is None and docs[2].error is None
    assert docs[1].error is not None
    assert message in docs[1].error.message and docs[1].error.message.startswith("line 2:")


def test_a_span_cutting_a_word_is_a_warning() -> None:
    (doc,) = _read(json.dumps({"text": "Obama won", "entities": [[0, 4, "PER"]]}))
    assert doc.error is None and doc.gold == (Span(0, 4, "PER"),)
    assert doc.warnings and "cuts a word" in doc.warnings[0] and "'Obam'" in doc.warnings[0]


def test_plain_text_lines_have_no_gold() -> None:
    docs = _read("Obama visited Paris.\n\nMerkel too.\n")
    assert [(d.text, d.gold, d.line) for d in docs] == [
        ("Obama visited Paris.", None, 1),
        ("Merkel too.", None, 3),
    ]


def test_format_detection() -> None:
    assert detect_format(["", '{"text": "a"}']) == "jsonl"
    assert detect_format(["-DOCSTART- -X- O"]) == "conll"
    assert detect_format(["EU B-ORG", "rejects O"]) == "conll"
    assert detect_format(["Barack Obama visited Paris", "Merkel met Macron"]) == "text"
    assert detect_format(["{not json"]) == "text"
    assert detect_format([]) == "text"


def test_reading_is_lazy() -> None:
    """A million-line corpus is read one document at a time."""

    class Endless(io.StringIO):
        def __init__(self) -> None:
            super().__init__()
            self.served = 0

        def __iter__(self):  # type: ignore[no-untyped-def]
            return self

        def __next__(self) -> str:
            self.served += 1
            return json.dumps({"text": f"doc {self.served}", "entities": []}) + "\n"

    stream = Endless()
    docs = read_corpus(stream, "jsonl")
    assert [next(docs).text for _ in range(3)] == ["doc 1", "doc 2", "doc 3"]
    assert stream.served == 3


def test_character_predictions_map_onto_gold_tokens() -> None:
    tokens = ((0, 2), (3, 10), (11, 17), (18, 22))  # "EU rejects German call"
    entities = [(0, 2, "ORG", 0.9), (11, 22, "MISC", 0.5)]
    assert token_spans(entities, tokens) == (Span(0, 1, "ORG", 0.9), Span(2, 4, "MISC", 0.5))
    # An entity ending inside a token still takes it; a token is never taken twice.
    assert token_spans([(0, 5, "ORG", None), (5, 12, "LOC", None)], tokens) == (
        Span(0, 2, "ORG"),
        Span(2, 3, "LOC"),
    )
    assert token_spans([], tokens) == ()
