"""The text with entities highlighted: a Line API view that lays out only what it must.

The document is wrapped once per width and divided into per-line :class:`Content`; only the
visible lines are rendered, so a 20,000-token article scrolls as smoothly as a sentence.
"""

from __future__ import annotations

from bisect import bisect_right

from textual.cache import LRUCache
from textual.content import Content
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.style import Style

from ner_tui.core.visible import grapheme_bounds
from ner_tui.ui.document import EntityDocument, LineSlicer, wrap_lines
from ner_tui.ui.widgets.strip import content_strip

HIGHLIGHT = Style(reverse=True, bold=True, underline=True)


class EntityText(ScrollView, can_focus=True):
    """Shows an :class:`EntityDocument`; one range can be highlighted (a token or an entity)."""

    DEFAULT_CSS = """
    EntityText {
        background: $surface;
        padding: 0 1;
        overflow-x: hidden;
        scrollbar-gutter: stable;
        scrollbar-size-vertical: 1;
    }
    """
    BINDINGS = [  # noqa: RUF012
        ("up", "scroll_up", "Scroll up"),
        ("down", "scroll_down", "Scroll down"),
        ("pageup", "page_up", "Page up"),
        ("pagedown", "page_down", "Page down"),
        ("home", "scroll_home", "Top"),
        ("end", "scroll_end", "Bottom"),
    ]

    def __init__(self, placeholder: Content, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._document: EntityDocument | None = None
        self._placeholder = placeholder
        self._layout: list[tuple[int, int]] = []
        self._line_starts: list[int] = []
        self._slicer = LineSlicer(placeholder)
        self._line_cache: LRUCache[int, Content] = LRUCache(1024)
        self._layout_width = -1
        self._highlight: tuple[int, int] | None = None  # display offsets
        self._cache: LRUCache[tuple[int, int], Strip] = LRUCache(512)

    @property
    def document(self) -> EntityDocument | None:
        return self._document

    @property
    def line_count(self) -> int:
        return len(self._layout)

    @property
    def lines_plain(self) -> list[str]:
        """The laid-out lines as plain text (for tests and debugging)."""
        text = self._slicer.text
        return [text[s:e] for s, e in self._layout]

    def _line(self, index: int) -> Content:
        line = self._line_cache.get(index)
        if line is None:
            line = self._slicer.line(*self._layout[index])
            self._line_cache[index] = line
        return line

    def set_document(self, document: EntityDocument | None) -> None:
        self._document = document
        self._highlight = None
        self._layout_width = -1
        self._layout = []
        self._line_starts = []
        self._line_cache.clear()
        self._slicer = document.slicer if document else LineSlicer(self._placeholder)
        self._relayout()
        self.scroll_to(0, 0, animate=False)

    def highlight_original(self, start: int, end: int, *, scroll: bool = True) -> None:
        """Highlight original characters ``[start, end)`` and bring them into view."""
        if self._document is None:
            return
        start, end = grapheme_bounds(self._document.text, start, end)
        offsets = self._document.offsets
        d_start, d_end = offsets.start(start), offsets.end(end)
        if d_end <= d_start:  # an empty range (e.g. a special token): mark one cell
            d_end = d_start + 1
        self.highlight_display(d_start, d_end, scroll=scroll)

    def highlight_display(self, start: int, end: int, *, scroll: bool = True) -> None:
        self._highlight = (start, end)
        self._cache.clear()
        self.refresh()
        if scroll and self._line_starts:
            line = self._line_of(start)
            height = self.scrollable_content_region.height
            if not (self.scroll_y <= line < self.scroll_y + height):
                self.scroll_to(y=max(0, line - height // 3), animate=False)

    def _line_of(self, offset: int) -> int:
        return max(0, bisect_right(self._line_starts, offset) - 1)

    def on_resize(self) -> None:
        self._relayout()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    def _relayout(self) -> None:
        width = self.scrollable_content_region.width
        if width <= 0 or width == self._layout_width:
            return
        self._layout = wrap_lines(self._slicer.text, width)
        self._line_starts = [s for s, _ in self._layout]
        self._layout_width = width
        self._cache.clear()
        self._line_cache.clear()
        self.virtual_size = Size(width, len(self._layout))
        self.refresh()

    def render_line(self, y: int) -> Strip:
        index = y + round(self.scroll_offset.y)
        width = self.scrollable_content_region.width
        key = (index, width)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        base = self.visual_style
        if index >= len(self._layout):
            strip = Strip.blank(width, base.rich_style)
        else:
            line = self._line(index)
            if self._highlight is not None and self._document is not None:
                h_start, h_end = self._highlight
                start, end = self._layout[index]
                if h_start < end and h_end > start:
                    line = line.stylize(HIGHLIGHT, max(0, h_start - start), min(end, h_end) - start)
            strip = content_strip(line, base, width)
        self._cache[key] = strip
        return strip
