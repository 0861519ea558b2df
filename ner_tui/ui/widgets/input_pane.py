"""The text input: a multi-line editor that says how to submit.

The text is kept exactly as typed or pasted (it is what gets predicted), but control characters
are drawn as visible glyphs: TextArea would otherwise write a pasted ``ESC [31m`` straight to
the terminal, which would obey it.
"""

from __future__ import annotations

from rich.segment import Segment
from textual.strip import Strip
from textual.widgets import TextArea

from ner_tui.ui.visible import SPECIAL_RE

# One visible glyph per control character (TextArea lays lines out itself, so one character
# stays one character; columns after a zero-width control shift by one cell).
_GLYPHS = {c: 0x2400 + c for c in range(0x20) if c not in (0x09, 0x0A)}
_GLYPHS |= {0x7F: 0x2421}
_GLYPHS |= {c: 0x00A4 for c in range(0x80, 0xA0)}
_GLYPHS |= {ord(c): 0x00A4 for c in "\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e"}
_GLYPHS |= {ord(c): 0x00A4 for c in "\u2066\u2067\u2068\u2069\ufeff\u2028\u2029"}


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
            Segment(segment.text.translate(_GLYPHS), segment.style, segment.control)
            for segment in strip
        ]
        return Strip(segments).crop(0, strip.cell_length)
