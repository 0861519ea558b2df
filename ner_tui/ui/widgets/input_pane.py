"""The text input: a multi-line editor that says how to submit.

The text is kept exactly as typed or pasted (it is what gets predicted), but invisible
characters are drawn as visible one-cell glyphs: control characters (``␛``, ``␇``...; a pasted
``ESC [31m`` would otherwise reach the terminal, which would obey it) and format characters
such as zero-width spaces and joiners, bidi controls and the BOM (``¤``). Tabs stay tabs.

TextArea measures, wraps and moves the cursor by the cells of its document's ``lines``, and
draws ``get_line``; it edits and reads the text through ``replace_range``, ``get_text_range``
and ``text``. :class:`InputDocument` serves the first group the shown form of each line (one
character for each character, so columns agree) and the second the text as typed, so the
cursor sits on the character it is at, and clicks and soft wrapping land where things are
drawn. (Drawing glyphs over the rendered line instead moved everything after a zero-width
character one cell right of where TextArea put the cursor.)
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import overload

from rich.cells import cell_len
from textual import on
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.widgets import TextArea
from textual.widgets.text_area import (
    Document,
    DocumentNavigator,
    EditResult,
    Location,
    WrappedDocument,
)

# Control, format (zero-width space/joiners, bidi controls, BOM, soft hyphen...) and line or
# paragraph separator characters: drawn as glyphs. Combining marks are left to join the
# character before them, as they do everywhere.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


@lru_cache(maxsize=1024)
def shown_char(char: str) -> str:
    """The one-cell glyph the input pane draws for ``char``, or ``char`` itself."""
    if char == "\t" or unicodedata.category(char) not in _INVISIBLE_CATEGORIES:
        return char  # TextArea expands tabs itself, measuring them as it draws them
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # Control Pictures: ␀ ␇ ␛ ...
    return "\u2421" if code == 0x7F else "\u00a4"  # ␡, else ¤


def shown_line(line: str) -> str:
    """``line`` as the input pane draws it: as long as ``line``, invisible characters as glyphs."""
    if line.isprintable():  # the usual line: no control or format character in it
        return line
    return "".join(map(shown_char, line))


class InputDocument(Document):
    """A TextArea document that holds the text as typed and lays out and draws it as shown."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._shown = [shown_line(line) for line in self._lines]

    @property
    def lines(self) -> list[str]:
        """The shown lines (what TextArea measures and wraps); :attr:`text` is the real text."""
        return self._shown

    @overload
    def __getitem__(self, line_index: int) -> str: ...

    @overload
    def __getitem__(self, line_index: slice) -> list[str]: ...

    def __getitem__(self, line_index: int | slice) -> str | list[str]:
        return self._shown[line_index]

    def get_size(self, tab_width: int) -> Size:
        widths = [cell_len(line.expandtabs(tab_width)) for line in self._shown]
        return Size(max(widths, default=0), len(self._shown))

    def replace_range(self, start: Location, end: Location, text: str) -> EditResult:
        top, bottom = sorted((start, end))
        result = super().replace_range(start, end, text)
        new_bottom = result.end_location[0]
        self._shown[top[0] : bottom[0] + 1] = map(shown_line, self._lines[top[0] : new_bottom + 1])
        return result


class InputPane(TextArea):
    """Where text is typed or pasted; the app binds ctrl+s / ctrl+enter to predict.

    The app asks for the text to predict with :meth:`request_text`, not by reading ``text``:
    a priority binding runs before the keys typed or pasted just ahead of it have reached this
    widget, so ``text`` can still lack them. The request waits in this widget's queue behind
    those keys, and the answer, :class:`TextRequested`, carries exactly what the screen shows
    once they are in."""

    BINDINGS = [  # noqa: RUF012
        Binding(
            "ctrl+a",
            "select_all",
            "Select all",
            id="input.select_all",
            show=False,
            tooltip="Select the whole text (home goes to the line start).",
        ),
    ]

    @dataclass
    class TextRequested(Message):
        """The pane's whole text, after every key queued before the request."""

        text: str

    class _TextWanted(Message, bubble=False):
        """Queued behind the keys before it; answered with :class:`TextRequested`."""

    def yield_keys(self, keys: list[str]) -> None:
        """Stop handling ``keys`` here (e.g. ctrl+e, the editor's line end) so the app's
        bindings a user moved onto them run while the input has focus."""
        for key in keys:
            self._bindings.key_to_bindings.pop(key, None)

    def request_text(self) -> None:
        """Post :class:`TextRequested` once the keys already queued here are handled."""
        self.post_message(self._TextWanted())

    @on(_TextWanted)
    def _answer_text(self) -> None:
        self.post_message(self.TextRequested(self.text))

    def __init__(self, text: str = "", *, id: str | None = None) -> None:
        super().__init__(
            text,
            id=id,
            soft_wrap=True,
            tab_behavior="focus",
            show_line_numbers=False,
            placeholder="Type or paste text here, then press ctrl+s to find its entities.",
        )

    def _set_document(self, text: str, language: str | None) -> None:
        # TextArea's own steps for plain text (this pane has no language), with an
        # InputDocument in place of a Document. Textual is pinned; tests/test_ui_input_pane.py
        # fails if a new version sets documents up differently.
        self._highlight_query = None
        self.document = InputDocument(text)
        self.wrapped_document = WrappedDocument(self.document, tab_width=self.indent_width)
        self.navigator = DocumentNavigator(self.wrapped_document)
        self._build_highlight_map()
        self.move_cursor((0, 0))
        self._rewrap_and_refresh_virtual_size()
