"""ctrl+f: a word or phrase to find in the predicted text (Enter finds the next match)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input


class SearchScreen(ModalScreen[str | None]):
    """Dismisses with the text to find (case-insensitive), or None."""

    BINDINGS = [  # noqa: RUF012
        Binding("escape", "dismiss(None)", "Close", id="search.close", tooltip="Close."),
    ]

    def __init__(self, query: str = "") -> None:
        super().__init__()
        self.query_text = query

    def compose(self) -> ComposeResult:
        with Vertical(id="search-dialog", classes="dialog") as box:
            box.border_title = "Find in the text"
            box.border_subtitle = "enter find next · esc close"
            yield Input(self.query_text, placeholder="A word or phrase", id="search-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value if event.value.strip() else None)
