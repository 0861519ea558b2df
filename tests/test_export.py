"""Export formats, on predictions built by hand so every field is known."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from ner_tui.core.export import (
    EXPORT_FORMATS,
    DocumentWriter,
    conll_rows,
    entity_lines,
    format_for_path,
    render,
    to_document,
    token_table,
    visible,
    write_export,
)
from ner_tui.core.types import (
    Chunk,
    DecodeOptions,
    Entity,
    Prediction,
    ScoredText,
    TokenPrediction,
)

TEXT = "Barack Obama\tvisited Seattle"
# (token string, start, end, word, label, score, special, rejected)
TOKENS = [
    ("[CLS]", 0, 0, None, "O", 0.99, True, False),
    ("Barack", 0, 6, 0, "B-PER", 0.98, False, False),
    ("Ob", 7, 9, 1, "I-PER", 0.97, False, False),
    ("##ama", 9, 12, 1, "I-PER", 0.6, False, False),
    ("vis\tited", 13, 20, 2, "O", 0.95, False, False),
    ("Seattle", 21, 28, 3, "I-LOC", 0.9, False, True),
    ("[SEP]", 0, 0, None, "O", 0.99, True, False),
]


def _probs_for(token_labels: list[str], labels: tuple[str, ...]) -> np.ndarray:
    """Probability rows whose argmax is each token's label (so decoding again agrees)."""
    probs = np.full((len(token_labels), len(labels)), 0.05, dtype=np.float32)
    for i, label in enumerate(token_labels):
        probs[i, labels.index(label)] = 1.0 - 0.05 * (len(labels) - 1)
    return probs


def make_prediction(aggregation: str = "simple", text: str = TEXT, tokens=TOKENS) -> Prediction:
    n = len(tokens)
    labels = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC")
    scored = ScoredText(
        text=text,
        token_ids=np.arange(n, dtype=np.int64),
        token_strs=tuple(t[0] for t in tokens),
        offsets=np.array([[t[1], t[2]] for t in tokens], dtype=np.int64).reshape(n, 2),
        special=np.array([t[6] for t in tokens], dtype=bool),
        word_ids=tuple(t[3] for t in tokens),
        probs=_probs_for([t[4] for t in tokens], labels),
        id2label=labels,
        chunk_of=np.zeros(n, dtype=np.int64),
        chunks=(Chunk(0, 0, n, 0, len(text)),),
        model="tiny-ner",
        source="test",
    )
    token_predictions = tuple(
        TokenPrediction(
            index=i,
            text=t[0],
            start=t[1],
            end=t[2],
            word=t[3],
            label=t[4],
            score=t[5],
            alternatives=(("O", 0.01),),
            special=t[6],
            rejected=t[7],
            chunk=0,
        )
        for i, t in enumerate(tokens)
    )
    entities = (Entity("PER", 0, 12, text[0:12], 0.85, 0.6, 1, 4),) if text == TEXT else ()
    return Prediction(
        scored=scored,
        options=DecodeOptions(aggregation=aggregation),  # type: ignore[arg-type]
        scheme="IOB2",
        tokens=token_predictions,
        entities=entities,
    )


def test_visible_shows_controls_and_keeps_the_rest() -> None:
    assert visible("a\tb\nc\r\x1b[0m\x00") == "a⇥b↵c␍␛[0m␀"
    assert visible("Zürich 東京 🇫🇷") == "Zürich 東京 🇫🇷"
    assert visible("x\u2028y") == "x␤y"


def test_token_table_is_vllm_style_without_specials() -> None:
    lines = token_table(make_prediction()).splitlines()
    assert len(lines) == 5  # [CLS] and [SEP] skipped by mask
    assert lines[0].split() == ["Barack", "→", "B-PER", "0.980"]
    assert lines[3].startswith("vis⇥ited")  # a tab never breaks the table
    assert lines[4].endswith("rejected")
    assert all(" → " in line for line in lines)


def test_special_tokens_are_skipped_by_mask_not_by_string() -> None:
    typed = [*TOKENS[:-1], ("[SEP]", 28, 28, 4, "O", 0.5, False, False), TOKENS[-1]]
    table = token_table(make_prediction(tokens=typed))
    assert table.splitlines()[-1].startswith("[SEP]")  # the user's literal [SEP] stays


def test_entity_lines() -> None:
    assert entity_lines(make_prediction()) == "PER  0-12  0.850  Barack Obama"
    assert entity_lines(make_prediction(text="nothing", tokens=TOKENS[:1])) == "(no entities)"


def test_document_shape() -> None:
    document = to_document(make_prediction(), {"line": 3})
    assert next(iter(document)) == "line"
    assert document["text"] == TEXT
    assert document["model"] == "tiny-ner"
    assert document["entities"] == [
        {"start": 0, "end": 12, "label": "PER", "score": 0.85, "min_score": 0.6,
         "text": "Barack Obama"}
    ]  # fmt: skip
    assert [t["token"] for t in document["tokens"]] == ["Barack", "Ob", "##ama", "vis\tited",
                                                        "Seattle"]  # fmt: skip
    assert document["tokens"][1] == {
        "index": 2, "token": "Ob", "start": 7, "end": 9, "word": 1, "label": "I-PER",
        "score": 0.97,
    }  # fmt: skip
    assert document["tokens"][4]["rejected"] is True
    for entity in document["entities"]:
        assert TEXT[entity["start"] : entity["end"]] == entity["text"]


