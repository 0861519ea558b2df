"""``ner-tui predict --compare-*`` and ``ner-tui eval --compare-*``: model A against model B.

A is what the usual flags name (``--url``, ``--model``, ``--local``, ``--aggregation``...); B is
A with what the ``--compare-*`` flags change: another server (``--compare-url``), another model
on A's server (``--compare-model``), the local engine (``--compare-local [DIR]``), and/or other
decoding settings (``--compare-aggregation``, ``--compare-strict``/``--compare-lenient``,
``--compare-threshold``). With settings only, B decodes A's scores again: one request per
document, not two. ``--compare-map B=A,...`` renames B's types into A's.

Both sides are asked concurrently. A side that cannot be connected to ends the command with its
own error and exit code, the message saying which side; a document one side fails on is
reported with that side named, and the other side's entities are still shown (``predict``) or
the document is left out of both scores (``eval``: the comparison is paired).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import dataclasses
import json
import sys
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Literal

from ner_tui.commands.eval import open_gold
from ner_tui.commands.report import _table, render_report
from ner_tui.core.aio import map_ordered
from ner_tui.core.compare import (
    KIND_NAMES,
    CompareTarget,
    Comparison,
    EntityDiff,
    F1Difference,
    Mention,
    PairedCounts,
    compare,
    compare_spans,
    mentions,
    open_pair,
    score_pair,
)
from ner_tui.core.corpus import CorpusDocument
from ner_tui.core.documents import Document
from ner_tui.core.errors import (
    EXIT_PARTIAL,
    BelowMinimum,
    ConfigError,
    InputError,
    NerTuiError,
    SignificantlyWorse,
)
from ner_tui.core.evaluation import predicted_spans, score_document
from ner_tui.core.labels import parse_label_map
from ner_tui.core.scoring import Report, Scorer
from ner_tui.core.settings import Settings
from ner_tui.core.types import DecodeOptions, Prediction, ScoredText

if TYPE_CHECKING:
    from ner_tui.core.connect import Connection

Side = Literal["A", "B"]
EXIT_OK = 0
COMPARE_FORMATS = ("table", "jsonl")


def compare_target(args: argparse.Namespace) -> CompareTarget:
    """B, from the ``--compare-*`` flags (all absent: nothing to compare)."""
    given = vars(args)
    label_map = given.get("compare_map")
    return CompareTarget(
        url=given.get("compare_url"),
        model=given.get("compare_model"),
        local=given.get("compare_local"),
        aggregation=given.get("compare_aggregation"),
        mode=given.get("compare_mode"),
        threshold=given.get("compare_threshold"),
        label_map=parse_label_map(label_map, "--compare-map", "B=A") if label_map else {},
    )


def side_error(error: NerTuiError, side: Side, where: str) -> NerTuiError:
    """``error`` (same kind, hint and exit code) with its message naming the side."""
    named = copy.copy(error)
    named.args = (f"model {side} ({where}): {error.message}", *error.args[1:])
    return named


def _where(settings: Settings) -> str:
    if settings.local:
        return f"local engine, {settings.model or 'bundled model'}"
    return settings.base_url + (f", {settings.model}" if settings.model else "")


@dataclass
class _Pair:
    """Both sides connected (B None: B is A under other settings)."""

    a: Connection
    b: Connection | None
    options_a: DecodeOptions
    options_b: DecodeOptions
    target: CompareTarget

    @property
    def shared(self) -> bool:
        return self.b is None

    def describe(self, side: Side) -> str:
        conn = self.a if side == "A" or self.b is None else self.b
        options = self.options_a if side == "A" else self.options_b
        decoding = f"{options.aggregation}, {options.mode}"
        if options.threshold:
            decoding += f", threshold {options.threshold:g}"
        return f"{conn.model} ({conn.source}; {decoding})"

    async def aclose(self) -> None:
        await self.a.aclose()
        if self.b is not None:
            await self.b.aclose()


async def _connect(settings: Settings, target: CompareTarget, err: IO[str]) -> _Pair:
    a, b = await open_pair(settings, target)
    sides: tuple[tuple[Side, object, Settings], ...] = (
        ("A", a, settings),
        ("B", b, target.settings(settings)),
    )
    failed = [
        side_error(conn, side, _where(s))
        for side, conn, s in sides
        if isinstance(conn, NerTuiError)
    ]
    if failed:
        for conn in (a, b):
            if conn is not None and not isinstance(conn, NerTuiError):
                await conn.aclose()
        for extra in failed[1:]:
            err.write(f"ner-tui: error: {extra.message}\n")
        raise failed[0]
    assert not isinstance(a, NerTuiError) and not isinstance(b, NerTuiError)
    for side, conn in (("A", a), ("B", b)):
        for warning in conn.warnings if conn is not None else ():
            err.write(f"ner-tui: warning: model {side}: {warning}\n")
    options_a = DecodeOptions(
        aggregation=settings.aggregation, mode=settings.mode, threshold=settings.threshold
    )
    return _Pair(a, b, options_a, target.options(options_a), target)


async def _predict_pair(
    pair: _Pair, text: str
) -> tuple[Prediction | NerTuiError, Prediction | NerTuiError]:
    """Both sides' predictions of ``text`` (scored concurrently, decoded in threads)."""
    from ner_tui.core.decoding import decode

    scored_a, scored_b = await score_pair(pair.a, pair.b, text, shared=pair.shared)

    async def decoded(scored: ScoredText | NerTuiError, options: DecodeOptions) -> Any:
        if isinstance(scored, NerTuiError):
            return scored
        return await asyncio.to_thread(decode, scored, options)

    return await asyncio.gather(
        decoded(scored_a, pair.options_a), decoded(scored_b, pair.options_b)
    )


