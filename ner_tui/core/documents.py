"""Documents as people hand them over: a file, stdin, lines or JSONL, checked and decoded.

Shared by ``predict``, the app's file loading and (next) ``eval``: every problem with the input
is an :class:`~ner_tui.core.errors.InputError` naming where it is, and a bad line in a file of
many becomes a :class:`Document` carrying its error, so the other lines still run.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ner_tui.core.errors import InputError, NerTuiError


@dataclass(frozen=True, slots=True)
class Document:
    """One input document, or the reason its line could not be read."""

    line: int | None  # 1-based line number in the input; None for a TEXT argument
    text: str | None
    error: NerTuiError | None = None

    @property
    def where(self) -> str:
        return f"line {self.line}" if self.line is not None else "input"


def decode_utf8(raw: bytes, where: str) -> str:
    """``raw`` as UTF-8 text (a BOM dropped), or an InputError naming ``where`` and the bad byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(
            f"{where} is not UTF-8 text (bad byte at offset {error.start})",
            hint="Convert it first, e.g. `iconv -f latin1 -t utf-8`.",
        ) from None


#: A document longer than this is refused (in place, with its line) before it is tokenized: a
#: 50 MB line would take gigabytes of offsets and windows. Split such text into paragraphs.
MAX_DOCUMENT_CHARS = 1_000_000


def open_input(path: str | None, stdin: IO[str]) -> IO[bytes]:
    """The input as bytes, read line by line: a file, or stdin when ``path`` is None or ``-``."""
    if path is None or path == "-":
        buffer = getattr(stdin, "buffer", None)
        return buffer if buffer is not None else io.BytesIO(stdin.read().encode("utf-8"))
    file = Path(path).expanduser()
    try:
        if file.is_dir():
            raise InputError(f"{path} is a directory, not a file")
        return file.open("rb")
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from None


def count_documents(path: str) -> int:
    """How many non-blank lines a file has (one cheap pass, for a progress bar's total)."""
    with open_input(path, sys.stdin) as lines:
        return sum(1 for line in lines if line.strip())


def _read_bytes(file: Path, name: str, *, limit: int | None = None) -> bytes:
    """The bytes of ``file`` (at most ``limit``), or an InputError in words, naming ``name``."""
    try:
        if limit is not None and (size := file.stat().st_size) > limit:
            raise InputError(
                f"{name} is {size:,} bytes; ner-tui loads files up to {limit:,} bytes.",
                hint="Use `ner-tui predict --file` for big files.",
            )
        return file.read_bytes()
    except FileNotFoundError:
        raise InputError(f"no such file: {name}") from None
    except IsADirectoryError:
        raise InputError(f"{name} is a directory, not a file") from None
    except OSError as error:
        raise InputError(f"cannot read {name}: {error.strerror or error}") from None


def _is_jsonl_object(line: str) -> bool:
    if not line.lstrip().startswith("{"):
        return False
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def iter_documents(
    lines: Iterable[bytes] | Iterable[str], *, input_format: str = "auto", field: str = "text"
) -> Iterator[Document]:
    """One document per non-blank line, read lazily; JSONL objects' ``field`` when the input is
    JSONL (``auto``: when the first non-blank line is a JSON object).

    Lines end at ``\n`` only (a U+2028 or form feed inside a document stays in it); a
    trailing ``\r`` is dropped. Byte lines are decoded as UTF-8 (a BOM dropped). A line that is
    not UTF-8, too long, or not an object with a string ``field`` becomes a :class:`Document`
    carrying the error, so the others still run."""
    jsonl = input_format == "jsonl" if input_format != "auto" else None
    for number, raw in enumerate(lines, start=1):
        line: str
        if isinstance(raw, bytes):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as error:
                message = f"not UTF-8 text (bad byte at offset {error.start} of the line)"
                hint = "Convert it first, e.g. `iconv -f latin1 -t utf-8`."
                yield Document(number, None, InputError(message, hint=hint))
                continue
        else:
            line = str(raw)
        line = line.removesuffix("\n").removesuffix("\r")
        if not line.strip():
            continue
        if jsonl is None:
            jsonl = _is_jsonl_object(line)
        if len(line) > MAX_DOCUMENT_CHARS:
            yield Document(
                number,
                None,
                InputError(
                    f"the document is {len(line):,} characters; ner-tui predicts documents of "
                    f"up to {MAX_DOCUMENT_CHARS:,}",
                    hint="Split it into paragraphs, one per line.",
                ),
            )
        elif jsonl:
            yield _jsonl_document(number, line, field)
        else:
            yield Document(number, line)


def _jsonl_document(number: int, line: str, field: str) -> Document:
    hint = f"Each JSONL line must be an object with a string `{field}` (see --jsonl-field)."
    try:
        value = json.loads(line)
    except ValueError as error:
        return Document(number, None, InputError(f"not valid JSON: {error}", hint=hint))
    if not isinstance(value, dict):
        return Document(number, None, InputError("not a JSON object", hint=hint))
    if field not in value:
        keys = ", ".join(sorted(map(str, value))) or "none"
        return Document(number, None, InputError(f"no `{field}` field (fields: {keys})", hint=hint))
    text = value[field]
    if not isinstance(text, str):
        kind = type(text).__name__
        return Document(number, None, InputError(f"`{field}` is a {kind}, not a string", hint=hint))
    return Document(number, text)


MAX_FILE_BYTES = 5_000_000


def read_text_file(path: Path) -> str:
    """A file for the app's input (UTF-8, a BOM dropped, at most :data:`MAX_FILE_BYTES`)."""
    return decode_utf8(_read_bytes(path, str(path), limit=MAX_FILE_BYTES), str(path))
