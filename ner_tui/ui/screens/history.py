"""Past inputs: enter re-runs one, delete removes it, ctrl+l clears them all."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.style import Style
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ner_tui.core.visible import visible_text
from ner_tui.ui.history import History


class HistoryScreen(ModalScreen[str | None]):
    """Dismisses with the chosen text (to re-run), or None."""

    BINDINGS = [  # noqa: RUF012
        Binding("escape", "dismiss(None)", "Close", id="history.close", tooltip="Close."),
        Binding("delete", "remove", "Remove", id="history.remove", tooltip="Forget this entry."),
        Binding("ctrl+l", "clear", "Clear all", id="history.clear", tooltip="Forget all entries."),
    ]

    def __init__(self, history: History) -> None:
        super().__init__()
        self.history = history

    def compose(self) -> ComposeResult:
        with Vertical(id="history-dialog", classes="dialog") as box:
            box.border_title = "History"
            box.border_subtitle = "enter re-run · del remove · ctrl+l clear · esc close"
            yield OptionList(id="history-list")

    def on_mount(self) -> None:
        self._fill()

    def _fill(self) -> None:
        options = self.query_one("#history-list", OptionList)
        options.clear_options()
        if not len(self.history):
            options.add_option(
                Option(
                    Content.styled(
                        "Nothing yet: predictions you run appear here.",
                        Style(dim=True, italic=True),
                    ),
                    disabled=True,
                )
            )
            return
        now = time.time()
        for entry in self.history:
            title = visible_text(entry.title)
            if len(title) > 60:
                title = title[:59] + "…"
            age = _age(now - entry.when)
            options.add_option(
                Option(
                    Content.assemble(
                        title.ljust(61),
                        (
                            f"{entry.entities:>3} ent · {entry.tokens:>5} tok · {age}",
                            Style(dim=True),
                        ),
                    )
                )
            )
        options.highlighted = 0

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if len(self.history):
            self.dismiss(self.history[event.option_index].text)

    def action_remove(self) -> None:
        options = self.query_one("#history-list", OptionList)
        if options.highlighted is not None and len(self.history):
            self.history.remove(options.highlighted)
            self._fill()

    def action_clear(self) -> None:
        self.history.clear()
        self._fill()
        self.notify("History cleared.", markup=False)


def _age(seconds: float) -> str:
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    return f"{int(seconds // 3600)} h ago"
