"""``ner-tui eval`` end to end: the bundled model on a hand-labelled news corpus, scored the way
seqeval and nervaluate score the same tags and spans (run here as oracles), and every way a
corpus or a run can go wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from nervaluate import Evaluator
from seqeval.metrics import classification_report
from seqeval.scheme import IOB2

from ner_tui.cli import main
from ner_tui.core.errors import EXIT_PARTIAL, BelowMinimum

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
CONLL = FIXTURES / "news.conll"
JSONL = FIXTURES / "news.jsonl"
LOCAL = ["--local"]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _sentences(conll: Path = CONLL) -> list[list[tuple[str, str]]]:
    """(token, tag) per sentence of a CoNLL file, read here apart from ner-tui's reader."""
    sentences: list[list[tuple[str, str]]] = [[]]
    for line in conll.read_text().splitlines():
        if not line.strip() or line.startswith("-DOCSTART-"):
            if sentences[-1]:
                sentences.append([])
            continue
        token, *_, tag = line.split()
        sentences[-1].append((token, tag))
    return [s for s in sentences if s]


def predict(texts: list[str], out: Path) -> Path:
    """The bundled model's predictions for ``texts``, saved by ``ner-tui predict -o jsonl``."""
    import contextlib
    import io

    source = out.with_suffix(".txt")
    source.write_text("\n".join(texts) + "\n")
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        argv = ["predict", *LOCAL, "--aggregation", "first", "-f", str(source), "-o", "jsonl"]
        assert main(argv) == 0
    out.write_text(buffer.getvalue())
    return out


@pytest.fixture(scope="module")
def predictions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled model's predictions for the corpus texts (as eval rebuilds them)."""
    texts = [" ".join(t for t, _ in s) for s in _sentences()]
    return predict(texts, tmp_path_factory.mktemp("eval") / "predictions.jsonl")


def _predicted_tags(predictions: Path, conll: Path = CONLL) -> list[list[str]]:
    """IOB2 tags over the gold tokens, from the saved predictions (the oracle's own mapping)."""
    rows = []
    sentences = _sentences(conll)
    for line, sentence in zip(predictions.read_text().splitlines(), sentences, strict=True):
        doc = json.loads(line)
        tags, position = [], 0
        previous = None
        for token, _ in sentence:
            start, end = position, position + len(token)
            position = end + 1
            hit = next((e for e in doc["entities"] if e["start"] < end and e["end"] > start), None)
            if hit is None:
                tags.append("O")
                previous = None
            else:
                tags.append(("I-" if previous is hit else "B-") + hit["label"])
                previous = hit
        rows.append(tags)
    return rows


def assert_equals_seqeval(
    report: dict[str, Any], conll: Path, predictions: Path, mode: str | None = None
) -> None:
    """``report`` (eval's JSON) has seqeval's numbers on the gold tags and the predictions'."""
    gold = [[tag for _, tag in s] for s in _sentences(conll)]
    extra: dict[str, Any] = {"mode": "strict", "scheme": IOB2} if mode == "strict" else {}
    predicted = _predicted_tags(predictions, conll)
    oracle = classification_report(gold, predicted, output_dict=True, **extra)
    for name, row in report["per_type"].items():
        assert row["precision"] == pytest.approx(oracle[name]["precision"])
        assert row["recall"] == pytest.approx(oracle[name]["recall"])
        assert row["f1"] == pytest.approx(oracle[name]["f1-score"])
        assert row["support"] == oracle[name]["support"]
    assert set(report["per_type"]) == {k for k in oracle if not k.endswith(" avg")}
    for ours, theirs in (
        ("micro", "micro avg"),
        ("macro", "macro avg"),
        ("weighted", "weighted avg"),
    ):
        assert report[ours]["f1"] == pytest.approx(oracle[theirs]["f1-score"])


