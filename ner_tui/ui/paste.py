"""Bracketed pastes that contain ESC arrive as one paste, in order, with nothing lost.

Textual's terminal parser treats an ESC inside a bracketed paste as the start of an escape
sequence: the characters after it are read as a would-be sequence, never reach the paste buffer,
and are re-sent as key presses *before* the paste event (``\\x1b[31m`` becomes the keys
``^ [ 3 1 m``; ``Start Paris \\x1b[31mBerlin`` arrives as ``^[31mBerlin`` + ``Start Paris``).
tmux passes escapes through (``paste-buffer -p``); desktop terminals strip them. A bare TextArea
does the same, so the fix sits where the input gets its paste from: the driver's parser.

:class:`PasteSafeParser` hides each ESC between the paste's start and end markers behind a
noncharacter (U+FDD0, "not for interchange": no real text carries it) before Textual's parser
sees it, and puts the ESC back in the :class:`~textual.events.Paste` it produces. The input
pane then shows it as ``␛`` like every other control character. :func:`paste_safe_driver` gives
a driver class whose input thread builds this parser instead of Textual's (the same function
with ``XTermParser`` bound to this class; Textual is pinned and ``tests/test_ui_paste.py``
fails if its driver stops naming ``XTermParser``).
"""

from __future__ import annotations

import types
from collections.abc import Iterable
from functools import cache
from typing import Any

from textual import events
from textual._xterm_parser import BRACKETED_PASTE_END, BRACKETED_PASTE_START, XTermParser
from textual.driver import Driver

ESC = "\x1b"
HIDDEN_ESC = "\ufdd0"


class PasteSafeParser(XTermParser):
    """Textual's parser, with ESC inside a bracketed paste kept as text."""

    def __init__(self, debug: bool = False) -> None:
        super().__init__(debug)
        self._in_paste = False
        self._held = ""  # in a paste: the end of a chunk that may begin the end marker
        self._recent = ""  # outside: the last characters seen, for a start marker split in two

    def feed(self, data: str) -> Iterable[Any]:
        hidden = self._hide_escapes(data) if data else data
        if data and not hidden:
            return  # all held back (an empty feed would mean end of input)
        for token in super().feed(hidden):
            if isinstance(token, events.Paste) and HIDDEN_ESC in token.text:
                token = events.Paste(token.text.replace(HIDDEN_ESC, ESC))
            yield token

    def _hide_escapes(self, data: str) -> str:
        """``data`` with every ESC inside a paste hidden; a possible start of the end marker at
        the end of a chunk is held back until the next one (the terminal sends it at once)."""
        out: list[str] = []
        data = self._held + data
        self._held = ""
        pos = 0
        while pos < len(data):
            if not self._in_paste:
                seen = self._recent + data[pos:]
                start = seen.find(BRACKETED_PASTE_START)
                if start < 0:
                    out.append(data[pos:])
                    self._recent = seen[-(len(BRACKETED_PASTE_START) - 1) :]
                    return "".join(out)
                end = start + len(BRACKETED_PASTE_START) - len(self._recent)  # in data[pos:]
                out.append(data[pos : pos + end])
                pos += end
                self._recent = ""
                self._in_paste = True
                continue
            end = data.find(BRACKETED_PASTE_END, pos)
            if end < 0:
                body = data[pos:]
                for keep in range(min(len(body), len(BRACKETED_PASTE_END) - 1), 0, -1):
                    if BRACKETED_PASTE_END.startswith(body[-keep:]):
                        self._held = body[-keep:]
                        body = body[:-keep]
                        break
                out.append(body.replace(ESC, HIDDEN_ESC))
                return "".join(out)
            out.append(data[pos:end].replace(ESC, HIDDEN_ESC))
            out.append(BRACKETED_PASTE_END)
            pos = end + len(BRACKETED_PASTE_END)
            self._in_paste = False
        return "".join(out)


@cache
def paste_safe_driver(driver_class: type[Driver]) -> type[Driver]:
    """``driver_class`` with :class:`PasteSafeParser` in its input thread; ``driver_class``
    itself when that thread builds no ``XTermParser`` (the headless test driver, Windows)."""
    run = getattr(driver_class, "run_input_thread", None)
    if not isinstance(run, types.FunctionType) or "XTermParser" not in run.__code__.co_names:
        return driver_class
    scope = {**run.__globals__, "XTermParser": PasteSafeParser}
    patched = types.FunctionType(
        run.__code__, scope, run.__name__, run.__defaults__, run.__closure__
    )
    patched.__qualname__ = run.__qualname__
    return type(driver_class.__name__, (driver_class,), {"run_input_thread": patched})
