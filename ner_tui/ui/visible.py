"""The UI's name for ``ner_tui.core.visible``: the display rules live in the core, where the
HTML export uses them too; the widgets keep importing them from here."""

from __future__ import annotations

from ner_tui.core.visible import (
    SPECIAL_RE,
    TAB,
    OffsetMap,
    Segment,
    grapheme_bounds,
    visible,
    visible_text,
)

__all__ = [
    "SPECIAL_RE",
    "TAB",
    "OffsetMap",
    "Segment",
    "grapheme_bounds",
    "visible",
    "visible_text",
]