def assert_equals_nervaluate(report: dict[str, Any], gold: Path, predictions: Path) -> None:
    """``report`` (eval's JSON) has nervaluate's four schemes on the same spans."""

    def spans(path: Path) -> list[list[dict[str, Any]]]:
        return [
            [
                {"label": e["label"], "start": e["start"], "end": e["end"] - 1}
                for e in json.loads(line)["entities"]
            ]
            for line in path.read_text().splitlines()
        ]

    true, pred = spans(gold), spans(predictions)
    tags = sorted({e["label"] for doc in true + pred for e in doc})
    oracle = Evaluator(true, pred, tags=tags, loader="dict").evaluate()["overall"]
    names = {"strict": "strict", "exact": "exact", "partial": "partial", "type": "ent_type"}
    for ours, theirs in names.items():
        for field in ("correct", "incorrect", "partial", "missed", "spurious"):
            assert report["schemes"][ours][field] == getattr(oracle[theirs], field), (ours, field)
        assert report["schemes"][ours]["f1"] == pytest.approx(oracle[theirs].f1)


def test_conll_scores_equal_seqeval_on_the_same_tags(
    predictions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(
        ["eval", str(CONLL), "--predictions", str(predictions), "-o", "json"], capsys
    )
    assert code == 0, err
    report = json.loads(out)
    assert_equals_seqeval(report, CONLL, predictions)
    # The model is right about most of it, and not about all of it: a real run, not a stub.
    assert 0.6 < report["micro"]["f1"] < 1.0
    assert report["documents"] == report["scored"] == 16 and report["skipped"] == 0


def test_the_model_run_equals_scoring_its_saved_predictions(
    predictions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, live, err = _run(
        ["eval", str(CONLL), *LOCAL, "--aggregation", "first", "-o", "json"], capsys
    )
    assert code == 0, err
    code, saved, _ = _run(
        ["eval", str(CONLL), "--predictions", str(predictions), "-o", "json"], capsys
    )
    assert code == 0
    live_report, saved_report = json.loads(live), json.loads(saved)
    assert live_report["per_type"] == saved_report["per_type"]
    assert live_report["errors"] == saved_report["errors"] != []


def test_jsonl_scores_equal_nervaluate_on_the_same_spans(
    predictions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(
        ["eval", str(JSONL), "--predictions", str(predictions), "-o", "json"], capsys
    )
    assert code == 0, err
    report = json.loads(out)
    assert_equals_nervaluate(report, JSONL, predictions)
    # Every error is listed with its document, line and the text it covers.
    first = report["errors"][0]
    doc = json.loads(JSONL.read_text().splitlines()[first["document"]])
    side = first["gold"] or first["predicted"]
    assert doc["text"][side["start"] : side["end"]] == side["text"]
    assert first["line"] == first["document"] + 1


def test_table_and_markdown(predictions: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, table, _ = _run(["eval", str(CONLL), "--predictions", str(predictions)], capsys)
    assert code == 0
    assert "micro avg" in table and "Schemes (as nervaluate)" in table and "Best micro F1" in table
    assert "Token confusion" in table
    code, markdown, _ = _run(
        ["eval", str(CONLL), "--predictions", str(predictions), "-o", "markdown"], capsys
    )
    assert code == 0 and "| micro avg |" in markdown and "## Errors" in markdown


def test_min_f1_gates(predictions: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["eval", str(CONLL), "--predictions", str(predictions)]
    assert _run([*argv, "--min-f1", "0.5"], capsys)[0] == 0
    code, out, err = _run([*argv, "--min-f1", "0.99"], capsys)
    assert code == BelowMinimum.exit_code == 4
    assert "micro avg" in out  # the report is still written
    assert "below --min-f1 0.99" in err


def test_label_map_and_one_sided_types(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gold = tmp_path / "gold.conll"
    gold.write_text("Angela B-PERSON\nMerkel I-PERSON\nin O\nBerlin B-GPE\n")
    pred = tmp_path / "pred.jsonl"
    pred.write_text(
        json.dumps(
            {"text": "Angela Merkel in Berlin", "entities": [[0, 13, "PER"], [17, 23, "LOC"]]}
        )
    )
    code, out, _ = _run(["eval", str(gold), "--predictions", str(pred), "-o", "json"], capsys)
    assert code == 0
    unmapped = json.loads(out)
    assert unmapped["micro"]["f1"] == 0.0
    assert unmapped["only_in_gold"] == ["GPE", "PERSON"] and unmapped["only_in_predictions"] == [
        "LOC",
        "PER",
    ]
    code, out, _ = _run(
        [
            "eval",
            str(gold),
            "--predictions",
            str(pred),
            "--map",
            "PERSON=PER,GPE=LOC",
            "-o",
            "json",
        ],
        capsys,
    )
    assert code == 0 and json.loads(out)["micro"]["f1"] == 1.0


def test_broken_documents_are_reported_and_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = JSONL.read_text().splitlines()
    broken = [
        lines[0],
        "{not json",
        json.dumps({"text": "ab", "entities": [[0, 9, "PER"]]}),
        lines[1],
    ]
    gold = tmp_path / "gold.jsonl"
    gold.write_text("\n".join(broken) + "\n")
    code, out, err = _run(["eval", str(gold), *LOCAL, "-o", "json"], capsys)
    assert code == EXIT_PARTIAL
    assert "line 2: not valid JSON" in err and "line 3: span 0-9 PER is outside the text" in err
    report = json.loads(out)
    assert (report["documents"], report["scored"], report["skipped"]) == (4, 2, 2)


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "has no documents"), ("Obama visited Paris.\nMerkel too.\n", "has no gold labels")],
)
def test_a_corpus_with_nothing_to_score(
    tmp_path: Path, content: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    gold = tmp_path / "corpus.txt"
    gold.write_text(content)
    code, _, err = _run(["eval", str(gold), *LOCAL], capsys)
    assert code == 2 and message in err


def test_a_missing_corpus_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["eval", "/no/such/corpus.conll", *LOCAL], capsys)
    assert code == 2 and "no such file: /no/such/corpus.conll" in err


def test_predictions_for_other_texts_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pred = tmp_path / "pred.jsonl"
    second = JSONL.read_text().splitlines()[1]
    pred.write_text(json.dumps({"text": "something else", "entities": []}) + "\n" + second + "\n")
    code, _, err = _run(["eval", str(JSONL), "--predictions", str(pred)], capsys)
    assert code == EXIT_PARTIAL
    assert "line 1: the predictions file's document at line 1 is for another text" in err
    assert "line 2:" not in err  # the same text: scored
    assert "line 3: the predictions file has no document for it" in err
    pred.write_text(json.dumps({"text": "something else", "entities": []}) + "\n")
    code, _, err = _run(["eval", str(JSONL), "--predictions", str(pred)], capsys)
    assert code == 2 and "none of the 16 documents could be scored" in err


def test_bad_map_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["eval", str(CONLL), *LOCAL, "--map", "PERSON"], capsys)
    assert code == 2 and "`PERSON` is not GOLD=MODEL" in err


def test_strict_mode_matches_seqeval_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gold = tmp_path / "gold.conll"
    gold.write_text("a I-PER\nb I-PER\nc O\nd B-LOC\n\ne B-PER\nf I-PER\n")
    pred = tmp_path / "pred.jsonl"
    pred.write_text(
        json.dumps({"text": "a b c d", "entities": [[0, 3, "PER"], [6, 7, "LOC"]]})
        + "\n"
        + json.dumps({"text": "e f", "entities": [[0, 3, "PER"]]})
        + "\n"
    )
    code, out, _ = _run(
        ["eval", str(gold), "--predictions", str(pred), "--strict", "-o", "json"], capsys
    )
    assert code == 0
    report = json.loads(out)
    y_true = [["I-PER", "I-PER", "O", "B-LOC"], ["B-PER", "I-PER"]]
    y_pred = [["B-PER", "I-PER", "O", "B-LOC"], ["B-PER", "I-PER"]]
    oracle = classification_report(y_true, y_pred, mode="strict", scheme=IOB2, output_dict=True)
    assert report["per_type"]["PER"]["precision"] == pytest.approx(oracle["PER"]["precision"])
    assert report["per_type"]["PER"]["support"] == oracle["PER"]["support"] == 1