def test_json_and_jsonl_round_trip() -> None:
    one = json.loads(render([make_prediction()], "json"))
    assert one["text"] == TEXT
    many = json.loads(render([make_prediction(), make_prediction()], "json"))
    assert isinstance(many, list) and len(many) == 2
    jsonl = render([make_prediction(), make_prediction()], "jsonl", [{"line": 1}, {"line": 2}])
    lines = jsonl.splitlines()
    assert len(lines) == 2  # the tab inside the text is escaped by JSON
    assert [json.loads(line)["line"] for line in lines] == [1, 2]


def test_conll_is_word_level_whatever_the_view_shows() -> None:
    words = [
        ("Barack", "B-PER"),
        ("Obama", "I-PER"),  # one word: "Ob" + "##ama", the text's characters
        ("visited", "O"),
        ("Seattle", "I-LOC"),
    ]
    for aggregation in ("none", "simple", "first", "average", "max"):
        assert conll_rows(make_prediction(aggregation)) == words, aggregation


def test_conll_of_a_token_level_view_takes_the_first_subwords_label() -> None:
    """Under ``simple`` the word's second piece may disagree; CoNLL still writes the word once,
    labelled as ``first`` labels it (the first subword's argmax)."""
    tokens = list(TOKENS)
    tokens[3] = ("##ama", 9, 12, 1, "B-LOC", 0.6, False, False)
    prediction = make_prediction("simple", tokens=tokens)
    assert [t.label for t in prediction.tokens][2:4] == ["I-PER", "B-LOC"]
    assert ("Obama", "I-PER") in conll_rows(prediction)


def test_conll_surface_never_splits_a_line_or_column() -> None:
    tokens = [
        ("[CLS]", 0, 0, None, "O", 1.0, True, False),
        ("a\tb c", 0, 5, 0, "O", 1.0, False, False),
    ]
    assert conll_rows(make_prediction(text="a\tb c", tokens=tokens)) == [("a⇥b·c", "O")]


def test_conll_document_separation() -> None:
    out = render([make_prediction(), make_prediction()], "conll")
    documents = out.split("\n\n")
    assert documents[-1] == ""
    assert len(documents) == 3
    assert all(len(line.split(" ")) == 2 for line in out.splitlines() if line)


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_every_format_renders_and_writes(tmp_path: Path, fmt) -> None:
    path = write_export(tmp_path / f"out.{fmt}", [make_prediction()], fmt)
    content = path.read_text(encoding="utf-8")
    assert content.endswith("\n")
    assert ("Barack" in content) or ("Obama" in content)


def test_format_for_path() -> None:
    assert format_for_path("x/out.JSONL") == "jsonl"
    assert format_for_path("a.conll") == "conll"
    assert format_for_path("a.json") == "json"
    assert format_for_path("a.bin") is None


def test_unknown_format_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown export format"):
        render([make_prediction()], "xml")  # type: ignore[arg-type]


def test_json_array_layout_is_each_object_as_written_alone() -> None:
    one = render([make_prediction()], "json")
    many = render([make_prediction(), make_prediction()], "json", [{"line": 1}, {"line": 2}])
    first = render([make_prediction()], "json", [{"line": 1}])
    second = render([make_prediction()], "json", [{"line": 2}])
    # Streamed by `predict` one document at a time: "[", the objects unindented, "]".
    assert many == "[\n" + first.rstrip("\n") + ",\n" + second.rstrip("\n") + "\n]\n"
    assert json.loads(many)[1] == json.loads(second) == {"line": 2, **json.loads(one)}
    assert render([], "json") == "[]\n"


@pytest.mark.parametrize("fmt", ["table", "entities"])
def test_text_formats_head_each_document_with_its_extra_keys(fmt) -> None:
    body = render([make_prediction()], fmt).rstrip("\n")
    two = render([make_prediction(), make_prediction()], fmt, [{"line": 1}, {"line": 3}])
    assert two == f"# line 1\n{body}\n\n# line 3\n{body}\n"
    assert render([make_prediction(), make_prediction()], fmt) == f"{body}\n\n{body}\n"


def test_document_writer_streams_what_render_returns() -> None:
    out = io.StringIO()
    writer = DocumentWriter(out, "jsonl", many=True)
    writer.write(make_prediction(), {"line": 7})
    assert out.getvalue() == render([make_prediction()], "jsonl", [{"line": 7}])  # no waiting
    writer.write(make_prediction())
    writer.close()
    assert writer.count == 2
    assert out.getvalue() == render([make_prediction()] * 2, "jsonl", [{"line": 7}, None])


def test_single_document_json_refuses_a_second_document() -> None:
    writer = DocumentWriter(io.StringIO(), "json", many=False)
    writer.write(make_prediction())
    with pytest.raises(ValueError, match="many=True"):
        writer.write(make_prediction())
