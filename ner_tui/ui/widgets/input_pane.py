"""The text input: a multi-line editor that says how to submit.

The text is kept exactly as typed or pasted (it is what gets predicted), but control characters
are drawn as visible glyphs: TextArea would otherwise write a pasted ``ESC [31m`` straight to
the terminal, which would obey it.
"""

from __future__ import annotations

import re

from rich.segment import Segment
from textual.strip import Strip
from textual.widgets import TextArea

from ner_tui.ui.visible import SPECIAL_RE


def _glyph(match: re.Match[str]) -> str:
    """One visible glyph per :data:`SPECIAL_RE` character (a tab is left as it is).

    TextArea lays lines out itself, so one character stays one character; columns after a
    zero-width control shift by one cell."""
    code = ord(match.group())
    if code == 0x09:
        return "\t"
    if code < 0x20:
        return chr(0x2400 + code)  # Control Pictures
    return "\u2421" if code == 0x7F else "\u00a4"


class InputPane(TextArea):
    """Where text is typed or pasted; the app binds ctrl+s / ctrl+enter to predict."""

    def __init__(self, text: str = "", *, id: str | None = None) -> None:
        super().__init__(
            text,
            id=id,
            soft_wrap=True,
            tab_behavior="focus",
            show_line_numbers=False,
            placeholder="Type or paste text here, then press ctrl+s to find its entities.",
        )

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        if not any(SPECIAL_RE.search(segment.text) for segment in strip):
            return strip
        segments = [
            Segment(SPECIAL_RE.sub(_glyph, segment.text), segment.style, segment.control)
            for segment in strip
        ]
        return Strip(segments).crop(0, strip.cell_length)
