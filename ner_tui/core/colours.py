"""Entity colours: the one table the app's palette and the HTML export both draw from.

Each entity type gets a light hue (the highlight, under dark text) and a darker shade of it (the
label chip, under white text). Familiar types keep their colour whatever the model's label order;
other types take the next free hue, and past the first round of hues the lightness shifts so
repeats stay distinguishable. Colours are ``#rrggbb`` strings here; the UI parses them into
Textual colours (``ui/palette.py``), the HTML export writes them into CSS (``core/html.py``).

Darkening is Textual's own (CIE L*a*b* lightness, integer channels, clamped), ported here so the
core needs no Textual and a page shows exactly the app's colours; a UI test compares the two.
"""

from __future__ import annotations

from collections.abc import Iterable

from ner_tui.core.labels import split_label

# Light, distinct hues; dark text on each stays above WCAG AA contrast. The first six also stay
# apart in a 256-colour terminal (highlight and chip map to different xterm colours: PER blue
# 153/24, LOC green 114/22; sky and mint both became 116/23 before) and for red-green colour
# blindness (blue against green, amber against lavender); the label chip names the type anyway.
HUES: tuple[str, ...] = (
    "#a0c4ff",  # blue
    "#ffc861",  # amber
    "#9be39b",  # green
    "#c8b6ff",  # lavender
    "#f4a3c0",  # pink
    "#ff9f7a",  # orange
    "#b5e48c",  # lime
    "#9bf6ff",  # cyan
    "#e9c46a",  # sand
    "#ffc6ff",  # orchid
    "#caf0f8",  # ice
    "#d4a373",  # tan
)
# Familiar types always get the same colour, whatever the model's label order.
PREFERRED: dict[str, int] = {
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
DARK_TEXT = "#111111"  # on the light hue
LIGHT_TEXT = "#ffffff"  # on the dark chip
CHIP_DARKEN = 0.45  # the chip is the hue this much darker
ROUND_DARKEN = 0.12  # each further round of hues is this much darker

RGB = tuple[int, int, int]


def parse_hex(colour: str) -> RGB:
    """``#rrggbb`` to integer channels."""
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def to_hex(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def darken(colour: str, amount: float) -> str:
    """``colour`` with its L*a*b* lightness lowered by ``amount`` (0-1), as Textual's ``darken``."""
    r, g, b = (c / 255 for c in parse_hex(colour))
    r = pow((r + 0.055) / 1.055, 2.4) if r > 0.04045 else r / 12.92
    g = pow((g + 0.055) / 1.055, 2.4) if g > 0.04045 else g / 12.92
    b = pow((b + 0.055) / 1.055, 2.4) if b > 0.04045 else b / 12.92
    x = (r * 41.24 + g * 35.76 + b * 18.05) / 95.047
    y = (r * 21.26 + g * 71.52 + b * 7.22) / 100
    z = (r * 1.93 + g * 11.92 + b * 95.05) / 108.883
    off = 16 / 116
    x = pow(x, 1 / 3) if x > 0.008856 else 7.787 * x + off
    y = pow(y, 1 / 3) if y > 0.008856 else 7.787 * y + off
    z = pow(z, 1 / 3) if z > 0.008856 else 7.787 * z + off
    lightness, a_star, b_star = 116 * y - 16, 500 * (x - y), 200 * (y - z)
    lightness -= amount * 100

    y = (lightness + 16) / 116
    x = a_star / 500 + y
    z = y - b_star / 200
    y = pow(y, 3) if y > 0.2068930344 else (y - off) / 7.787
    x = 0.95047 * pow(x, 3) if x > 0.2068930344 else 0.122059 * (x - off)
    z = 1.08883 * pow(z, 3) if z > 0.2068930344 else 0.139827 * (z - off)
    r = x * 3.2406 + y * -1.5372 + z * -0.4986
    g = x * -0.9689 + y * 1.8758 + z * 0.0415
    b = x * 0.0557 + y * -0.2040 + z * 1.0570
    r = 1.055 * pow(r, 1 / 2.4) - 0.055 if r > 0.0031308 else 12.92 * r
    g = 1.055 * pow(g, 1 / 2.4) - 0.055 if g > 0.0031308 else 12.92 * g
    b = 1.055 * pow(b, 1 / 2.4) - 0.055 if b > 0.0031308 else 12.92 * b
    channels = (int(r * 255), int(g * 255), int(b * 255))
    clamped = (max(0, min(255, c)) for c in channels)
    return to_hex(tuple(clamped))  # type: ignore[arg-type]


def hue(index: int) -> str:
    """The highlight colour of palette slot ``index``."""
    base = HUES[index % len(HUES)]
    rounds = index // len(HUES)
    return darken(base, ROUND_DARKEN * rounds) if rounds else base


def chip(index: int) -> str:
    """The label chip colour of palette slot ``index``: its hue, darker."""
    return darken(hue(index), CHIP_DARKEN)


class ColourSlots:
    """Entity types to palette slots, stable for one label set (first come, first served)."""

    def __init__(self, types: Iterable[str] = ()) -> None:
        self._slots: dict[str, int] = {}
        self._used: set[int] = set()
        for name in types:
            self.slot(name)

    def slot(self, entity_type: str) -> int:
        found = self._slots.get(entity_type)
        if found is not None:
            return found
        index = PREFERRED.get(entity_type.upper())
        if index is None or index in self._used:
            index = next(i for i in range(10_000) if i not in self._used)
        self._used.add(index)
        self._slots[entity_type] = index
        return index

    @property
    def types(self) -> list[str]:
        return list(self._slots)


def entity_types(labels: Iterable[str]) -> list[str]:
    """Entity types of a label set, in first-seen order (``B-PER``, ``I-PER`` -> ``PER``)."""
    seen: dict[str, None] = {}
    for label in labels:
        _, kind = split_label(label)
        if kind:
            seen.setdefault(kind, None)
    return list(seen)


__all__ = [
    "DARK_TEXT",
    "HUES",
    "LIGHT_TEXT",
    "PREFERRED",
    "ColourSlots",
    "chip",
    "darken",
    "entity_types",
    "hue",
]