# --------------------------------------------------------------------------- predict


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _cell(mention: Mention | None, text: str) -> str:
    if mention is None:
        return "-"
    score = f" {mention.score:.2f}" if mention.score is not None else ""
    renamed = f" ({mention.raw_label})" if mention.raw_label != mention.label else ""
    return f"{_quote(text[mention.start : mention.end])} {mention.label}{renamed}{score}"


def _columns(header: list[str], rows: list[list[str]]) -> list[str]:
    """Rows of text under a header, every column left-aligned (entity texts read left to
    right; the score tables right-align their numbers instead)."""
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in (header, *rows)
    ]


def render_comparison(comparison: Comparison) -> list[str]:
    """The disagreements as an aligned table, then the agreements counted."""
    text = comparison.text
    rows = [
        [KIND_NAMES[d.kind], _cell(d.a, text), _cell(d.b, text)]
        for d in comparison.entities
        if not d.agree
    ]
    both = comparison.counts.get("both", 0)
    lines = _columns(["disagreement", "A", "B"], rows) if rows else ["no disagreements"]
    words = comparison.word_disagreements
    n = comparison.disagreements
    lines.append(
        f"{n} disagreement{'' if n == 1 else 's'}, {both} found by both; "
        f"{words} of {len(comparison.words)} words labelled differently"
    )
    return lines


def _mention_json(m: Mention | None, text: str) -> dict[str, Any] | None:
    if m is None:
        return None
    record: dict[str, Any] = {"start": m.start, "end": m.end, "label": m.label}
    if m.raw_label != m.label:
        record["model_label"] = m.raw_label
    record["text"] = text[m.start : m.end]
    if m.score is not None:
        record["score"] = round(float(m.score), 4)
    return record


def _diff_json(d: EntityDiff, text: str) -> dict[str, Any]:
    return {
        "kind": d.kind,
        "start": d.start,
        "end": d.end,
        "a": _mention_json(d.a, text),
        "b": _mention_json(d.b, text),
    }


def _side_json(outcome: Prediction | NerTuiError, pair: _Pair, side: Side) -> dict[str, Any]:
    record: dict[str, Any] = {"model": pair.describe(side)}
    if isinstance(outcome, NerTuiError):
        record["error"] = outcome.message
        record["error_kind"] = type(outcome).__name__
        record["exit_code"] = outcome.exit_code
    else:
        record["elapsed_ms"] = round(outcome.scored.elapsed_ms, 1)
        record["entities"] = len(outcome.entities)
    return record


