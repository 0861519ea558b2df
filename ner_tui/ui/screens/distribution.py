"""Enter on a token: every label's probability for that token, as a bar chart."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.style import Style
from textual.widgets import Static

from ner_tui.core.labels import split_label
from ner_tui.core.types import Prediction
from ner_tui.core.visible import visible_text
from ner_tui.ui.palette import EntityPalette

BAR_WIDTH = 40
_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(fraction: float, width: int = BAR_WIDTH) -> str:
    """A horizontal bar ``fraction`` of ``width`` cells long, in eighths of a cell."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (_EIGHTHS[part] if part else "")).ljust(width)


def distribution_lines(
    prediction: Prediction, index: int, palette: EntityPalette, *, dark: bool = True
) -> list[Content]:
    """One line per label, most probable first: label, bar, probability."""
    scored = prediction.scored
    row = scored.probs[index]
    labels = scored.id2label
    chosen = prediction.tokens[index].label
    width = max(len(label) for label in labels)
    order = sorted(range(len(labels)), key=lambda i: -float(row[i]))
    lines = []
    for i in order:
        label = labels[i]
        _, kind = split_label(label)
        colour = palette.colour(kind).label_for(dark) if kind else Style(dim=True)
        mark = "◆ " if label == chosen else "  "
        lines.append(
            Content.assemble(
                (mark, Style(bold=True)),
                (label.ljust(width), Style(bold=label == chosen)),
                "  ",
                (bar(float(row[i])), colour),
                (f"  {float(row[i]):.4f}", Style(dim=float(row[i]) < 0.01)),
            )
        )
    return lines


class DistributionScreen(ModalScreen[None]):
    """The label distribution of one token (◆ marks the label the decoder gave it)."""

    BINDINGS = [  # noqa: RUF012
        Binding("escape,enter,q", "dismiss", "Close", id="distribution.close", tooltip="Close."),
    ]

    def __init__(self, prediction: Prediction, index: int, palette: EntityPalette) -> None:
        super().__init__()
        self.prediction = prediction
        self.index = index
        self.palette = palette

    def compose(self) -> ComposeResult:
        token = self.prediction.tokens[self.index]
        with VerticalScroll(id="distribution-dialog", classes="dialog") as box:
            box.border_title = Content(f"Token {token.index}: {visible_text(token.text)}")
            box.border_subtitle = "esc close"
            text = self.prediction.text
            word = visible_text(text[token.start : token.end]) if token.end > token.start else ""
            yield Static(
                Content.assemble(
                    ("label ", Style(dim=True)),
                    (token.label, Style(bold=True)),
                    ("  score ", Style(dim=True)),
                    f"{token.score:.4f}",
                    ("  text ", Style(dim=True)),
                    word or "(special token)",
                ),
                classes="help-intro",
            )
            dark = self.app.current_theme.dark
            lines = distribution_lines(self.prediction, self.index, self.palette, dark=dark)
            yield Static(Content("\n").join(lines), id="distribution-bars")
