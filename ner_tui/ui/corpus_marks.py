"""Content for the corpus view: the scores table, a document's gold and predicted spans with
each error marked by kind, and the one-line previews. Text is data: every document string,
token and label goes into ``Content`` as text with styles over spans, never as markup."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.color import Color
from textual.content import Content
from textual.style import Style

from ner_tui.core.corpus_scores import CorpusScores, DocumentResult
from ner_tui.core.evaluation import char_span
from ner_tui.core.scoring import ERROR_KINDS, ErrorKind, ScoredError, Span
from ner_tui.core.visible import SPECIAL_RE, visible, visible_text
from ner_tui.ui.palette import EntityPalette

KIND_NAMES: dict[str, str] = {
    "missed": "missed",
    "spurious": "spurious",
    "wrong_type": "wrong type",
    "wrong_boundary": "wrong boundary",
    "wrong_both": "wrong type+boundary",
}
_WHITE = Color(255, 255, 255)
_DARK = Color(20, 20, 20)
KIND_STYLES: dict[str, Style] = {
    "missed": Style(background=Color(190, 40, 40), foreground=_WHITE, bold=True, underline=True),
    "spurious": Style(background=Color(90, 90, 90), foreground=_WHITE, strike=True),
    "wrong_type": Style(background=Color(230, 150, 30), foreground=_DARK, bold=True),
    "wrong_boundary": Style(background=Color(150, 80, 200), foreground=_WHITE, underline=True),
    "wrong_both": Style(background=Color(230, 150, 30), foreground=_DARK, underline=True),
}
CURRENT = Style(reverse=True, bold=True)
DIM = Style(dim=True)
BOLD = Style(bold=True)


def preview(text: str, width: int = 60) -> str:
    """One line of ``text`` with control characters visible, cut to ``width``."""
    shown = visible_text(text)
    return shown if len(shown) <= width else shown[: width - 1] + "…"


def cell(text: str, style: Style | None = None) -> Text:
    """A table cell holding ``text`` as data (a plain ``str`` cell would be parsed as markup)."""
    return Text(text, style=style.rich_style if style is not None else "", no_wrap=True)


def legend(width: int | None = None) -> Content:
    """What each error mark means, in ``width`` cells when given: without the words on correct
    marks when one line would not hold it all, then on as many lines as it takes (never
    breaking a mark)."""
    chips = [Content.styled(f" {KIND_NAMES[kind]} ", KIND_STYLES[kind]) for kind in ERROR_KINDS]
    chips.append(Content.styled(" current ", CURRENT))
    full = Content(" ").join([Content.styled("correct: in its type's colour ·", DIM), *chips])
    if width is None or full.cell_length <= width:
        return full
    return packed(chips, width)


def packed(chips: list[Content], width: int) -> Content:
    """``chips`` one space apart, on as many lines of ``width`` cells as it takes, never
    breaking one (wrapping would split ``wrong type`` at its space)."""
    lines: list[list[Content]] = [[]]
    used = 0
    for chip in chips:
        if lines[-1] and used + 1 + chip.cell_length > width:
            lines.append([])
            used = 0
        used += chip.cell_length + (1 if lines[-1] else 0)
        lines[-1].append(chip)
    return Content("\n").join(Content(" ").join(line) for line in lines)


def _display(text: str) -> tuple[str, list[int]]:
    """``text`` with special characters shown, and where each original offset lands."""
    out: list[str] = []
    where = [0] * (len(text) + 1)
    pos = 0
    for i, ch in enumerate(text):
        where[i] = pos
        shown = visible(ch) if SPECIAL_RE.match(ch) else ch
        out.append(shown)
        pos += len(shown)
    where[len(text)] = pos
    return "".join(out), where


def marked_text(
    result: DocumentResult,
    spans: Sequence[Span],
    side: str,
    palette: EntityPalette,
    current: ScoredError | None,
) -> Content:
    """The document with ``spans`` (gold or predicted, ``side`` says which) highlighted in
    their type's colour, each erroneous span in its error kind's style, a label chip after
    each span, and the ``current`` error reversed."""
    doc = result.doc
    errors = result.score.errors if result.score is not None else ()
    kind_of: dict[Span, ErrorKind] = {}
    for error in errors:
        span = error.gold if side == "gold" else error.pred
        if span is not None:
            kind_of.setdefault(span, error.kind)
    here = {current.gold if side == "gold" else current.pred} if current is not None else set()
    text, where = _display(doc.text)
    pieces: list[Content] = []
    cursor = 0
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        start, end = char_span(doc, span)
        a, b = where[start], where[end]
        if a < cursor:  # overlapping spans (not produced by decoding): skip the later one
            continue
        pieces.append(Content(text[cursor:a]))
        kind = kind_of.get(span)
        colour = palette.colour(span.label)
        style = KIND_STYLES[kind] if kind else colour.text_style
        if span in here:
            style = style + CURRENT
        pieces.append(Content.styled(text[a:b], style))
        pieces.append(Content.styled(f" {span.label} ", colour.chip_style))
        cursor = b
    pieces.append(Content(text[cursor:]))
    return Content("").join(pieces)


def error_line(result: DocumentResult, error: ScoredError) -> Content:
    """``missed PER “Angela Merkel”`` or ``wrong type ORG → LOC “Paris”``."""
    doc = result.doc

    def quoted(span: Span | None) -> str:
        if span is None:
            return ""
        start, end = char_span(doc, span)
        return "“" + preview(doc.text[start:end], 30) + "”"

    gold, pred = error.gold, error.pred
    parts = [Content.styled(f" {KIND_NAMES[error.kind]} ", KIND_STYLES[error.kind]), Content(" ")]
    if gold is not None and pred is not None:
        labels = gold.label if gold.label == pred.label else f"{gold.label} → {pred.label}"
        parts.append(Content.styled(labels, BOLD))
        parts.append(Content(f" gold {quoted(gold)} · predicted {quoted(pred)}"))
    else:
        span = gold or pred
        assert span is not None
        parts.append(Content.styled(span.label, BOLD))
        parts.append(Content(" " + quoted(span)))
    return Content("").join(parts)


def _row(cells: Sequence[str], widths: Sequence[int], style: Style | None = None) -> Content:
    text = cells[0].ljust(widths[0])[: widths[0]] + "".join(
        c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)
    )
    return Content.styled(text, style) if style else Content(text)


def scores_table(scores: CorpusScores | None, width: int = 44) -> Content:
    """Per-type precision/recall/F1/support, the averages, the four schemes and error counts."""
    if scores is None:
        return Content.styled("No scores yet.", DIM)
    report = scores.report
    if not scores.results:
        return Content.styled("The corpus has no documents.", DIM)
    if report is None:
        lines = [
            Content.styled("No gold labels", BOLD),
            Content.styled("The corpus has no gold entities: nothing to score.", DIM),
            Content.styled("Documents are listed; s sorts by the model's lowest", DIM),
            Content.styled("confidence (the ones it is least sure of).", DIM),
        ]
        return Content("\n").join(lines)
    number_w = 8 if width >= 44 else 7  # narrow: 38 cells hold "weighted" and four numbers
    name_w = max(9, width - 3 * number_w - 8)
    widths = [name_w, number_w, number_w, number_w, 8]  # (8: " support")
    lines = [_row(["type", "P", "R", "F1", "support"], widths, BOLD)]
    averages = (("micro", report.micro), ("macro", report.macro), ("weighted", report.weighted))
    for name, row in (*sorted(report.per_type.items()), *averages):
        cells = [name, f"{row.precision:.3f}", f"{row.recall:.3f}", f"{row.f1:.3f}"]
        style = None if name in report.per_type else BOLD if name == "micro" else DIM
        lines.append(_row([*cells, str(row.support)], widths, style))
    lines.append(Content(""))
    lines.append(_row(["scheme", "P", "R", "F1", "correct"], widths, BOLD))
    for name, s in report.schemes.items():
        lines.append(
            _row(
                [name, f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f1:.3f}", str(s.correct)],
                widths,
            )
        )
    lines.append(Content(""))
    counts = [
        Content.styled(f" {KIND_NAMES[k]} {report.errors.get(k, 0)} ", KIND_STYLES[k])
        for k in ERROR_KINDS
    ]
    lines.append(packed(counts, width))
    return Content("\n").join(lines)


def curve_caption(scores: CorpusScores | None) -> Content:
    """What the threshold sparkline shows, the best threshold and the one in use."""
    if scores is None or scores.report is None:
        return Content("")
    best = scores.report.best_threshold
    return Content.assemble(
        ("F1 over thresholds 0 → 1 · best ", DIM),
        (f"{best.f1:.3f} at {best.threshold:.2f}", BOLD),
        (f" · now {scores.options.threshold:.2f}", DIM),
    )
