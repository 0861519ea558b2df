"""``ner-tui eval``: score a model (or saved predictions) against a gold corpus, headless.

The corpus streams through the same backend ``predict`` uses (a vLLM server, ``ner-tui serve``
or the local engine), ``--concurrency`` documents in flight, and the scores accumulate as
documents arrive, so memory is bounded by the documents in flight, not by the file. With
``--predictions`` no model is needed: predictions captured earlier (``predict -o jsonl``, or any
JSONL/CoNLL of the same documents) are scored as they are.

A document that cannot be read or predicted is reported with its line number and skipped; the
report says how many were. ``--min-f1`` turns the run into a gate: below it, the exit code is
:class:`~ner_tui.core.errors.BelowMinimum`'s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

from ner_tui.commands.progress import progress_bar
from ner_tui.commands.report import render_report
from ner_tui.core.aio import map_ordered
from ner_tui.core.corpus import CorpusDocument, open_corpus, read_corpus
from ner_tui.core.errors import (
    EXIT_PARTIAL,
    BelowMinimum,
    ConfigError,
    InputError,
    NerTuiError,
)
from ner_tui.core.evaluation import error_record, html_marks, predicted_spans, score_document
from ner_tui.core.html import HtmlPage
from ner_tui.core.labels import parse_label_map
from ner_tui.core.scoring import Report, Scorer, Span
from ner_tui.core.settings import Settings
from ner_tui.core.types import DecodeOptions

EXIT_OK = 0


@dataclass(frozen=True, slots=True)
class _Outcome:
    doc: CorpusDocument
    predicted: tuple[Span, ...] | None = None
    error: NerTuiError | None = None


# --------------------------------------------------------------------------- predicting


async def _model_outcomes(
    settings: Settings, documents: Iterator[CorpusDocument], err: IO[str]
) -> AsyncIterator[_Outcome]:
    """Each document with the model's entities, in corpus order, ``--concurrency`` in flight."""
    from ner_tui.core.connect import connect
    from ner_tui.core.decoding import decode

    conn = await connect(settings, "local" if settings.local else "server")
    for warning in conn.warnings:
        err.write(f"ner-tui: warning: {warning}\n")
    options = DecodeOptions(aggregation=settings.aggregation, mode=settings.mode)

    async def one(doc: CorpusDocument) -> _Outcome:
        if doc.error is not None:
            return _Outcome(doc, error=doc.error)
        try:
            scored = await conn.score(doc.text)
            prediction = await asyncio.to_thread(decode, scored, options)
        except NerTuiError as error:
            return _Outcome(doc, error=error)
        entities = [(e.start, e.end, e.label, e.score) for e in prediction.entities]
        return _Outcome(doc, predicted_spans(doc, entities))

    try:
        async for outcome in map_ordered(one, documents, limit=settings.max_concurrency):
            yield outcome
    finally:
        await conn.aclose()


async def _saved_outcomes(
    documents: Iterator[CorpusDocument], predictions: Iterator[CorpusDocument]
) -> AsyncIterator[_Outcome]:
    """Each gold document with the saved prediction of the same position and text."""
    for doc in documents:
        saved = next(predictions, None)
        if doc.error is not None:
            yield _Outcome(doc, error=doc.error)
        elif saved is None:
            yield _Outcome(doc, error=InputError("the predictions file has no document for it"))
        elif saved.error is not None:
            yield _Outcome(doc, error=InputError(f"predictions file: {saved.error.message}"))
        elif saved.text != doc.text:
            yield _Outcome(
                doc,
                error=InputError(
                    f"the predictions file's document at line {saved.line} is for another text "
                    f"({saved.text[:30]!r} vs {doc.text[:30]!r})"
                ),
            )
        else:
            entities = [(s.start, s.end, s.label, s.score) for s in saved.gold or ()]
            yield _Outcome(doc, predicted_spans(doc, entities))


# --------------------------------------------------------------------------- scoring


@dataclass
class EvalRun:
    """What one run produced: the report, how many documents were skipped, and a file holding
    every error as a JSON line (spooled to disk, so memory does not grow with the corpus)."""

    report: Report
    documents: int
    skipped: int
    errors: IO[str]


def open_gold(
    settings: Settings, gold_path: str, corpus_format: str, scheme: str | None
) -> tuple[IO[str], Iterator[CorpusDocument]]:
    """The gold file (the caller closes it) and its documents, read lazily as ``settings``
    decode and rename labels: how ``eval`` and ``eval --compare-*`` read a corpus."""
    gold_file = open_corpus(gold_path)
    documents = read_corpus(
        gold_file,
        corpus_format,  # type: ignore[arg-type]
        scheme=scheme,
        mode=settings.mode,
        label_map=settings.label_map,
    )
    return gold_file, documents


