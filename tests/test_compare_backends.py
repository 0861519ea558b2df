"""``predict``/``eval --compare-*`` against two real backends on loopback.

Model A is the bundled model served by ``ner-tui serve``. Model B is a second real model
directory: the tiny fixture model's ONNX weights behind a byte-level BPE tokenizer (RoBERTa
style, another family than A's WordPiece) with other label names (PERSON, COMPANY, PLACE,
THING), served by another ``ner-tui serve``; or the bundled model under other decoding
settings, which must cost no second request (counted by the server's own /metrics).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from compare_models import B_TO_A, bpe_model_dir
from servers import SERVE_COMMAND, ServeProcess, free_port, serve_process

from ner_tui.cli import main
from ner_tui.core.compare import CompareTarget
from ner_tui.core.errors import RequestTimeout, ServerUnreachable, SignificantlyWorse

FIXTURES = Path(__file__).parent / "fixtures"

GOLD = FIXTURES / "eval" / "news.conll"
TEXT = "Barack Obama visited Microsoft headquarters in Seattle on Monday."


@pytest.fixture(scope="module")
def server_a() -> Iterator[ServeProcess]:
    with serve_process(command=SERVE_COMMAND) as server:
        yield server


@pytest.fixture(scope="module")
def server_b(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    model = bpe_model_dir(tmp_path_factory.mktemp("models"))
    with serve_process("--model", str(model), command=SERVE_COMMAND) as server:
        yield server


def pooling_requests(server: ServeProcess) -> int:
    """The /pooling requests the server has answered, from its own /metrics."""
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    found = re.search(r'ner_tui_requests_total\{path="/pooling",status="200"\} (\d+)', text)
    return int(found.group(1)) if found else 0


def test_predict_compares_two_servers_with_other_tokenizers_and_labels(
    server_a: ServeProcess, server_b: ServeProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    two = ["--url", server_a.url, "--compare-url", server_b.url, "--compare-map", B_TO_A]
    code = main(["predict", *two, "-o", "jsonl", TEXT])
    out, err = capsys.readouterr()
    assert code == 0, err
    (record,) = [json.loads(line) for line in out.splitlines()]
    assert record["text"] == TEXT
    assert "ner-tui-minilm-en" in record["a"]["model"]
    assert "tiny-bpe-ner" in record["b"]["model"]
    entities = record["entities"]
    assert entities and sum(record["counts"].values()) == len(entities)
    a_found = [e["a"] for e in entities if e["a"]]
    assert {(e["text"], e["label"]) for e in a_found} >= {
        ("Barack Obama", "PER"),
        ("Seattle", "LOC"),
    }
    for entity in entities:
        for side in ("a", "b"):
            span = entity[side]
            if span is not None:
                assert TEXT[span["start"] : span["end"]] == span["text"]
                assert span["label"] in ("PER", "ORG", "LOC", "MISC", "DATE")
        if entity["b"] is not None:  # B's own names were renamed into A's, and kept
            assert entity["b"]["model_label"] in ("PERSON", "COMPANY", "PLACE", "THING")
    kinds = [e["kind"] for e in entities]
    assert kinds == sorted(kinds, key=lambda k: k == "both"), "disagreements come first"


def test_predict_table_lists_the_disagreements(
    server_a: ServeProcess, server_b: ServeProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    two = ["--url", server_a.url, "--compare-url", server_b.url, "--compare-map", B_TO_A]
    code = main(["predict", *two, TEXT])
    out, _ = capsys.readouterr()
    assert code == 0
    assert out.splitlines()[1].startswith("  A: ") and out.splitlines()[2].startswith("  B: ")
    assert "disagreement" in out and '"Barack Obama" PER' in out
    assert re.search(r"\d+ disagreements?, \d+ found by both", out)


def test_comparing_settings_of_one_server_costs_no_second_request(
    server_a: ServeProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    before = pooling_requests(server_a)
    settings_only = ["--compare-aggregation", "simple", "--compare-strict"]
    code = main(["predict", "--url", server_a.url, *settings_only, "-o", "jsonl", TEXT])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert pooling_requests(server_a) - before == 1
    record = json.loads(out)
    assert record["a"]["model"].endswith("first, lenient)")
    assert record["b"]["model"].endswith("simple, strict)")

    before = pooling_requests(server_a)
    code = main(["eval", str(GOLD), "--url", server_a.url, "--compare-threshold", "0.99"])
    out, err = capsys.readouterr()
    assert code == 0, err
    documents = int(re.search(r"ner-tui eval: (\d+) documents scored", out).group(1))  # type: ignore[union-attr]
    assert documents == 16 and pooling_requests(server_a) - before == documents


def test_eval_compares_two_servers_and_fails_when_b_is_significantly_worse(
    server_a: ServeProcess, server_b: ServeProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["eval", str(GOLD), "--url", server_a.url, "--compare-url", server_b.url]
    argv += ["--compare-map", B_TO_A, "--bootstrap", "300", "--seed", "3"]
    code = main([*argv, "-o", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)
    micro = next(d for d in report["differences"] if d["type"] == "micro")
    assert (
        micro["f1_a"] == report["a"]["micro"]["f1"] and micro["f1_b"] == report["b"]["micro"]["f1"]
    )
    assert micro["low"] <= micro["difference"] <= micro["high"] < 0
    assert micro["verdict"] == "B worse"
    assert report["bootstrap"] == {"resamples": 300, "seed": 3, "confidence": 0.95}
    assert main(["eval", str(GOLD), "--url", server_a.url, "-o", "json"]) == 0
    alone = json.loads(capsys.readouterr().out)  # model A's report is plain eval's
    assert alone["micro"] == report["a"]["micro"] and alone["per_type"] == report["a"]["per_type"]

    code = main([*argv, "--fail-if-worse"])
    out, err = capsys.readouterr()
    assert code == SignificantlyWorse.exit_code == 5
    assert out.count("Entities (exact match") == 2 and "A vs B" in out
    assert "model B's micro F1" in err and "lies below 0" in err

    code = main(["eval", str(GOLD), "--url", server_a.url, "--compare-url", server_a.url])
    out, _ = capsys.readouterr()
    assert code == 0 and "no clear difference" in out  # the same model is not worse


def test_one_side_unreachable_is_named_with_its_exit_code(
    server_a: ServeProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    code = main(["predict", "--url", server_a.url, "--compare-url", nowhere, TEXT])
    _, err = capsys.readouterr()
    assert code == ServerUnreachable.exit_code
    assert f"model B ({nowhere})" in err
    code = main(["eval", str(GOLD), "--url", nowhere, "--compare-url", server_a.url])
    _, err = capsys.readouterr()
    assert code == ServerUnreachable.exit_code and f"model A ({nowhere})" in err


SLOW = ("--batch-window-ms", "30000", "--batch-wait", "always")


@pytest.fixture(scope="module")
def slow_server() -> Iterator[ServeProcess]:
    """The bundled model, every /pooling request held until 30 s after the first one queued
    (its batch window; a request arriving meanwhile joins that batch); /v1/models and
    /tokenize answer at once, so connecting works and predicting times out."""
    with serve_process(*SLOW, command=SERVE_COMMAND) as server:
        yield server


def test_one_side_timing_out_keeps_the_other(
    server_a: ServeProcess, slow_server: ServeProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--url", server_a.url, "--compare-url", slow_server.url, "--timeout", "2"]
    code = main(["predict", *argv, "-o", "jsonl", TEXT])
    out, err = capsys.readouterr()
    assert code == RequestTimeout.exit_code
    record = json.loads(out)
    assert record["b"]["error_kind"] == "RequestTimeout" and record["b"]["exit_code"] == 11
    assert record["a"]["entities"] > 0
    assert {e["kind"] for e in record["entities"]} == {"only_a"}
    assert "model B:" in err

    code = main(["predict", *argv, TEXT])
    out, _ = capsys.readouterr()
    assert code == RequestTimeout.exit_code
    assert "B: " in out and "FAILED" in out and '"Barack Obama" PER' in out

    code = main(["eval", str(GOLD), *argv])
    _, err = capsys.readouterr()
    assert code == RequestTimeout.exit_code
    assert "model B (" in err.splitlines()[-2] and "no complete answer within 2 s" in err


def test_one_backend_under_two_settings_timing_out_exits_with_its_code(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Not "nothing could be compared" (exit 2): the timeout's own code. A server of its own
    (no batch left over from another test), every request held in one batch window."""
    gold = tmp_path / "gold.jsonl"
    record = {"text": "Obama in Paris.", "entities": [{"start": 0, "end": 5, "label": "PER"}]}
    gold.write_text(json.dumps(record) + "\n" + json.dumps(record) + "\n")
    with serve_process(*SLOW, command=SERVE_COMMAND) as slow:
        argv = ["eval", str(gold), "--url", slow.url, "--compare-strict", "--timeout", "2"]
        code = main(argv)
    err = capsys.readouterr().err
    assert code == RequestTimeout.exit_code, err
    assert err.count("no complete answer within 2 s") >= 2


