"""The corpus view's document list: every document, only the visible rows ever rendered.

A ``DataTable`` builds and styles every row it is given (10,000 rows took seconds, so the view
listed only the first 200); this list keeps the sorted results and renders the lines on screen
from them (``render_line``), so showing, sorting or re-scoring a corpus costs the same at 16
documents as at a million. Text is data: each line is plain segments, never markup.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ner_tui.core.corpus_scores import DocumentResult
from ner_tui.ui.corpus_marks import preview

# (title, width, which of row_cells); the text takes what is left.
COLUMNS = (("#", 6, 0), ("line", 6, 1), ("errors", 7, 2), ("F1", 6, 3), ("low conf", 9, 4))
# Under COMPACT_BELOW cells (a projector's 80 columns): no line number (the document shows it),
# short titles, so some of the text still shows.
COMPACT = (("#", 6, 0), ("err", 4, 2), ("F1", 5, 3), ("low", 6, 4))
COMPACT_BELOW = 60
TEXT_WIDTH = 200  # characters of the text kept per row (the widget crops to its width)


def row_cells(result: DocumentResult) -> tuple[list[str], bool]:
    """The cells of one row, and whether it is a document that could not be read."""
    doc = result.doc
    if doc.error is not None:
        return [str(doc.index + 1), str(doc.line), "!", "—", "—", preview(doc.error.message)], True
    low = "—" if result.min_confidence is None else f"{result.min_confidence:.3f}"
    f1 = "—" if result.score is None else f"{result.score.f1:.2f}"
    errors = "—" if result.score is None else str(result.error_count)
    text = preview(doc.text, TEXT_WIDTH)
    return [str(doc.index + 1), str(doc.line), errors, f1, low, text], False


Columns = tuple[tuple[str, int, int], ...]


def _line(cells: Sequence[str], columns: Columns = COLUMNS) -> str:
    """One row: each column's cell cut to its width, then the text (``cells``' last)."""
    fixed = " " + "".join(cells[i][: w - 1].ljust(w) for _, w, i in columns)
    return fixed + (cells[-1] if len(cells) > len(COLUMNS) else "")


def _header(columns: Columns) -> str:
    titles = [""] * len(COLUMNS)
    for title, _, i in columns:
        titles[i] = title
    return _line([*titles, "text"], columns)


class DocumentList(ScrollView, can_focus=True):
    """Rows of :class:`DocumentResult` under a fixed header; a cursor row; Enter opens it."""

    COMPONENT_CLASSES = {  # noqa: RUF012
        "document-list--header",
        "document-list--cursor",
        "document-list--broken",
    }
    DEFAULT_CSS = """
    DocumentList {
        background: $surface;
        & > .document-list--header { text-style: bold; background: $panel; }
        & > .document-list--cursor { background: $block-cursor-blurred-background; }
        & > .document-list--broken { color: $text-muted; }
        &:focus > .document-list--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """
    BINDINGS = [  # noqa: RUF012
        Binding(
            "enter",
            "select",
            "Open",
            show=False,
            id="corpus.list.open",
            tooltip="Open the document under the cursor.",
        ),
        Binding("up", "move(-1)", "Up", show=False, id="corpus.list.up", tooltip="Row above."),
        Binding("down", "move(1)", "Down", show=False, id="corpus.list.down", tooltip="Row below."),
        Binding(
            "pageup",
            "page(-1)",
            "Page up",
            show=False,
            id="corpus.list.page_up",
            tooltip="A screenful up.",
        ),
        Binding(
            "pagedown",
            "page(1)",
            "Page down",
            show=False,
            id="corpus.list.page_down",
            tooltip="A screenful down.",
        ),
        Binding(
            "home", "jump(0)", "First", show=False, id="corpus.list.first", tooltip="First row."
        ),
        Binding("end", "jump(-1)", "Last", show=False, id="corpus.list.last", tooltip="Last row."),
    ]

    cursor: reactive[int] = reactive(0, init=False)

    class Selected(Message):
        """Enter (or a click on the cursor row) on row ``index``."""

        def __init__(self, document_list: DocumentList, index: int) -> None:
            super().__init__()
            self.document_list = document_list
            self.index = index

        @property
        def control(self) -> DocumentList:
            return self.document_list

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._rows: Sequence[DocumentResult] = ()
        self._cache: dict[int, tuple[str, bool]] = {}  # row -> its line, built when first seen
        self._columns: Columns = COLUMNS
        self._header = _header(COLUMNS)

    @property
    def row_count(self) -> int:
        return len(self._rows)

    def show(self, rows: Sequence[DocumentResult], *, keep: bool = False) -> None:
        """List ``rows`` (kept, not copied), cursor on the first; ``keep``: on the same
        document as before when it is still listed (the corpus was re-scored)."""
        before = self._rows[self.cursor].doc.index if keep and self._rows else None
        self._rows = rows
        self._cache = {}
        self.virtual_size = Size(self.size.width, len(rows) + 1)
        self.set_reactive(DocumentList.cursor, 0)
        self.scroll_to(y=0, animate=False, immediate=True)
        if before is not None:
            at = next((i for i, r in enumerate(rows) if r.doc.index == before), 0)
            if at:
                self.cursor = at
        self.refresh()

    # ------------------------------------------------------------------ rendering

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            header = self.get_component_rich_style("document-list--header")
            return Strip([Segment(self._header, header)]).crop_extend(0, width, header)
        index = int(self.scroll_offset.y) + y - 1
        if index >= len(self._rows):
            return Strip.blank(width, self.rich_style)
        text, broken = self._line_of(index)
        style: Style = self.rich_style
        if broken:
            style += self.get_component_rich_style("document-list--broken")
        if index == self.cursor:
            style += self.get_component_rich_style("document-list--cursor")
        return Strip([Segment(text, style)]).crop_extend(0, width, style)

    def _line_of(self, index: int) -> tuple[str, bool]:
        cached = self._cache.get(index)
        if cached is None:
            cells, broken = row_cells(self._rows[index])
            cached = self._cache[index] = (_line(cells, self._columns), broken)
        return cached

    def watch_cursor(self, old: int, new: int) -> None:
        top = int(self.scroll_offset.y)
        visible = max(1, self.size.height - 1)
        if new < top:
            self.scroll_to(y=new, animate=False, immediate=True)
        elif new >= top + visible:
            self.scroll_to(y=new - visible + 1, animate=False, immediate=True)
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, len(self._rows) + 1)
        columns = COMPACT if event.size.width < COMPACT_BELOW else COLUMNS
        if columns is not self._columns:
            self._columns, self._header, self._cache = columns, _header(columns), {}
            self.refresh()

    # ------------------------------------------------------------------ keys and mouse

    def _move_to(self, index: int) -> None:
        if self._rows:
            self.cursor = max(0, min(len(self._rows) - 1, index))

    def action_move(self, step: int) -> None:
        self._move_to(self.cursor + step)

    def action_page(self, step: int) -> None:
        self._move_to(self.cursor + step * max(1, self.size.height - 2))

    def action_jump(self, where: int) -> None:
        self._move_to(where if where >= 0 else len(self._rows) - 1)

    def action_select(self) -> None:
        if 0 <= self.cursor < len(self._rows):
            self.post_message(self.Selected(self, self.cursor))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        index = int(self.scroll_offset.y) + offset.y - 1
        if 0 <= index < len(self._rows):
            if index == self.cursor:
                self.action_select()
            self.cursor = index
