"""``ner-tui predict``: label text from an argument, a file or stdin, headless.

Input is TEXT, or ``--file PATH`` / stdin with one document per line, or JSONL objects with a
``text`` field (detected from the first non-blank line, or forced with ``--input-format``).
Blank lines are skipped; line numbers in messages are the input's own. Documents are scored
concurrently (``--concurrency``, default 16) and written in input order as soon as every
earlier one is done; a document that fails is reported on stderr with its line number and the
others are still written. The exit code says whether everything worked: 0, the failure's own
code when every document failed the same way, else :data:`EXIT_PARTIAL`.

Connecting (server or local engine, model discovery, tokenizer) is :mod:`ner_tui.core.connect`,
the same path the app takes.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import shlex
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from ner_tui.commands.progress import progress_bar
from ner_tui.core.aio import map_ordered
from ner_tui.core.connect import connect
from ner_tui.core.documents import Document, count_documents, iter_documents, open_input
from ner_tui.core.errors import (
    EXIT_PARTIAL,
    InputError,
    NerTuiError,
    ServerUnreachable,
)
from ner_tui.core.export import DocumentWriter, ExportFormat
from ner_tui.core.settings import Settings
from ner_tui.core.types import DecodeOptions, Prediction

EXIT_OK = 0


# --------------------------------------------------------------------------- input


def read_documents(
    args: argparse.Namespace, stdin: IO[str]
) -> tuple[Iterator[Document], bool, int | None]:
    """The documents to label (read lazily), whether they came from a file/stdin (vs a TEXT
    argument), and how many there are when that is known without reading stdin."""
    text = getattr(args, "text", None)
    path = getattr(args, "file", None)
    if text is not None and path is not None:
        raise InputError("give TEXT or --file, not both")
    if text is not None and text != "-":
        return iter([Document(None, text)]), False, 1
    if text is None and path is None and stdin.isatty():
        raise InputError("nothing to label")
    source = open_input(path, stdin)
    total = count_documents(path) if path not in (None, "-") else None
    lines = iter_documents(source, input_format=args.input_format, field=args.jsonl_field)
    first = next(lines, None)
    if first is None:
        raise InputError("the input has no non-blank lines")
    return itertools.chain([first], lines), True, total


# --------------------------------------------------------------------------- output


def _no_server(error: ServerUnreachable, settings: Settings) -> ServerUnreachable:
    """``error`` with a hint naming the ``ner-tui predict --local`` command that needs no server
    (for this command line only: the TUI offers its own way out)."""
    model = settings.model
    if model and Path(model).is_dir():
        hint = (
            f"{model} is a model directory on this machine: run it without a server, "
            f"`ner-tui predict --local --model {shlex.quote(model)}`, or serve it, "
            f"`ner-tui serve --model {shlex.quote(model)}`."
        )
    else:
        hint = (
            "Start a server with `vllm serve MODEL` or `ner-tui serve`, or run the bundled "
            "model without one: `ner-tui predict --local`."
        )
    return ServerUnreachable(error.message, hint=hint)


class _Writer:
    """Writes finished documents to stdout in input order (laid out by the export module's
    :class:`DocumentWriter`, as the TUI's export is), and their warnings and errors to stderr."""

    def __init__(self, fmt: ExportFormat, many: bool, out: IO[str], err: IO[str]) -> None:
        self.documents = DocumentWriter(out, fmt, many=many)
        self.err = err
        self.failures = 0
        self.failure_kinds: set[type[NerTuiError]] = set()
        self.first_failure_code = 0
        self._said: set[str] = set()  # warnings and hints already printed: each once

    @property
    def written(self) -> int:
        return self.documents.count

    def document(self, doc: Document, prediction: Prediction) -> None:
        self.documents.write(prediction, {"line": doc.line} if self.documents.many else None)
        for warning in prediction.warnings:
            if self._first_time(warning):
                self.err.write(f"ner-tui: {doc.where}: warning: {warning}\n")

    def error(self, doc: Document, error: NerTuiError) -> None:
        self.failures += 1
        self.failure_kinds.add(type(error))
        self.first_failure_code = self.first_failure_code or error.exit_code
        self.err.write(f"ner-tui: {doc.where}: {error.message}\n")
        if error.hint and self._first_time(error.hint):
            self.err.write(f"  hint: {error.hint}\n")

    def _first_time(self, said: str) -> bool:
        new = said not in self._said
        self._said.add(said)
        return new

    def finish(self) -> None:
        self.documents.close()
        self.documents.out.flush()


# --------------------------------------------------------------------------- running


async def predict_documents(
    settings: Settings,
    documents: Iterable[Document],
    *,
    total: int | None = None,
    fmt: ExportFormat,
    many: bool,
    progress: bool,
    out: IO[str],
    err: IO[str],
) -> int:
    """Score, decode and write every document; return the exit code."""
    from ner_tui.core.decoding import decode

    options = DecodeOptions(
        aggregation=settings.aggregation, mode=settings.mode, threshold=settings.threshold
    )
    writer = _Writer(fmt, many, out, err)
    try:
        conn = await connect(settings, "local" if settings.local else "server")
    except ServerUnreachable as error:
        raise _no_server(error, settings) from error
    for warning in conn.warnings:
        err.write(f"ner-tui: warning: {warning}\n")
    bar = progress_bar(err) if progress else None
    task = bar.add_task("predict", total=total, failures="") if bar else None
    failures = 0

    async def one(doc: Document) -> tuple[Document, Prediction | BaseException]:
        outcome: Prediction | BaseException
        if doc.error is not None or doc.text is None:
            outcome = doc.error or InputError("no text")
        else:
            try:
                scored = await conn.score(doc.text)
                outcome = decode(scored, options)
            except Exception as error:  # a bug is re-raised by the writer loop below
                outcome = error
        nonlocal failures
        failures += isinstance(outcome, BaseException)
        if bar is not None and task is not None:
            bar.update(task, advance=1, failures=f"{failures} failed" if failures else "")
        return doc, outcome

    outcomes = map_ordered(one, documents, limit=settings.max_concurrency)
    try:
        if bar is not None:
            bar.start()
        async for doc, outcome in outcomes:
            if isinstance(outcome, NerTuiError):
                writer.error(doc, outcome)
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                writer.document(doc, outcome)
    finally:
        await outcomes.aclose()
        if bar is not None:
            bar.stop()
        await conn.aclose()
        writer.finish()  # also when interrupted: a JSON array is closed, the output stays valid
    if not writer.failures:
        return EXIT_OK
    if writer.written == 0 and len(writer.failure_kinds) == 1:
        return writer.first_failure_code
    done = writer.written + writer.failures
    err.write(f"ner-tui: {writer.failures} of {done} documents failed\n")
    return EXIT_PARTIAL


def run_predict_command(args: argparse.Namespace, settings: Settings) -> int:
    """``ner-tui predict`` after argument parsing (errors propagate to ``cli.main``)."""
    documents, many, total = read_documents(args, sys.stdin)
    progress = args.progress if args.progress is not None else sys.stderr.isatty() and many
    fmt: ExportFormat = args.output_format
    return asyncio.run(
        predict_documents(
            settings,
            documents,
            total=total,
            fmt=fmt,
            many=many,
            progress=progress,
            out=sys.stdout,
            err=sys.stderr,
        )
    )
