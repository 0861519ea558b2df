"""F1: what the app does and every key, generated from the bindings."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.style import Style
from textual.widgets import Static

INTRO = (
    "ner-tui shows what a token-classification (NER) model sees: every token, its label and "
    "confidence, and the entities they add up to, drawn from exact character spans. Scores come "
    "from a vLLM-compatible /pooling server or the embedded local engine; changing aggregation, "
    "decoder or threshold re-decodes the same scores without a new request."
)
LEGEND = (
    "In the token table: ✗ marks a token the strict decoder rejected, ! a low-confidence token "
    "(below 0.50). In the text: ␛ → ␍ and ‹RLO›-style marks show control characters; ┆ marks "
    "where a long text was split into model windows."
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [  # noqa: RUF012
        Binding("escape,f1,q", "dismiss", "Close", id="help.close", tooltip="Close the help."),
    ]

    def __init__(self, keys: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.keys = keys  # (key, description, tooltip)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog", classes="dialog") as box:
            box.border_title = "ner-tui help"
            box.border_subtitle = "esc close"
            yield Static(Content(INTRO), classes="help-intro")
            width = max((len(k) for k, _, _ in self.keys), default=8) + 3
            rows = [
                Content.assemble(
                    (key.ljust(width), Style(bold=True)),
                    desc.ljust(20),
                    (tip, Style(dim=True)),
                )
                for key, desc, tip in self.keys
            ]
            yield Static(Content("\n").join(rows), id="help-keys")
            yield Static(Content.styled(LEGEND, Style(italic=True)), classes="help-intro")
