"""The input pane with invisible characters: the cursor is drawn where TextArea says it is,
on the character it is at, clicks land on the character drawn there, soft wrapping loses
nothing, and the text stays exactly as typed.

Pilot tests on a small host app (no backend needed), reading the cells the pane renders.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import get_character_cell_size
from rich.color import Color
from rich.style import Style
from textual.app import App, ComposeResult
from textual.widgets.text_area import Document

from ner_tui.ui.widgets.input_pane import InputDocument, InputPane, shown_char, shown_line

CURSOR = Color.parse("#ff00ff")  # the host app's cursor colour, to find the cursor cell
TEXTS = [
    "a\u200bb\u200dc\x07d\te",  # zero-width space and joiner, bell, tab
    "\x1b[31mred\x1b[0m, \u202eevil\u202c and\x00\x7f\x9b",  # escapes, bidi, NUL, DEL, CSI
    "\U0001f468\u200d\U0001f469 x\u200cy\ufeffz\u2060w",  # emoji ZWJ sequence, ZWNJ, BOM, WJ
    "tab\there\tand\u00adsoft",  # tabs after nothing invisible, a soft hyphen
    "東京\u200bで\u200b会議",  # wide characters between zero-width spaces
]


class Host(App[None]):
    CSS = """
    InputPane { height: 1fr; }
    InputPane > .text-area--cursor { background: #ff00ff; color: #000000; }
    """

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        yield InputPane(self.text, id="input")


def drawn_cells(pane: InputPane, y: int) -> list[tuple[str, Style | None]]:
    """The pane's row ``y`` as terminal cells: (character, style), ``""`` for the second half
    of a wide character."""
    cells: list[tuple[str, Style | None]] = []
    for segment in pane.render_line(y):
        for char in segment.text:
            width = get_character_cell_size(char)
            assert width > 0, f"a zero-width {char!r} reached the terminal"
            cells.append((char, segment.style))
            cells.extend([("", segment.style)] * (width - 1))
    return cells


def cursor_cells(cells: list[tuple[str, Style | None]]) -> list[int]:
    return [
        x for x, (_, style) in enumerate(cells) if style is not None and style.bgcolor == CURSOR
    ]


@pytest.mark.parametrize("text", TEXTS)
async def test_the_cursor_is_drawn_on_its_character_where_textarea_puts_it(text: str) -> None:
    app = Host(text)
    async with app.run_test(size=(60, 8)) as pilot:
        pane = app.query_one(InputPane)
        pane.cursor_blink = False
        pane.focus()
        for column in range(len(text) + 1):
            pane.move_cursor((0, column))
            await pilot.pause()
            x = pane.cursor_screen_offset.x - pane.content_region.x
            cells = drawn_cells(pane, 0)
            blocks = cursor_cells(cells)
            assert blocks and blocks[0] == x, (column, repr(text[column : column + 1]), blocks, x)
            under = cells[x][0]
            if column == len(text) or text[column] == "\t":
                assert under == " "
            else:
                assert under == shown_char(text[column])
        assert pane.text == text


@pytest.mark.parametrize("text", TEXTS)
async def test_every_character_is_drawn_once_in_order(text: str) -> None:
    app = Host(text)
    async with app.run_test(size=(60, 8)) as pilot:
        pane = app.query_one(InputPane)
        await pilot.pause()
        drawn = "".join(char for char, _ in drawn_cells(pane, 0)).rstrip()
        expected = shown_line(text).expandtabs(1)  # tabs are drawn as runs of spaces
        assert drawn.replace(" ", "") == expected.replace(" ", "")


async def test_a_click_lands_on_the_character_drawn_there() -> None:
    text = "a\u200bb\u200dc\x07d\x1be"
    app = Host(text)
    async with app.run_test(size=(60, 8)) as pilot:
        pane = app.query_one(InputPane)
        await pilot.pause()
        left = pane.content_region.x - pane.region.x
        top = pane.content_region.y - pane.region.y
        for column in range(len(text)):
            await pilot.click(InputPane, offset=(left + column, top))  # one cell per character
            assert pane.cursor_location == (0, column)


async def test_soft_wrapping_keeps_every_character() -> None:
    text = "a\u200b" * 30  # 60 cells as drawn; 30 if zero-width characters counted as nothing
    app = Host(text)
    async with app.run_test(size=(30, 12)) as pilot:
        pane = app.query_one(InputPane)
        pane.cursor_blink = False
        pane.focus()
        pane.move_cursor((0, len(text)))
        await pilot.pause()
        rows = ["".join(char for char, _ in drawn_cells(pane, y)) for y in range(8)]
        assert "".join(row.rstrip() for row in rows) == "a¤" * 30
        assert sum(1 for row in rows if row.strip()) == pane.wrapped_document.height >= 3
        last = drawn_cells(pane, pane.wrapped_document.height - 1)
        assert cursor_cells(last) == [pane.cursor_screen_offset.x - pane.content_region.x]


async def test_edits_and_copies_use_the_text_as_typed() -> None:
    text = "a\u200bb\x07c"
    app = Host(text)
    async with app.run_test(size=(60, 8)) as pilot:
        pane = app.query_one(InputPane)
        pane.focus()
        pane.move_cursor((0, 2))  # after the zero-width space, before "b"
        await pilot.press("X")
        assert pane.text == "a\u200bXb\x07c"
        await pilot.press("backspace", "backspace")  # the X, then the zero-width space
        assert pane.text == "ab\x07c"
        pane.select_all()
        assert pane.selected_text == "ab\x07c"
        pane.undo()
        pane.undo()
        assert pane.text == text
        pane.load_text("new\u200dtext\x1b")
        assert pane.text == "new\u200dtext\x1b"
        assert pane.document.lines == ["new¤text␛"]


def test_shown_line_is_one_visible_cell_per_invisible_character() -> None:
    line = "e\u0301t\u00e9\t\x1b\u200b\u200d\ufeff\u00ad\x9b東"
    shown = shown_line(line)
    assert len(shown) == len(line)  # columns agree
    assert shown == "e\u0301t\u00e9\t␛¤¤¤¤¤東"  # combining accent and tab kept as they are
    assert shown_line("plain text, [bold] too") == "plain text, [bold] too"


_PIECES = st.text(
    alphabet=st.sampled_from("ab \t\n\x07\x1b\u200b\u200d\ufeff東é\u0301"), max_size=6
)


@settings(max_examples=150, deadline=None)
@given(
    start=_PIECES,
    edits=st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 40), _PIECES), min_size=1, max_size=8
    ),
)
def test_input_document_edits_like_a_document_and_keeps_its_shown_lines(
    start: str, edits: list[tuple[int, int, str]]
) -> None:
    plain, shown = Document(start), InputDocument(start)
    for a, b, insert in edits:
        first = plain.get_location_from_index(min(a, len(plain.text)))
        second = plain.get_location_from_index(min(b, len(plain.text)))
        assert shown.replace_range(first, second, insert) == plain.replace_range(
            first, second, insert
        )
        assert shown.text == plain.text
        assert shown.lines == [shown_line(line) for line in plain.lines]
        assert [len(line) for line in shown.lines] == [len(line) for line in plain.lines]