class _CompareWriter:
    def __init__(self, fmt: str, out: IO[str], err: IO[str], pair: _Pair) -> None:
        self.fmt, self.out, self.err, self.pair = fmt, out, err, pair
        self.written = 0
        self.complete = 0  # documents both sides predicted
        self.failures: list[NerTuiError] = []

    def document(
        self,
        doc: Document,
        a: Prediction | NerTuiError,
        b: Prediction | NerTuiError,
        label_map: dict[str, str],
    ) -> None:
        text = doc.text or ""
        failed = [(side, o) for side, o in (("A", a), ("B", b)) if isinstance(o, NerTuiError)]
        for side, error in failed:
            assert isinstance(error, NerTuiError)
            self.failures.append(error)
            self.err.write(f"ner-tui: {doc.where}: model {side}: {error.message}\n")
        comparison: Comparison | None = None
        if isinstance(a, Prediction) and isinstance(b, Prediction):
            comparison = compare(a, b, label_map)
            self.complete += 1
        else:
            # One side failed: the other side's entities, each "only" on its side.
            ok = a if isinstance(a, Prediction) else b if isinstance(b, Prediction) else None
            found = mentions(ok.entities, None if ok is a else label_map) if ok else ()
            diffs = compare_spans(found, ()) if ok is a else compare_spans((), found)
            comparison = Comparison.of(text, diffs)
        self.written += 1
        if self.fmt == "jsonl":
            record: dict[str, Any] = {"line": doc.line} if doc.line is not None else {}
            record["text"] = text
            record["a"] = _side_json(a, self.pair, "A")
            record["b"] = _side_json(b, self.pair, "B")
            if not failed:
                record["counts"] = comparison.counts
                record["words_differing"] = [
                    {
                        "start": w.start,
                        "end": w.end,
                        "text": w.text,
                        "a": w.a_label,
                        "a_score": None if w.a_score is None else round(w.a_score, 4),
                        "b": w.b_label,
                        "b_score": None if w.b_score is None else round(w.b_score, 4),
                    }
                    for w in comparison.words
                    if not w.agree
                ]
            record["entities"] = [_diff_json(d, text) for d in comparison.entities]
            self.out.write(json.dumps(record, ensure_ascii=False) + "\n")
            return
        head = f"{doc.where}: " if doc.line is not None else ""
        lines = [f"{head}{_quote(text[:60] + ('…' if len(text) > 60 else ''))}"]
        sides: tuple[tuple[Side, Prediction | NerTuiError], ...] = (("A", a), ("B", b))
        for side, outcome in sides:
            if isinstance(outcome, NerTuiError):
                lines.append(f"  {side}: {self.pair.describe(side)} FAILED: {outcome.message}")
            else:
                ms = outcome.scored.elapsed_ms
                lines.append(f"  {side}: {self.pair.describe(side)}, {ms:.0f} ms")
        if failed:
            rows = [
                ["only " + ("A" if d.a else "B"), _cell(d.a, text), _cell(d.b, text)]
                for d in comparison.entities
            ]
            lines += _columns(["entity (other side failed)", "A", "B"], rows) if rows else []
        else:
            lines += render_comparison(comparison)
        self.out.write("\n".join(lines) + "\n\n")


async def predict_compare(
    settings: Settings,
    target: CompareTarget,
    documents: Iterable[Document],
    *,
    fmt: str,
    out: IO[str],
    err: IO[str],
) -> int:
    """Every document through A and B, the differences written in input order; the exit code
    (a failure's own when every failure was of one kind and nothing was compared)."""
    if fmt not in COMPARE_FORMATS:
        raise ConfigError(
            f"-o {fmt} is not available with --compare-*: use table or jsonl",
            hint="-o jsonl writes one JSON object per document with both sides and the diff.",
        )
    pair = await _connect(settings, target, err)
    if pair.shared and pair.options_a == pair.options_b:
        await pair.aclose()
        raise ConfigError(
            "model B is model A under the same settings: nothing to compare",
            hint="Name another backend (--compare-url, --compare-model, --compare-local) or "
            "other settings (--compare-aggregation, --compare-strict, --compare-threshold).",
        )
    writer = _CompareWriter(fmt, out, err, pair)
    label_map = dict(target.label_map)

    async def one(doc: Document) -> tuple[Document, Any, Any]:
        if doc.error is not None or doc.text is None:
            error = doc.error or InputError("no text")
            return doc, error, error
        a, b = await _predict_pair(pair, doc.text)
        return doc, a, b

    outcomes = map_ordered(one, documents, limit=settings.max_concurrency)
    try:
        async for doc, a, b in outcomes:
            if a is b and isinstance(a, NerTuiError):  # the input line itself is broken
                writer.failures.append(a)
                err.write(f"ner-tui: {doc.where}: {a.message}\n")
                continue
            writer.document(doc, a, b, label_map)
    finally:
        await outcomes.aclose()
        await pair.aclose()
        out.flush()
    if not writer.failures:
        return EXIT_OK
    kinds = {type(f) for f in writer.failures}
    if len(kinds) == 1 and writer.complete == 0:  # nothing compared, for one reason
        first = writer.failures[0]
        if first.hint:
            err.write(f"  hint: {first.hint}\n")
        return first.exit_code
    err.write(f"ner-tui: {len(writer.failures)} document sides failed\n")
    return EXIT_PARTIAL