async def evaluate(
    settings: Settings,
    gold_path: str,
    *,
    predictions_path: str | None = None,
    corpus_format: str = "auto",
    scheme: str | None = None,
    progress: bool = False,
    err: IO[str],
    html: IO[str] | None = None,
) -> EvalRun:
    """Score every document of ``gold_path`` (skipping and reporting the broken ones).

    ``html``: also write one page with every scored document, gold over predicted."""
    gold_file, documents = open_gold(settings, gold_path, corpus_format, scheme)
    scorer = Scorer()
    page = HtmlPage(f"ner-tui eval · {Path(gold_path).name}") if html is not None else None
    if page is not None and html is not None:
        html.write(page.head())
    errors = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed by the caller
    seen = skipped = without_gold = 0
    bar = progress_bar(err) if progress else None
    task = bar.add_task("eval", total=None, failures="") if bar else None
    if bar is not None:
        bar.start()
    try:
        outcomes = (
            _saved_outcomes(documents, read_corpus(open_corpus(predictions_path), "auto"))
            if predictions_path is not None
            else _model_outcomes(settings, documents, err)
        )
        async for outcome in outcomes:
            seen += 1
            doc = outcome.doc
            if outcome.error is not None or outcome.predicted is None:
                skipped += 1
                message = outcome.error.message if outcome.error else "no prediction"
                err.write(f"ner-tui: line {doc.line}: {message}\n")
            elif doc.gold is None:
                without_gold += 1
            else:
                for warning in doc.warnings:
                    err.write(f"ner-tui: line {doc.line}: warning: {warning}\n")
                result = score_document(scorer, doc, doc.gold, outcome.predicted)
                if page is not None and html is not None:
                    gold_marks, predicted_marks = html_marks(
                        doc, doc.gold, outcome.predicted, result
                    )
                    heading = f"Document {seen} · line {doc.line}"
                    html.write(
                        page.corpus_section(seen, doc.text, gold_marks, predicted_marks, heading)
                    )
                for error in result.errors:
                    errors.write(json.dumps(error_record(doc, error), ensure_ascii=False) + "\n")
            if bar is not None and task is not None:
                bar.update(task, advance=1, failures=f"{skipped} skipped" if skipped else "")
    finally:
        if bar is not None:
            bar.stop()
        gold_file.close()
    if seen == 0:
        raise InputError(f"{gold_path} has no documents")
    if seen == skipped + without_gold:
        if without_gold:
            raise InputError(
                f"{gold_path} has no gold labels: nothing to score against",
                hint="Give a CoNLL file or JSONL with entities; `ner-tui predict` labels plain "
                "text.",
            )
        raise InputError(f"none of the {seen:,} documents could be scored (see above)")
    if without_gold:
        err.write(f"ner-tui: {without_gold} documents have no gold labels and were not scored\n")
    errors.seek(0)
    report = scorer.report()
    if page is not None and html is not None:
        micro = report.micro
        html.write(
            page.foot(
                f"{seen - skipped - without_gold:,} documents scored, {skipped:,} skipped · "
                f"micro precision {micro.precision:.4f}, recall {micro.recall:.4f}, "
                f"F1 {micro.f1:.4f}"
            )
        )
    return EvalRun(report, seen, skipped + without_gold, errors)


def write_json(run: EvalRun, out: IO[str]) -> None:
    """The report as one JSON object: every score, then every error with its document."""
    report = run.report.to_json()
    report["scored"] = report.pop("documents")
    head = {"documents": run.documents, "skipped": run.skipped, **report}
    text = json.dumps(head, ensure_ascii=False, indent=2)
    out.write(text[: text.rstrip().rfind("}")].rstrip() + ',\n  "errors": [')
    for n, line in enumerate(run.errors):
        out.write(("," if n else "") + "\n    " + line.rstrip("\n"))
    out.write("\n  ]\n}\n")


def run_eval_command(args: argparse.Namespace, settings: Settings) -> int:
    """``ner-tui eval`` after argument parsing (errors propagate to ``cli.main``)."""
    if args.map:
        settings = replace(settings, label_map={**settings.label_map, **parse_label_map(args.map)})
    progress = args.progress if args.progress is not None else sys.stderr.isatty()
    html_path = getattr(args, "html", None)
    try:
        html = open(html_path, "w", encoding="utf-8") if html_path else None  # noqa: SIM115
    except OSError as error:
        raise ConfigError(f"cannot write --html {html_path}: {error.strerror or error}") from error
    try:
        run = asyncio.run(
            evaluate(
                settings,
                args.gold,
                predictions_path=args.predictions,
                corpus_format=args.input_format,
                scheme=args.scheme,
                progress=progress,
                err=sys.stderr,
                html=html,
            )
        )
    finally:
        if html is not None:
            html.close()
    with run.errors:
        if args.output_format == "json":
            write_json(run, sys.stdout)
        else:
            text = render_report(run.report, run.documents, run.skipped, args.output_format)
            sys.stdout.write(text)
    micro = run.report.micro.f1
    if args.min_f1 is not None and micro < args.min_f1:
        raise BelowMinimum(f"micro F1 {micro:.4f} is below --min-f1 {args.min_f1:g}")
    return EXIT_PARTIAL if run.skipped else EXIT_OK
