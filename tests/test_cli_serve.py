"""``ner-tui predict`` against a real ``ner-tui serve`` process on a loopback port.

The server is started through ``ner-tui serve`` (so the CLI's delegation is exercised too),
with an API key, over the tiny fixture model.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import serve_process

from ner_tui.cli import main
from ner_tui.core.errors import EXIT_PARTIAL

FIXTURE = Path(__file__).parent / "fixtures" / "tiny-bert-ner"
KEY = "test-key"
TEXT = "Barack Obama visited the Bank in New York."


def _console_script() -> list[str]:
    script = Path(sys.executable).parent / "ner-tui"
    return [str(script)] if script.exists() else [sys.executable, "-m", "ner_tui.cli"]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if k != "NER_TUI_API_KEY"}
    command = [*_console_script(), "serve"]
    with serve_process("--model", str(FIXTURE), "--api-key", KEY, command=command, env=env) as s:
        yield s.url


def test_predict_against_the_server_equals_the_local_engine(server: str, capsys) -> None:
    assert main(["predict", "--url", server, "--api-key", KEY, "-o", "json", TEXT]) == 0
    remote = json.loads(capsys.readouterr().out)
    assert main(["predict", "--local", "--model", str(FIXTURE), "-o", "json", TEXT]) == 0
    local = json.loads(capsys.readouterr().out)
    assert remote["model"] == str(FIXTURE)  # the served name defaults to the path, like vLLM
    assert [e["text"] for e in remote["entities"]] == [e["text"] for e in local["entities"]]
    assert [t["label"] for t in remote["tokens"]] == [t["label"] for t in local["tokens"]]
    assert remote["entities"], "the fixture model finds entities in this sentence"


def test_host_and_port_flags_like_vllms_example_client(server: str, capsys) -> None:
    port = server.rsplit(":", 1)[1]
    argv = ["predict", "--host", "127.0.0.1", "--port", port, "--api-key", KEY, TEXT]
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines()[0].split()[:3] == ["Barack", "→", "B-PER"]


def test_file_runs_concurrently_in_order(server: str, tmp_path: Path, capsys) -> None:
    texts = [f"{name} visited New York on day {i}." for i, name in enumerate(["Obama"] * 20)]
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join(json.dumps({"id": i, "text": t}) for i, t in enumerate(texts)))
    argv = ["predict", "--url", server, "--api-key", KEY, "-f", str(path), "-o", "jsonl"]
    assert main(argv) == 0
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["text"] for d in documents] == texts


def test_wrong_key_is_authentication_failed(server: str, capsys) -> None:
    assert main(["predict", "--url", server, "--api-key", "wrong", TEXT]) == 13
    err = capsys.readouterr().err
    assert "hint:" in err and "--api-key" in err


def test_unknown_model_names_what_is_served(server: str, capsys) -> None:
    assert main(["predict", "--url", server, "--api-key", KEY, "--model", "nope", TEXT]) == 12
    assert str(FIXTURE) in capsys.readouterr().err


def test_bad_jsonl_line_against_server(server: str, tmp_path: Path, capsys) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_text('{"text": "Obama"}\n{"txt": "Merkel"}\n{"text": "Paris"}\n')
    argv = ["predict", "--url", server, "--api-key", KEY, "-f", str(path), "-o", "jsonl"]
    assert main(argv) == EXIT_PARTIAL
    out, err = capsys.readouterr()
    assert [json.loads(line)["line"] for line in out.splitlines()] == [1, 3]
    assert "line 2: no `text` field (fields: txt)" in err


def test_tokenizer_flag_that_does_not_load(server: str, capsys) -> None:
    argv = ["predict", "--url", server, "--api-key", KEY, "--tokenizer", "org/absent-model", TEXT]
    assert main(argv) == 18
    err = capsys.readouterr().err
    assert "org/absent-model" in err and "hint:" in err


@pytest.mark.parametrize("encoding", ["base64", "bytes"])
def test_binary_encodings_give_the_same_result(server: str, encoding: str, capsys) -> None:
    argv = ["predict", "--url", server, "--api-key", KEY, "-o", "jsonl", TEXT]
    assert main(argv) == 0
    as_float = json.loads(capsys.readouterr().out)
    assert main([*argv[:-1], "--encoding", encoding, TEXT]) == 0
    binary = json.loads(capsys.readouterr().out)
    assert binary["entities"] == as_float["entities"]
    assert [t["label"] for t in binary["tokens"]] == [t["label"] for t in as_float["tokens"]]


def test_progress_bar_on_stderr_only(server: str, tmp_path: Path, capsys) -> None:
    path = tmp_path / "docs.txt"
    path.write_text("Obama\nMerkel\nParis\n")
    argv = ["predict", "--url", server, "--api-key", KEY, "-f", str(path), "--progress"]
    assert main([*argv, "-o", "jsonl"]) == 0
    out, err = capsys.readouterr()
    assert "3/3" in err and "docs/s" in err
    assert len(out.splitlines()) == 3  # stdout holds only the documents
    assert main([*argv, "--no-progress"]) == 0
    assert capsys.readouterr().err == ""
