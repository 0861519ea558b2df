"""Entity colours: one palette, legible in every built-in theme (the table is ``core.colours``).

Entities are drawn as a light background with dark text and the label chip as a darker shade of
the same hue with white text, so neither depends on the theme's own foreground/background.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from textual.color import Color
from textual.style import Style

from ner_tui.core import colours
from ner_tui.core.colours import entity_types

if TYPE_CHECKING:
    from textual.widget import Widget

__all__ = ["EntityColour", "EntityPalette", "contrast", "entity_types", "on_dark_theme"]

_DARK_TEXT = Color.parse(colours.DARK_TEXT)
_LIGHT_TEXT = Color.parse(colours.LIGHT_TEXT)


class EntityColour:
    """The styles one entity type is drawn with (built once: documents use them per entity)."""

    __slots__ = ("chip", "chip_style", "hue", "label_style", "label_style_light", "text_style")

    def __init__(self, hue: Color, chip: Color) -> None:
        self.hue = hue
        self.chip = chip
        self.text_style = Style(background=hue, foreground=_DARK_TEXT)
        self.chip_style = Style(background=chip, foreground=_LIGHT_TEXT, bold=True)
        # For a label written on the theme's own background (table, sidebar): the light hue on
        # dark themes, the dark chip shade on light ones (contrast >= 3:1, bold, in every
        # built-in theme; tests/test_ui_document.py checks).
        self.label_style = Style(foreground=hue, bold=True)
        self.label_style_light = Style(foreground=chip, bold=True)

    def label_for(self, dark: bool) -> Style:
        return self.label_style if dark else self.label_style_light

    @property
    def hex(self) -> str:
        return self.hue.hex


def _colour(index: int) -> EntityColour:
    return EntityColour(hue=Color.parse(colours.hue(index)), chip=Color.parse(colours.chip(index)))


class EntityPalette:
    """Maps entity types to colours, stable for one model's label set (slots: ``core.colours``)."""

    def __init__(self, types: Iterable[str] = ()) -> None:
        self._map: dict[str, EntityColour] = {}
        self._slots = colours.ColourSlots()
        for name in types:
            self.colour(name)

    def colour(self, entity_type: str) -> EntityColour:
        found = self._map.get(entity_type)
        if found is None:
            found = self._map[entity_type] = _colour(self._slots.slot(entity_type))
        return found

    @property
    def types(self) -> list[str]:
        return list(self._map)


def on_dark_theme(widget: Widget) -> bool:
    """Whether ``widget`` is drawn on a dark theme (picks :meth:`EntityColour.label_for`)."""
    return widget.app.current_theme.dark if widget.is_attached else True


def contrast(a: Color, b: Color) -> float:
    """WCAG 2 contrast ratio between two opaque colours (1 to 21)."""

    def luminance(c: Color) -> float:
        def channel(v: int) -> float:
            x = v / 255
            return x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4

        return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b)

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)
