"""Documents as people hand them over: a file, stdin, lines or JSONL, checked and decoded.

Shared by ``predict``, the app's file loading and (next) ``eval``: every problem with the input
is an :class:`~ner_tui.core.errors.InputError` naming where it is, and a bad line in a file of
many becomes a :class:`Document` carrying its error, so the other lines still run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
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


def read_source(path: str | None, stdin: IO[str]) -> str:
    """The whole input: a file, or stdin when ``path`` is None or ``-``."""
    if path is None or path == "-":
        buffer = getattr(stdin, "buffer", None)
        return decode_utf8(buffer.read(), "stdin") if buffer is not None else stdin.read()
    return decode_utf8(_read_bytes(Path(path).expanduser(), path), path)


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


def _looks_like_jsonl(lines: Sequence[str]) -> bool:
    for line in lines:
        if not line.strip():
            continue
        if not line.lstrip().startswith("{"):
            return False
        try:
            return isinstance(json.loads(line), dict)
        except ValueError:
            return False
    return False


def split_documents(
    content: str, *, input_format: str = "auto", field: str = "text"
) -> list[Document]:
    """One document per non-blank line; JSONL objects' ``field`` when the input is JSONL.

    Lines split on ``\\n`` only (a U+2028 or form feed inside a document stays in it); a
    trailing ``\\r`` is dropped. A JSONL line that is not an object with a string ``field``
    becomes a :class:`Document` carrying the error, so the others still run."""
    lines = content.split("\n")
    jsonl = input_format == "jsonl" or (input_format == "auto" and _looks_like_jsonl(lines))
    documents: list[Document] = []
    for number, line in enumerate(lines, start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        if not jsonl:
            documents.append(Document(number, line))
            continue
        documents.append(_jsonl_document(number, line, field))
    return documents


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