def test_compare_flags_that_cannot_apply_say_so(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["predict", "--local", "--compare-strict", "-o", "conll", TEXT])
    assert code == 2 and "-o conll is not available with --compare-*" in capsys.readouterr().err
    code = main(["eval", str(GOLD), "--local", "--fail-if-worse"])
    assert code == 2 and "--fail-if-worse needs model B" in capsys.readouterr().err
    code = main(["predict", "--local", "--compare-map", "PERSON", TEXT])
    assert code == 2 and "--compare-map: `PERSON` is not B=A" in capsys.readouterr().err
    code = main(["predict", "--local", "--compare-aggregation", "first", TEXT])
    assert code == 2 and "nothing to compare" in capsys.readouterr().err


def test_help_lists_the_new_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    out = capsys.readouterr().out
    assert "5   eval: model B significantly worse than A (--fail-if-worse)" in out
    assert "--compare-url URL" in out and "--fail-if-worse" in out


def test_the_app_gets_model_b_from_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import ner_tui.ui.app

    seen: list[dict[str, object]] = []
    monkeypatch.setattr(
        ner_tui.ui.app, "run_app", lambda settings, **kwargs: seen.append(kwargs) or 0
    )
    argv = ["--local", "--compare-url", "http://b:8001", "--compare-strict"]
    assert main([*argv, "--compare-map", "PERSON=PER"]) == 0
    target = seen[0]["compare"]
    assert target == CompareTarget(url="http://b:8001", mode="strict", label_map={"PERSON": "PER"})
    assert main(["--local"]) == 0 and "compare" not in seen[1]


def test_web_passes_model_b_on() -> None:
    from ner_tui.cli import _app_flags, build_parser

    args = build_parser().parse_args(
        ["web", "--strict", "--compare-lenient", "--compare-local", "--compare-map", "X=Y"]
    )
    assert _app_flags(args) == [
        "--strict",
        "--compare-local",
        "",
        "--compare-lenient",
        "--compare-map",
        "X=Y",
    ]
    again = build_parser().parse_args(_app_flags(args))
    assert (again.compare_local, again.compare_mode, again.mode) == ("", "lenient", "strict")


def test_a_broken_line_among_compared_ones_is_a_partial_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    lines = '{"text": "Obama visited Paris."}\n{"nope": 1}\n'
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    code = main(["predict", "--local", "--compare-strict", "-o", "jsonl", "-f", "-"])
    out, err = capsys.readouterr()
    assert code == 3 and len(out.splitlines()) == 1 and "line 2: no `text` field" in err