# --------------------------------------------------------------------------- eval


@dataclass
class CompareRun:
    report_a: Report
    report_b: Report
    differences: list[F1Difference]
    documents: int
    skipped: int
    describe_a: str
    describe_b: str


async def _paired_outcomes(
    pair: _Pair, documents: Iterator[CorpusDocument], limit: int
) -> AsyncIterator[tuple[CorpusDocument, Any, Any]]:
    label_map = dict(pair.target.label_map)

    async def one(doc: CorpusDocument) -> tuple[CorpusDocument, Any, Any]:
        if doc.error is not None:
            return doc, doc.error, doc.error
        a, b = await _predict_pair(pair, doc.text)

        def spans(p: Prediction | NerTuiError, mapping: dict[str, str]) -> Any:
            if isinstance(p, NerTuiError):
                return p
            entities = [
                (e.start, e.end, mapping.get(e.label, e.label), e.score) for e in p.entities
            ]
            return predicted_spans(doc, entities)

        return doc, spans(a, {}), spans(b, label_map)

    async for outcome in map_ordered(one, documents, limit=limit):
        yield outcome


async def eval_compare(
    settings: Settings,
    target: CompareTarget,
    gold_path: str,
    *,
    corpus_format: str = "auto",
    scheme: str | None = None,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    err: IO[str],
) -> CompareRun:
    """Score A and B on every document of ``gold_path`` both could predict; the paired
    bootstrap of their F1 difference."""
    gold_file, documents = open_gold(settings, gold_path, corpus_format, scheme)
    scorers = Scorer(), Scorer()
    counts = PairedCounts()
    seen = skipped = 0
    failures: list[NerTuiError] = []
    try:
        pair = await _connect(settings, target, err)
        try:
            async for doc, a, b in _paired_outcomes(pair, documents, settings.max_concurrency):
                seen += 1
                if isinstance(a, NerTuiError) and a is b:  # a broken line, or the one backend
                    skipped += 1
                    err.write(f"ner-tui: line {doc.line}: {a.message}\n")
                    if doc.error is None:
                        failures.append(a)
                    continue
                sides: tuple[tuple[Side, Any], ...] = (("A", a), ("B", b))
                bad = [(s, o) for s, o in sides if isinstance(o, NerTuiError)]
                if bad:
                    skipped += 1
                    for side, error in bad:
                        failures.append(side_error(error, side, pair.describe(side)))
                        err.write(f"ner-tui: line {doc.line}: model {side}: {error.message}\n")
                    continue
                if doc.gold is None:
                    skipped += 1
                    continue
                score_document(scorers[0], doc, doc.gold, a)
                score_document(scorers[1], doc, doc.gold, b)
                counts.add(doc.gold, a, b)
        finally:
            await pair.aclose()
    finally:
        gold_file.close()
    if seen == 0:
        raise InputError(f"{gold_path} has no documents")
    if not len(counts):
        if failures and len({type(f) for f in failures}) == 1:
            raise failures[0]
        raise InputError(f"none of the {seen:,} documents could be compared (see above)")
    return CompareRun(
        scorers[0].report(),
        scorers[1].report(),
        counts.differences(resamples=resamples, seed=seed, confidence=confidence),
        seen,
        skipped,
        pair.describe("A"),
        pair.describe("B"),
    )


def _signed(value: float) -> str:
    return f"{value:+.4f}"


