"""An evaluation report as text: aligned columns for a terminal, or Markdown for a pull request."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from ner_tui.core.scoring import ERROR_KINDS, Report, SchemeScores, TypeScores

Style = Literal["table", "markdown"]
SCHEMES = ("strict", "exact", "partial", "type")


def _f(value: float) -> str:
    return f"{value:.4f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], style: Style) -> list[str]:
    """Rows under a header, first column left-aligned and the rest right-aligned."""
    if style == "markdown":
        align = ["---"] + ["---:"] * (len(header) - 1)
        return ["| " + " | ".join(line) + " |" for line in (header, align, *rows)]
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    out = []
    for line in (header, *rows):
        rest = [c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)]
        cells = [line[0].ljust(widths[0]), *rest]
        out.append("  ".join(cells).rstrip())
    return out


def _type_row(name: str, scores: TypeScores) -> list[str]:
    return [name, _f(scores.precision), _f(scores.recall), _f(scores.f1), str(scores.support)]


def _scheme_row(name: str, s: SchemeScores) -> list[str]:
    counts = (s.correct, s.incorrect, s.partial, s.missed, s.spurious)
    return [name, *map(str, counts), _f(s.precision), _f(s.recall), _f(s.f1)]


def render_report(report: Report, documents: int, skipped: int, style: Style) -> str:
    """The whole report: entity scores, the four schemes, error counts, the token confusion
    matrix and what a confidence threshold would do."""
    heading = (lambda t: f"## {t}") if style == "markdown" else (lambda t: t)
    lines = [
        f"{'# ' if style == 'markdown' else ''}ner-tui eval: {report.documents:,} documents scored"
        + (f", {skipped:,} skipped" if skipped else ""),
        "",
        heading("Entities (exact match, as seqeval's classification_report)"),
    ]
    rows = [_type_row(name, scores) for name, scores in report.per_type.items()]
    rows += [
        _type_row("micro avg", report.micro),
        _type_row("macro avg", report.macro),
        _type_row("weighted avg", report.weighted),
    ]
    lines += _table(["type", "precision", "recall", "f1", "support"], rows, style)
    lines += ["", heading("Schemes (as nervaluate)")]
    header = ["scheme", "correct", "incorrect", "partial", "missed", "spurious"]
    lines += _table(
        [*header, "precision", "recall", "f1"],
        [_scheme_row(name, report.schemes[name]) for name in SCHEMES if name in report.schemes],
        style,
    )
    lines += ["", heading("Errors")]
    error_rows = [
        [name, *(str(report.errors_per_type.get(name, {}).get(k, 0)) for k in ERROR_KINDS)]
        for name in sorted(report.errors_per_type)
    ]
    error_rows.append(["all", *(str(report.errors.get(k, 0)) for k in ERROR_KINDS)])
    lines += _table(["type", *(k.replace("_", " ") for k in ERROR_KINDS)], error_rows, style)
    labels, counts = report.confusion
    if labels:
        lines += ["", heading("Token confusion (rows gold, columns predicted)")]
        lines += _table(
            ["gold \\ predicted", *labels],
            [[g, *(str(int(c)) for c in row)] for g, row in zip(labels, counts, strict=True)],
            style,
        )
    best = report.best_threshold
    lines += [
        "",
        heading("Confidence threshold"),
        f"Best micro F1 {_f(best.f1)} keeping entities scored >= {best.threshold:.2f} "
        f"(precision {_f(best.precision)}, recall {_f(best.recall)}, {best.kept:,} kept).",
    ]
    if report.only_in_gold:
        only = ", ".join(report.only_in_gold)
        lines.append(f"Types only in the gold: {only} (map them with --map).")
    if report.only_in_predictions:
        lines.append(f"Types only in the predictions: {', '.join(report.only_in_predictions)}.")
    return "\n".join(lines) + "\n"
