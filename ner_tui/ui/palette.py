"""Entity colours: one palette, legible in every built-in theme.

Entities are drawn as a light background with dark text and the label chip as a darker shade of
the same hue with white text, so neither depends on the theme's own foreground/background.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from textual.color import Color
from textual.style import Style

from ner_tui.core.labels import split_label

if TYPE_CHECKING:
    from textual.widget import Widget

# Light, distinct hues; dark text on each stays above WCAG AA contrast.
_HUES: tuple[str, ...] = (
    "#8ecae6",  # sky
    "#ffc861",  # amber
    "#95d5b2",  # mint
    "#c8b6ff",  # lavender
    "#f4a3c0",  # pink
    "#ffb4a2",  # coral
    "#b5e48c",  # lime
    "#9bf6ff",  # cyan
    "#e9c46a",  # sand
    "#ffc6ff",  # orchid
    "#caf0f8",  # ice
    "#d4a373",  # tan
)
# Familiar types always get the same colour, whatever the model's label order.
_PREFERRED: dict[str, int] = {
    "PER": 0,
    "PERSON": 0,
    "ORG": 1,
    "ORGANIZATION": 1,
    "LOC": 2,
    "LOCATION": 2,
    "GPE": 2,
    "MISC": 3,
    "DATE": 4,
    "TIME": 5,
    "MONEY": 6,
    "NORP": 7,
}
_DARK_TEXT = Color.parse("#111111")
_LIGHT_TEXT = Color.parse("#ffffff")


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
    hue = Color.parse(_HUES[index % len(_HUES)])
    # Past the first round, shift lightness so repeated hues stay distinguishable.
    if index >= len(_HUES):
        hue = hue.darken(0.12 * (index // len(_HUES)))
    return EntityColour(hue=hue, chip=hue.darken(0.45))


class EntityPalette:
    """Maps entity types to colours, stable for one model's label set."""

    def __init__(self, types: Iterable[str] = ()) -> None:
        self._map: dict[str, EntityColour] = {}
        self._used: set[int] = set()
        for name in types:
            self.colour(name)

    def colour(self, entity_type: str) -> EntityColour:
        found = self._map.get(entity_type)
        if found is not None:
            return found
        index = _PREFERRED.get(entity_type.upper())
        if index is None or index in self._used:
            index = next(i for i in range(10_000) if i not in self._used)
        self._used.add(index)
        found = self._map[entity_type] = _colour(index)
        return found

    @property
    def types(self) -> list[str]:
        return list(self._map)


def on_dark_theme(widget: Widget) -> bool:
    """Whether ``widget`` is drawn on a dark theme (picks :meth:`EntityColour.label_for`)."""
    return widget.app.current_theme.dark if widget.is_attached else True


def entity_types(labels: Iterable[str]) -> list[str]:
    """Entity types of a label set, in first-seen order (``B-PER``, ``I-PER`` -> ``PER``)."""
    seen: dict[str, None] = {}
    for label in labels:
        _, kind = split_label(label)
        if kind:
            seen.setdefault(kind, None)
    return list(seen)


def contrast(a: Color, b: Color) -> float:
    """WCAG 2 contrast ratio between two opaque colours (1 to 21)."""

    def luminance(c: Color) -> float:
        def channel(v: int) -> float:
            x = v / 255
            return x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4

        return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b)

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)
