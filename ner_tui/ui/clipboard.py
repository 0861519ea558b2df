"""Copy text: OSC 52 through the terminal, plus the system clipboard tool when there is one.

OSC 52 cannot report success (the terminal may silently refuse), so the message says which
route was taken; a system tool (wl-copy, xclip, xsel, pbcopy, clip.exe) reports by exit code.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from typing import Protocol

_TOOLS: tuple[tuple[str, ...], ...] = (
    ("wl-copy",),
    ("xclip", "-selection", "clipboard"),
    ("xsel", "--clipboard", "--input"),
    ("pbcopy",),
    ("clip.exe",),
)


class _CanCopy(Protocol):
    def copy_to_clipboard(self, text: str) -> None: ...


def system_copy(text: str) -> str | None:
    """Copy with the first working system tool; its name, or None."""
    for command in _TOOLS:
        if command[0] in ("wl-copy",) and not os.environ.get("WAYLAND_DISPLAY"):
            continue
        if command[0] in ("xclip", "xsel") and not os.environ.get("DISPLAY"):
            continue
        if shutil.which(command[0]) is None:
            continue
        try:
            subprocess.run(
                command,
                input=text.encode("utf-8"),
                check=True,
                timeout=2,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except (OSError, subprocess.SubprocessError):
            continue
        return command[0]
    return None


async def copy_text(app: _CanCopy, text: str, fallback: str = "export with f8 instead") -> str:
    """Copy ``text`` every way available; a phrase saying what happened ("copied with xclip").
    ``fallback`` is what to do when only OSC 52 was tried and the terminal may have ignored it.

    The system tools run in a thread: each may take up to its 2 s timeout."""
    app.copy_to_clipboard(text)  # OSC 52 (Textual also keeps it as app.clipboard)
    tool = await asyncio.to_thread(system_copy, text)
    if tool is not None:
        return f"copied to the clipboard ({tool}, and OSC 52)."
    return (
        "sent to the terminal clipboard with OSC 52; if pasting gives nothing, your terminal "
        f"blocks OSC 52: {fallback}."
    )
