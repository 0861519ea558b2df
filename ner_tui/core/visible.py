"""Text is data: make invisible and control characters visible, and keep grapheme clusters whole.

Pure functions (no widgets), so the highlighted view's mapping from original character offsets to
display offsets can be tested on its own. In the core because the app (``ui/document.py``) and the
HTML export (``core/html.py``) show the same symbols.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from typing import NamedTuple

_BIDI = {
    "\u200e": "‹LRM›",
    "\u200f": "‹RLM›",
    "\u202a": "‹LRE›",
    "\u202b": "‹RLE›",
    "\u202c": "‹PDF›",
    "\u202d": "‹LRO›",
    "\u202e": "‹RLO›",
    "\u2066": "‹LRI›",
    "\u2067": "‹RLI›",
    "\u2068": "‹FSI›",
    "\u2069": "‹PDI›",
    "\u200b": "‹ZWSP›",
    "\ufeff": "‹BOM›",
}
_LINE_SEPARATORS = {"\u2028", "\u2029", "\x85"}
# Everything replaced for display: C0 controls except newline, DEL, C1 controls, bidi controls,
# zero-width space/BOM, Unicode line separators.
SPECIAL_RE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff]"
)
TAB = "→   "


def visible(ch: str) -> str:
    """The display form of one special character (see :data:`SPECIAL_RE`)."""
    if ch == "\t":
        return TAB
    if ch in _LINE_SEPARATORS:
        return "⏎\n"
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # Control Pictures: ␛ ␀ ␍ ...
    if code == 0x7F:
        return "␡"
    if 0x80 <= code <= 0x9F:
        return f"‹{code:02X}›"
    return _BIDI.get(ch, "�")


def visible_text(text: str) -> str:
    """``text`` with every special character replaced by its display form (for table cells)."""
    return SPECIAL_RE.sub(lambda m: visible(m.group()), text).replace("\n", "⏎")


class Segment(NamedTuple):
    """A piece of the display string: ``orig`` characters became ``disp`` characters.

    kind: ``"text"`` (copied 1:1), ``"special"`` (one character made visible), ``"insert"``
    (display-only, e.g. a label chip: no original characters)."""

    orig_start: int
    orig_end: int
    disp_start: int
    disp_end: int
    kind: str


class OffsetMap:
    """Maps original character offsets to display offsets across replacements and insertions."""

    def __init__(self, segments: list[Segment]) -> None:
        self._segments = [s for s in segments if s.kind != "insert"]
        self._starts = [s.orig_start for s in self._segments]
        self._ends = [s.orig_end for s in self._segments]
        self.display_length = segments[-1].disp_end if segments else 0

    def start(self, offset: int) -> int:
        """Display offset where the original character at ``offset`` begins."""
        i = bisect_right(self._starts, offset) - 1
        if i < 0:
            return 0
        seg = self._segments[i]
        if offset >= seg.orig_end:
            return seg.disp_end
        if seg.kind == "text":
            return seg.disp_start + offset - seg.orig_start
        return seg.disp_start

    def end(self, offset: int) -> int:
        """Display offset just after the original character at ``offset - 1`` (exclusive end)."""
        if offset <= 0:
            return self.start(0) if self._segments else 0
        i = bisect_right(self._starts, offset - 1) - 1
        if i < 0:
            return 0
        seg = self._segments[i]
        if seg.kind == "text":
            return seg.disp_start + min(offset, seg.orig_end) - seg.orig_start
        return seg.disp_end


def grapheme_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen ``[start, end)`` so it neither starts nor ends inside a grapheme cluster.

    Byte-level tokenizers can split an emoji ZWJ sequence or a flag between tokens; drawing a
    style change there breaks the glyph in the terminal.
    """
    n = len(text)
    start = max(0, min(start, n))
    end = max(start, min(end, n))
    while 0 < start < n and _joins(text, start):
        start -= 1
    while 0 < end < n and _joins(text, end):
        end += 1
    return start, end


def _joins(text: str, i: int) -> bool:
    """True when the character at ``i`` continues the cluster of the one before it."""
    ch, prev = text[i], text[i - 1]
    if ch < "\u0300" and prev < "\u0300":  # nothing below combining marks joins, but CR LF
        return prev == "\r" and ch == "\n"
    code = ord(ch)
    if prev == "\r" and ch == "\n":
        return True
    if prev == "\u200d" or ch == "\u200d":  # zero-width joiner
        return True
    if 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF:  # variation selectors
        return True
    if 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F:  # skin tones, tag sequences
        return True
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Mc"):
        return True
    if _is_regional(ch) and _is_regional(prev):
        # Flags pair up regional indicators from the start of the run.
        run = 0
        j = i - 1
        while j >= 0 and _is_regional(text[j]):
            run += 1
            j -= 1
        return run % 2 == 1
    return False


def _is_regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF
