"""One line of :class:`Content` drawn as a :class:`Strip`, for the Line API views."""

from __future__ import annotations

from rich.segment import Segment
from textual.content import Content
from textual.strip import Strip
from textual.style import Style


def content_strip(content: Content, base: Style, width: int) -> Strip:
    """``content`` rendered over ``base``, padded and cropped to exactly ``width`` cells."""
    segments = [
        Segment(text, style.rich_style if style else None)
        for text, style in content.render(base, end="")
    ]
    return Strip(segments).extend_cell_length(width, base.rich_style).crop(0, width)
