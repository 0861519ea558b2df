"""The model's entity types as coloured chips, so colours mean something at a glance."""

from __future__ import annotations

from textual.content import Content
from textual.style import Style
from textual.widgets import Static

from ner_tui.ui.palette import EntityPalette


class Legend(Static):
    """One chip per entity type the loaded model can predict."""

    DEFAULT_CSS = """
    Legend { height: auto; padding: 0 1; }
    """

    def show_palette(self, palette: EntityPalette) -> None:
        types = palette.types
        if not types:
            self.update(Content.styled("no model loaded", Style(dim=True, italic=True)))
            return
        parts: list[Content | str | tuple[str, Style]] = []
        for name in types:
            parts.append((f" {name} ", palette.colour(name).chip_style))
            parts.append(" ")
        self.update(Content.assemble(*parts))
