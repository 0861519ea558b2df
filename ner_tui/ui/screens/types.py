"""F10: which entity types the view shows; the rest are hidden (and left out of exports)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import SelectionList
from textual.widgets.selection_list import Selection

from ner_tui.ui.palette import EntityPalette


class TypesScreen(ModalScreen[frozenset[str] | None]):
    """A checklist of the model's entity types; Escape or Enter closes with the hidden set."""

    BINDINGS = [  # noqa: RUF012
        Binding("escape", "done", "Done", id="types.done", tooltip="Close and apply."),
        Binding("a", "all", "Show all", id="types.all", tooltip="Show every type again."),
    ]

    def __init__(self, types: list[str], hidden: frozenset[str], palette: EntityPalette) -> None:
        super().__init__()
        self.types = types
        self.hidden = hidden
        self.palette = palette

    def compose(self) -> ComposeResult:
        with Vertical(id="types-dialog", classes="dialog") as box:
            box.border_title = "Entity types shown"
            box.border_subtitle = "space toggle · a show all · esc done"
            yield SelectionList[str](
                *[
                    Selection(
                        Content.styled(f" {name} ", self.palette.colour(name).chip_style),
                        name,
                        name not in self.hidden,
                    )
                    for name in self.types
                ],
                id="types-list",
            )

    def _hidden_now(self) -> frozenset[str]:
        shown = set(self.query_one("#types-list", SelectionList).selected)
        return frozenset(name for name in self.types if name not in shown)

    def action_all(self) -> None:
        self.query_one("#types-list", SelectionList).select_all()

    def action_done(self) -> None:
        self.dismiss(self._hidden_now())
