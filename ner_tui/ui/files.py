"""Reading a text file into the input: size and encoding checked, errors a person can act on."""

from __future__ import annotations

from pathlib import Path

from ner_tui.core.errors import NerTuiError
from ner_tui.predict import decode_utf8

MAX_FILE_BYTES = 5_000_000


def read_text_file(path: Path) -> str:
    """The file's text (UTF-8, a BOM dropped), or a NerTuiError saying what is wrong with it."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise NerTuiError(
                f"{path} is {size:,} bytes; ner-tui loads files up to {MAX_FILE_BYTES:,} bytes.",
                hint="Use `ner-tui predict --file` for big files.",
            )
        raw = path.read_bytes()
    except OSError as error:
        raise NerTuiError(
            f"Cannot read {path}: {error.strerror or error}",
            hint="Check the path and its permissions.",
        ) from error
    return decode_utf8(raw, str(path))
