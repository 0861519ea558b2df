"""The highlighted text as a :class:`Content` built from exact character spans, and its line layout.

Entities are styled by span (never by searching strings), the label chip is inserted after each
entity, control characters become visible glyphs, and chunk edges get a marker. Everything here is
pure so it can be built off the event loop and tested without a terminal.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass

import numpy as np
from rich.cells import cell_len
from textual.content import Content, Span
from textual.style import Style

from ner_tui.core.types import DecodeOptions, Prediction, ScoredText
from ner_tui.core.visible import SPECIAL_RE, OffsetMap, Segment, grapheme_bounds, visible
from ner_tui.ui.palette import EntityPalette

SPECIAL_STYLE = Style(dim=True, italic=True)
CHUNK_MARK = "┆"
CHUNK_STYLE = Style(bold=True, dim=True)
NBSP = "\u00a0"


@dataclass(frozen=True, eq=False)
class EntityDocument:
    """What the text view draws: the content, and where original offsets landed in it."""

    content: Content
    offsets: OffsetMap
    entity_spans: tuple[tuple[int, int], ...]  # display span of each entity's text (no chip)
    slicer: LineSlicer
    text: str  # the original text


@dataclass(frozen=True, eq=False)
class LaidOut:
    """A document and the label setting it was built with (built in a worker thread)."""

    document: EntityDocument
    show_labels: bool
    hidden_types: frozenset[str] = frozenset()


def chunk_edges(prediction: Prediction) -> list[int]:
    """Character offsets where the kept rows switch from one chunk's window to the next."""
    scored = prediction.scored
    if len(scored.chunks) <= 1:
        return []
    kept = ~scored.special
    chunks = scored.chunk_of[kept]
    starts = scored.offsets[kept, 0]
    switches = np.flatnonzero(chunks[1:] != chunks[:-1]) + 1
    return [int(start) for start in starts[switches]]


def build_document(
    prediction: Prediction, palette: EntityPalette, *, show_labels: bool = True
) -> EntityDocument:
    """Lay the prediction's text out with every entity styled in its type's colour."""
    text = prediction.text
    pieces: list[str] = []
    spans: list[Span] = []
    segments: list[Segment] = []
    disp = 0

    has_special = SPECIAL_RE.search(text) is not None

    def emit_text(a: int, b: int) -> None:
        nonlocal disp
        if not has_special:
            if b > a:
                emit_plain(a, b)
            return
        pos = a
        for m in SPECIAL_RE.finditer(text, a, b):
            if m.start() > pos:
                emit_plain(pos, m.start())
            shown = visible(m.group())
            pieces.append(shown)
            spans.append(Span(disp, disp + len(shown.rstrip("\n")), SPECIAL_STYLE))
            segments.append(Segment(m.start(), m.end(), disp, disp + len(shown), "special"))
            disp += len(shown)
            pos = m.end()
        if b > pos:
            emit_plain(pos, b)

    def emit_plain(a: int, b: int) -> None:
        nonlocal disp
        pieces.append(text[a:b])
        segments.append(Segment(a, b, disp, disp + b - a, "text"))
        disp += b - a

    def emit_insert(at: int, shown: str, style: Style) -> None:
        nonlocal disp
        pieces.append(shown)
        spans.append(Span(disp, disp + len(shown), style))
        segments.append(Segment(at, at, disp, disp + len(shown), "insert"))
        disp += len(shown)

    edges = chunk_edges(prediction)
    edge_i = 0
    pos = 0
    entity_spans: list[tuple[int, int]] = []
    for entity in prediction.entities:
        start, end = grapheme_bounds(text, entity.start, entity.end)
        start = max(start, pos)
        if end <= start:
            entity_spans.append((disp, disp))
            continue
        while edge_i < len(edges) and edges[edge_i] <= start:
            if edges[edge_i] >= pos:
                emit_text(pos, edges[edge_i])
                pos = edges[edge_i]
                emit_insert(pos, CHUNK_MARK, CHUNK_STYLE)
            edge_i += 1
        emit_text(pos, start)
        colour = palette.colour(entity.label)
        d_start = disp
        emit_text(start, end)
        spans.append(Span(d_start, disp, colour.text_style))
        entity_spans.append((d_start, disp))
        if show_labels:
            emit_insert(end, f"{NBSP}{entity.label}{NBSP}", colour.chip_style)
        pos = end
    for edge in edges[edge_i:]:
        if edge >= pos:
            emit_text(pos, edge)
            pos = edge
            emit_insert(pos, CHUNK_MARK, CHUNK_STYLE)
    emit_text(pos, len(text))
    if not segments:
        segments.append(Segment(0, 0, 0, 0, "text"))
    content = Content("".join(pieces), spans, strip_control_codes=False)
    return EntityDocument(
        content, OffsetMap(segments), tuple(entity_spans), LineSlicer(content), text
    )


