"""The compare view's widgets: the text with each entity marked by how A and B agree, the
disagreement list, and the word table with both sides' labels and confidences.

Everything is built from character spans into :class:`Content` (text is data, never markup);
control characters are shown as visible symbols, as in the main view.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.color import Color
from textual.content import Content
from textual.style import Style
from textual.widgets import DataTable, OptionList, Static
from textual.widgets.option_list import Option

from ner_tui.core.compare import DIFF_KINDS, KIND_NAMES, Comparison, DiffKind, EntityDiff, Mention
from ner_tui.core.visible import visible_text

#: The background of each kind: six hues told apart in every built-in theme (the themes' own
#: variables collide: textual-dark's warning and accent are the same orange), drawn
#: translucent so the theme's text colour stays legible on light and dark backgrounds.
KIND_COLOURS: dict[DiffKind, tuple[str, float]] = {
    "both": ("#4EBF71", 0.35),
    "only_a": ("#3B82F6", 0.55),
    "only_b": ("#A855F7", 0.55),
    "other_type": ("#F59E0B", 0.50),
    "other_bounds": ("#06B6D4", 0.45),
    "other_bounds_and_type": ("#EF4444", 0.45),
}
CHIP = Style(dim=True, italic=True)
MAX_WORDS = 5000


def kind_styles() -> dict[DiffKind, Style]:
    """The style of each kind's span (bold for the disagreements)."""
    return {
        kind: Style(background=Color.parse(hue).with_alpha(alpha), bold=kind != "both")
        for kind, (hue, alpha) in KIND_COLOURS.items()
    }


def _labels(diff: EntityDiff) -> str:
    a, b = diff.a, diff.b
    if diff.kind == "both" and a is not None:
        return a.label
    if a is not None and b is not None:
        return f"A {a.label} · B {b.label}" if a.label != b.label else f"A/B {a.label}"
    side, mention = ("A", a) if a is not None else ("B", b)
    return f"{side} {mention.label if mention else ''}"


def compare_content(comparison: Comparison, styles: Mapping[DiffKind, Style]) -> Content:
    """The text once, each entity (the union of A's and B's spans) styled by its kind and
    followed by a chip with the labels ("A PER · B ORG")."""
    text = comparison.text
    parts: list[Content] = []
    at = 0
    for diff in sorted(comparison.entities, key=lambda d: (d.start, d.end)):
        start, end = max(diff.start, at), diff.end
        if start > at:
            parts.append(Content(visible_text(text[at:start])))
        if end > start:
            parts.append(Content(visible_text(text[start:end])).stylize(styles[diff.kind]))
            at = end
        parts.append(Content.styled(f" ⟨{_labels(diff)}⟩", CHIP))
    parts.append(Content(visible_text(text[at:])))
    return Content("").join(parts)


def legend(styles: Mapping[DiffKind, Style], counts: Mapping[DiffKind, int]) -> Content:
    """One line per kind: a swatch in its style, its name, how many."""
    lines = [
        Content.assemble(
            (" ■ ", styles[kind]), f" {KIND_NAMES[kind]} ", (str(counts.get(kind, 0)), "bold")
        )
        for kind in DIFF_KINDS
    ]
    return Content("\n").join(lines)


def _mention(m: Mention | None, text: str, quoted: bool = False) -> str:
    """``PER 0.98``, or with ``quoted`` the side's own text first (when bounds differ)."""
    if m is None:
        return "–"
    score = f" {m.score:.2f}" if m.score is not None else ""
    words = visible_text(text[m.start : m.end])
    words = words if len(words) <= 18 else words[:17] + "…"
    return f"“{words}” {m.label}{score}" if quoted else f"{m.label}{score}"


def disagreement_prompt(diff: EntityDiff, text: str, styles: Mapping[DiffKind, Style]) -> Content:
    """One row of the sidebar: the kind, the text, A's and B's label and score."""
    span = visible_text(text[diff.start : diff.end])
    if len(span) > 28:
        span = span[:27] + "…"
    return Content.assemble(
        (f"{KIND_NAMES[diff.kind]}", styles[diff.kind]),
        "\n",
        (span, "bold"),
        "\n",
        *_sides(diff, text),
    )


def _sides(diff: EntityDiff, text: str) -> list[tuple[str, Style] | str]:
    """A's and B's label and score on one line, or each on its own line with its own text
    when their bounds differ."""
    if diff.kind in ("other_bounds", "other_bounds_and_type"):
        return [
            (f"A {_mention(diff.a, text, quoted=True)}", CHIP),
            "\n",
            (f"B {_mention(diff.b, text, quoted=True)}", CHIP),
        ]
    return [(f"A {_mention(diff.a, text)}  ·  B {_mention(diff.b, text)}", CHIP)]


class CompareText(Static):
    """The text with every entity marked by kind; :meth:`show` sets it."""

    def show(self, comparison: Comparison | None, styles: Mapping[DiffKind, Style]) -> None:
        if comparison is None:
            self.update(Content.styled("Comparing…", CHIP))
            return
        self.update(compare_content(comparison, styles))


class DisagreementList(OptionList):
    """Every entity, disagreements first; selecting one highlights its words in the table."""

    def show(self, comparison: Comparison, styles: Mapping[DiffKind, Style]) -> None:
        self.clear_options()
        self.diffs = comparison.entities
        self.add_options(
            [
                Option(disagreement_prompt(d, comparison.text, styles), id=str(k))
                for k, d in enumerate(comparison.entities)
            ]
        )


class CompareWords(DataTable[Text]):
    """One row per word: A's label and confidence beside B's, differing rows marked.

    Cells are rich ``Text`` (a plain string cell would be read as markup)."""

    def show(self, comparison: Comparison) -> None:
        """The first :data:`MAX_WORDS` words (a DataTable of tens of thousands of rows takes
        seconds to fill; the disagreements list covers the whole text)."""
        self.clear(columns=True)
        self.add_columns("", "word", "A", "A conf", "B", "B conf")
        for k, word in enumerate(comparison.words[:MAX_WORDS]):
            differ = not word.agree
            bold = "bold" if differ else ""
            self.add_row(
                Text("≠" if differ else "", style="bold"),
                Text(visible_text(word.text), style=bold),
                Text(word.a_label, style=bold),
                Text("" if word.a_score is None else f"{word.a_score:.2f}", justify="right"),
                Text(word.b_label, style=bold),
                Text("" if word.b_score is None else f"{word.b_score:.2f}", justify="right"),
                key=str(k),
            )

    def select_span(self, comparison: Comparison, start: int, end: int) -> None:
        """Move the cursor to the first word of ``[start, end)`` (when it is in the table)."""
        for k, word in enumerate(comparison.words[:MAX_WORDS]):
            if word.end > start and word.start < end:
                self.move_cursor(row=k)
                return