def render_differences(
    run: CompareRun, confidence: float, resamples: int, seed: int, style: str
) -> str:
    style_: Literal["table", "markdown"] = "markdown" if style == "markdown" else "table"
    level = f"{confidence * 100:g}%"
    rows = [
        [
            "micro avg" if d.label == "micro" else d.label,
            f"{d.f1_a:.4f}",
            f"{d.f1_b:.4f}",
            _signed(d.difference),
            f"[{_signed(d.low)}, {_signed(d.high)}]",
            d.verdict,
        ]
        for d in [*run.differences[1:], run.differences[0]]
    ]
    title = (
        f"A vs B: F1 per type, B - A with its {level} paired bootstrap interval "
        f"({resamples:,} resamples of the {run.report_a.documents:,} documents, seed {seed})"
    )
    lines = [("## " if style_ == "markdown" else "") + title]
    lines += _table(["type", "F1 A", "F1 B", "B - A", f"{level} interval", ""], rows, style_)
    return "\n".join(lines) + "\n"


def run_eval_compare(args: argparse.Namespace, settings: Settings, target: CompareTarget) -> int:
    """``ner-tui eval GOLD --compare-*``: both reports, the differences, the gate."""
    if args.predictions is not None:
        raise ConfigError("--predictions cannot be combined with --compare-*: give two models")
    if getattr(args, "html", None):
        raise ConfigError("--html is not available with --compare-* yet")
    resamples, confidence = args.bootstrap, args.confidence
    if resamples < 1:
        raise ConfigError("option --bootstrap: give at least 1 resample")
    if not 0 < confidence < 1:
        raise ConfigError("option --confidence: give a level between 0 and 1, e.g. 0.95")
    run = asyncio.run(
        eval_compare(
            settings,
            target,
            args.gold,
            corpus_format=args.input_format,
            scheme=args.scheme,
            resamples=resamples,
            seed=args.seed,
            confidence=confidence,
            err=sys.stderr,
        )
    )
    out = sys.stdout
    if args.output_format == "json":
        json.dump(
            {
                "documents": run.documents,
                "skipped": run.skipped,
                "a": {"model": run.describe_a, **run.report_a.to_json()},
                "b": {"model": run.describe_b, **run.report_b.to_json()},
                "bootstrap": {"resamples": resamples, "seed": args.seed, "confidence": confidence},
                "differences": [
                    {
                        "type": d.label,
                        "f1_a": d.f1_a,
                        "f1_b": d.f1_b,
                        "difference": d.difference,
                        "low": d.low,
                        "high": d.high,
                        "verdict": d.verdict,
                    }
                    for d in run.differences
                ],
            },
            out,
            ensure_ascii=False,
            indent=2,
        )
        out.write("\n")
    else:
        style = args.output_format
        mark = "# " if style == "markdown" else ""
        for side, report, name in (
            ("A", run.report_a, run.describe_a),
            ("B", run.report_b, run.describe_b),
        ):
            out.write(f"{mark}Model {side}: {name}\n\n")
            out.write(render_report(report, run.documents, run.skipped, style))
            out.write("\n")
        out.write(render_differences(run, confidence, resamples, args.seed, style))
    micro = run.differences[0]
    if args.min_f1 is not None:
        for side, report in (("A", run.report_a), ("B", run.report_b)):
            if report.micro.f1 < args.min_f1:
                raise BelowMinimum(
                    f"model {side}'s micro F1 {report.micro.f1:.4f} is below --min-f1 "
                    f"{args.min_f1:g}"
                )
    if args.fail_if_worse and micro.worse:
        raise SignificantlyWorse(
            f"model B's micro F1 {micro.f1_b:.4f} is below model A's {micro.f1_a:.4f}: "
            f"B - A = {_signed(micro.difference)}, {confidence * 100:g}% interval "
            f"[{_signed(micro.low)}, {_signed(micro.high)}] lies below 0"
        )
    return EXIT_PARTIAL if run.skipped else EXIT_OK


def run_compare_command(
    command: str, args: argparse.Namespace, settings: Settings, target: CompareTarget
) -> int:
    """``predict`` or ``eval`` with ``--compare-*`` (errors propagate to ``cli.main``)."""
    if command == "eval":
        if args.map:
            mapping = {**settings.label_map, **parse_label_map(args.map)}
            settings = dataclasses.replace(settings, label_map=mapping)
        return run_eval_compare(args, settings, target)
    from ner_tui.commands.predict import read_documents

    documents, _, _ = read_documents(args, sys.stdin)
    return asyncio.run(
        predict_compare(
            settings, target, documents, fmt=args.output_format, out=sys.stdout, err=sys.stderr
        )
    )