_CHUNK_RE = re.compile(r"[^ ]+ *| +")


def wrap_lines(plain: str, width: int) -> list[tuple[int, int]]:
    """Split a display string into ``(start, end)`` lines of at most ``width`` cells.

    Breaks only at ASCII spaces (so a label chip joined by NBSP stays with its entity) and at
    newlines; a word wider than the line is folded.
    """
    width = max(width, 4)
    lines: list[tuple[int, int]] = []
    line_start = 0
    for logical in plain.split("\n"):
        end_of_logical = line_start + len(logical)
        if not logical:
            lines.append((line_start, line_start))
            line_start = end_of_logical + 1
            continue
        if logical.isascii() and len(logical) <= width:
            lines.append((line_start, end_of_logical))
            line_start = end_of_logical + 1
            continue
        start = line_start
        col = 0
        for m in _CHUNK_RE.finditer(logical):
            word = m.group()
            stripped = word.rstrip(" ")
            w = cell_len(stripped)
            if col and col + w > width:
                lines.append((start, line_start + m.start()))
                start = line_start + m.start()
                col = 0
            if w > width:  # fold a word that is wider than a line
                for i, ch in enumerate(stripped):
                    cw = cell_len(ch)
                    if col + cw > width and col:
                        lines.append((start, line_start + m.start() + i))
                        start = line_start + m.start() + i
                        col = 0
                    col += cw
                col += len(word) - len(stripped)
            else:
                col += w + len(word) - len(stripped)
        lines.append((start, end_of_logical))
        line_start = end_of_logical + 1
    return lines


class LineSlicer:
    """Cuts one line's :class:`Content` out of the document on demand.

    Spans are sorted by start once; a line takes the spans that overlap it (found by bisection,
    so the cost is per visible line, not per document)."""

    def __init__(self, content: Content) -> None:
        self.text = content.plain
        self.spans = sorted(content.spans, key=lambda span: span.start)
        self.starts = [span.start for span in self.spans]
        self.longest = max((span.end - span.start for span in self.spans), default=0)

    def line(self, start: int, end: int) -> Content:
        if end <= start:
            return Content("")
        first = bisect_left(self.starts, start - self.longest)
        last = bisect_left(self.starts, end)
        spans = [
            Span(max(span.start, start) - start, min(span.end, end) - start, span.style)
            for span in self.spans[first:last]
            if span.end > start
        ]
        return Content(self.text[start:end], spans, strip_control_codes=False)


def decode_and_layout(
    scored: ScoredText,
    options: DecodeOptions,
    palette: EntityPalette,
    show_labels: bool,
    hidden_types: frozenset[str] = frozenset(),
) -> tuple[Prediction, LaidOut]:
    """Thread work: decode the scores and build the highlighted document. Entities of
    ``hidden_types`` are left out of the prediction shown (and so of what is exported)."""
    from dataclasses import replace

    from ner_tui.core.decoding import decode

    prediction = decode(scored, options)
    if hidden_types:
        shown = tuple(e for e in prediction.entities if e.label not in hidden_types)
        prediction = replace(prediction, entities=shown)
    document = build_document(prediction, palette, show_labels=show_labels)
    return prediction, LaidOut(document, show_labels, hidden_types)
