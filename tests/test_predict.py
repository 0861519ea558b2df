"""``ner-tui predict``: input reading, and whole runs in-process on the local engine over the
tiny real fixture model (no server, no network)."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from ner_tui.cli import EXIT_USAGE, main
from ner_tui.core.alignment import score
from ner_tui.core.backend import ModelCard
from ner_tui.core.connect import tokenizer_source
from ner_tui.core.decoding import decode
from ner_tui.core.documents import (
    MAX_DOCUMENT_CHARS,
    iter_documents,
    open_input,
)
from ner_tui.core.engine import LocalEngine
from ner_tui.core.errors import EXIT_PARTIAL, InputError
from ner_tui.core.export import EXPORT_FORMATS, ExportFormat, render
from ner_tui.core.hub import looks_like_hub_id
from ner_tui.core.model_info import load_model_info
from ner_tui.core.settings import Settings
from ner_tui.core.types import DecodeOptions, Prediction

FIXTURE = Path(__file__).parent / "fixtures" / "tiny-bert-ner"
LOCAL = ["predict", "--local", "--model", str(FIXTURE)]
TEXT = "Barack Obama visited the Bank in New York."


# --------------------------------------------------------------------------- input


def test_lines_keep_numbers_skip_blanks_and_keep_inner_separators() -> None:
    content = "first\r\n\n   \nsecond\u2028half\x0cpage\nthird"
    docs = list(iter_documents(content.split("\n")))
    assert [(d.line, d.text) for d in docs] == [
        (1, "first"),
        (4, "second\u2028half\x0cpage"),
        (5, "third"),
    ]


def test_jsonl_is_detected_and_bad_lines_carry_their_own_error() -> None:
    content = "\n".join(
        [
            json.dumps({"id": 1, "text": "Obama in Paris"}),
            "{not json",
            json.dumps({"body": "x"}),
            json.dumps({"text": 3}),
            json.dumps(["text"]),
            json.dumps({"text": "Merkel"}),
        ]
    )
    docs = list(iter_documents(content.split("\n")))
    assert [d.text for d in docs] == ["Obama in Paris", None, None, None, None, "Merkel"]
    errors = [str(d.error) for d in docs if d.error]
    assert errors[0].startswith("not valid JSON")
    assert errors[1] == "no `text` field (fields: body)"
    assert errors[2] == "`text` is a int, not a string"
    assert errors[3] == "not a JSON object"
    assert all(isinstance(d.error, InputError) for d in docs if d.error)


def test_jsonl_field_and_forced_formats() -> None:
    line = json.dumps({"body": "Obama"})
    assert next(iter_documents([line], field="body")).text == "Obama"
    assert next(iter_documents([line], input_format="lines")).text == line
    assert next(iter_documents(["plain"], input_format="jsonl")).error is not None


def test_input_errors_are_input_errors_and_bad_lines_stay_in_place(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        open_input(str(tmp_path / "missing.txt"), io.StringIO())
    with pytest.raises(InputError, match="is a directory"):
        open_input(str(tmp_path), io.StringIO())
    mixed = tmp_path / "mixed.txt"
    mixed.write_bytes("\ufeffObama\n".encode() + "Zürich\n".encode("latin-1") + b"Paris\n")
    with open_input(str(mixed), io.StringIO()) as lines:
        docs = list(iter_documents(lines))
    assert [d.text for d in docs] == ["Obama", None, "Paris"]  # the BOM is dropped
    assert docs[1].error is not None and "not UTF-8" in docs[1].error.message
    assert docs[1].line == 2


def test_a_huge_document_is_refused_in_place() -> None:
    huge = "word " * (MAX_DOCUMENT_CHARS // 5 + 1)
    docs = list(iter_documents(f"Obama\n{huge}\nParis".split("\n")))
    assert [d.text for d in docs] == ["Obama", None, "Paris"]
    assert docs[1].error is not None and "characters; ner-tui predicts documents" in str(
        docs[1].error
    )


def test_tokenizer_source_prefers_flag_then_local_dirs_then_hub_like_root() -> None:
    here = str(FIXTURE)
    assert tokenizer_source(ModelCard("x", root=here), Settings(tokenizer="tok")) == "tok"
    assert tokenizer_source(ModelCard("x", root=here), Settings()) == here
    assert tokenizer_source(ModelCard(here, root="/srv/models/ner"), Settings()) == here
    hub = ModelCard("ner", root="boltuix/NeuroBERT-NER")
    assert tokenizer_source(hub, Settings()) == "boltuix/NeuroBERT-NER"
    server_path = ModelCard("boltuix/NeuroBERT-NER", root="/srv/models/ner")
    assert tokenizer_source(server_path, Settings()) == "boltuix/NeuroBERT-NER"


@pytest.mark.parametrize(
    ("root", "expected"),
    [
        ("dslim/bert-base-NER", "dslim/bert-base-NER"),
        ("bert-base-cased", "bert-base-cased"),
        ("C:\\models\\ner", "served-id"),  # a Windows server's path used to pass as a hub id
        ("/srv/org/name/", "served-id"),
        ("org/name/", "served-id"),
        ("models dir", "served-id"),
    ],
)
def test_tokenizer_source_uses_the_cores_hub_id_rule(root: str, expected: str) -> None:
    assert tokenizer_source(ModelCard("served-id", root=root), Settings()) == expected
    assert (expected == root) == looks_like_hub_id(root)


def test_tokenizer_source_prefers_a_local_dir_shaped_like_a_hub_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "org" / "name").mkdir(parents=True)
    card = ModelCard("org/name", root="/srv/models/org/name")
    assert tokenizer_source(card, Settings()) == "org/name"
    assert not looks_like_hub_id("org/name")


def test_a_one_word_tokenizer_is_tried_as_a_hub_id(capsys) -> None:
    # `--tokenizer NAME` without a slash is a hub id (as for transformers), not "not a directory".
    assert main([*LOCAL, "--tokenizer", "no-such-ner-tokenizer-xyz", TEXT]) != 0
    err = capsys.readouterr().err
    assert "`no-such-ner-tokenizer-xyz` is not a directory on this machine, not in the " in err
    assert "the hub is unreachable" in err


# --------------------------------------------------------------------------- whole runs


def test_text_argument_token_table(capsys) -> None:
    assert main([*LOCAL, TEXT]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines, err
    assert all(" → " in line for line in lines)
    assert not any(line.startswith(("[CLS]", "[SEP]")) for line in lines)
    assert lines[0].split()[0] == "Barack"


def test_json_output_spans_are_exact(capsys) -> None:
    assert main([*LOCAL, "--format", "json", "--aggregation", "first", TEXT]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["text"] == TEXT
    assert document["aggregation"] == "first"
    assert document["tokens"], "every content token is listed"
    for entity in document["entities"]:
        assert TEXT[entity["start"] : entity["end"]] == entity["text"]
    for token in document["tokens"]:
        assert 0 <= token["start"] <= token["end"] <= len(TEXT)


def test_file_results_in_input_order_with_line_numbers(tmp_path: Path, capsys) -> None:
    texts = [f"Obama met Merkel in Berlin number {i}." for i in range(12)]
    path = tmp_path / "docs.txt"
    path.write_text("\n".join(texts[:6]) + "\n\n" + "\n".join(texts[6:]) + "\n", encoding="utf-8")
    assert main([*LOCAL, "--file", str(path), "--format", "jsonl", "--concurrency", "4"]) == 0
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["text"] for d in docs] == texts
    assert [d["line"] for d in docs] == [*range(1, 7), *range(8, 14)]


def test_a_failing_line_is_reported_and_loses_nothing(tmp_path: Path, capsys) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_text(
        json.dumps({"text": "Obama"}) + "\n{broken\n" + json.dumps({"text": "Merkel"}) + "\n",
        encoding="utf-8",
    )
    assert main([*LOCAL, "--file", str(path), "--format", "conll"]) == EXIT_PARTIAL
    out, err = capsys.readouterr()
    documents = [d for d in out.split("\n\n") if d.strip()]
    assert len(documents) == 2
    assert documents[0].split()[0] == "Obama"
    assert documents[1].split()[0] == "Merkel"
    assert "line 2: not valid JSON" in err
    assert "1 of 3 documents failed" in err


def test_stdin_lines_and_table_headers(monkeypatch, capsys) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("Obama\nParis\n"))
    assert main([*LOCAL, "--format", "entities"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# line 1\n")
    assert "\n# line 2\n" in out


def test_long_text_is_chunked_not_truncated(capsys) -> None:
    text = " ".join(["Obama visited Paris."] * 120)  # far beyond the fixture's 128 positions
    assert main([*LOCAL, "--format", "json", text]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["chunks"] > 1
    assert document["tokens"][-1]["token"] == "."
    assert document["tokens"][-1]["end"] == len(text)  # the last sentence was scored too


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        ([*LOCAL, "--file", "/no/such/file.txt"], "no such file: /no/such/file.txt"),
        ([*LOCAL, "--file", "x", "text"], "give TEXT or --file, not both"),
        (["predict", "--local", "--model", "/no/such/model", "hi"], "/no/such/model"),
    ],
)
def test_errors_are_one_message_and_a_hint(argv, fragment, capsys) -> None:
    code = main(argv)
    _, err = capsys.readouterr()
    assert code != 0
    assert fragment in err
    assert "hint:" in err
    assert "Traceback" not in err


def test_empty_input_is_a_usage_error(monkeypatch, capsys) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("\n  \n"))
    assert main(LOCAL) == EXIT_USAGE
    assert "no non-blank lines" in capsys.readouterr().err


def test_json_for_several_documents_is_one_array(monkeypatch, capsys) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("Obama\nParis\n"))
    assert main([*LOCAL, "-", "--format", "json"]) == 0  # TEXT `-` reads stdin
    documents = json.loads(capsys.readouterr().out)
    assert [(d["line"], d["text"]) for d in documents] == [(1, "Obama"), (2, "Paris")]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_nothing_to_read_from_a_terminal_is_a_usage_error(monkeypatch, capsys) -> None:
    monkeypatch.setattr("sys.stdin", _Terminal())
    assert main(LOCAL) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "nothing to label" in err and "--file PATH" in err


def test_decoding_flags_reach_the_decoder(capsys) -> None:
    assert main([*LOCAL, "-o", "json", "--strict", "--aggregation", "average", TEXT]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["mode"], document["aggregation"]) == ("strict", "average")
    assert document["entities"]
    assert main([*LOCAL, "-o", "entities", "--threshold", "1", TEXT]) == 0
    assert capsys.readouterr().out == "(no entities)\n"


# --------------------------------------------------------------------------- output = export

DOCS = ["Barack Obama visited Paris.", "Merkel\tmet\u200bMacron in Berlin \x07.", "nothing here"]


def _core_predictions(texts: list[str]) -> list[Prediction]:
    """The same documents scored and decoded by the core directly, not through predict."""

    async def run() -> list[Prediction]:
        engine = LocalEngine.load(FIXTURE)
        try:
            info = load_model_info(FIXTURE)
            return [decode(await score(engine, info, text), DecodeOptions()) for text in texts]
        finally:
            await engine.aclose()

    return asyncio.run(run())


@pytest.fixture(scope="module")
def core_predictions() -> list[Prediction]:
    return _core_predictions(DOCS)


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_predict_writes_exactly_what_export_renders(
    fmt: ExportFormat, core_predictions: list[Prediction], tmp_path: Path, capsys
) -> None:
    # One document from TEXT: export's single-document layout.
    assert main([*LOCAL, "-o", fmt, DOCS[0]]) == 0
    assert capsys.readouterr().out == render(core_predictions[:1], fmt)
    # Several lines from a file (a blank one skipped): export's layout with each input line.
    path = tmp_path / "docs.txt"
    path.write_text(f"{DOCS[0]}\n\n{DOCS[1]}\n{DOCS[2]}\n", encoding="utf-8")
    assert main([*LOCAL, "-o", fmt, "--file", str(path)]) == 0
    lines = [{"line": 1}, {"line": 3}, {"line": 4}]
    assert capsys.readouterr().out == render(core_predictions, fmt, lines)
