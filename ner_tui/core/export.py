"""Turn predictions into text: token table, entity list, JSON, JSONL, CoNLL and HTML.

Used by ``ner-tui predict`` and by the TUI's export command, so both write the same thing.
No Textual, no heavy imports (the prediction types and decoding's word-level set).

Choices made here:

- The token table is vLLM's example client's ``token -> label`` (the tokenizer's token strings,
  special tokens skipped by ``special_tokens_mask``), with the label's probability added and a
  ``rejected`` mark on tokens a strict decoder dropped.
- JSON tokens skip special tokens too; their ``index`` is the row in the model's output.
- CoNLL writes one *word* per line whatever the view shows, as the original text's characters
  (``text[start:end]``), not the tokenizer's ``##`` pieces: CoNLL readers expect words. Under a
  word-level aggregation (``first``, ``average``, ``max``) the rows are the prediction's own;
  under ``none`` or ``simple`` the kept scores are decoded again with ``first`` (the same mode
  and threshold), so a word never comes out as ``Mer I-PER`` / ``kel I-PER``. Words are the
  tokenizer's ``word_ids`` (``docs/decoding.md``).
- HTML is one self-contained page (``core/html.py``), a section per document.
- Control characters and line/paragraph separators in tokens and entity text are shown as
  visible symbols (``⇥`` for tab, ``↵`` for newline, control pictures for the rest) in every
  line-based format, so one token is always one line. JSON keeps the exact text.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, Any, Literal

from ner_tui.core.decoding import WORD_AGGREGATIONS, decode
from ner_tui.core.html import HtmlPage
from ner_tui.core.types import Prediction, TokenPrediction

ExportFormat = Literal["table", "entities", "json", "jsonl", "conll", "html"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("table", "entities", "json", "jsonl", "conll", "html")
_SUFFIXES: dict[str, ExportFormat] = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".conll": "conll",
    ".html": "html",
    ".htm": "html",
    ".conll03": "conll",
    ".iob": "conll",
    ".bio": "conll",
    ".tsv": "table",
    ".txt": "table",
}
_VISIBLE = {
    "\t": "⇥",
    "\n": "↵",
    "\r": "␍",
    "\x1b": "␛",
    "\x7f": "␡",
    "\u2028": "␤",
    "\u2029": "¶",
    "\x85": "␤",
}


def visible(text: str) -> str:
    """``text`` with tabs, newlines and other control characters as visible symbols."""
    if text.isprintable() and "\u2028" not in text and "\u2029" not in text:
        return text
    out = []
    for char in text:
        if char in _VISIBLE:
            out.append(_VISIBLE[char])
        elif ord(char) < 0x20:
            out.append(chr(0x2400 + ord(char)))  # control pictures: ␀ ␁ ...
        elif 0x80 <= ord(char) < 0xA0:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return "".join(out)


def format_for_path(path: str | Path) -> ExportFormat | None:
    """The export format a file name asks for (``.json``, ``.jsonl``, ``.conll``...), if any."""
    return _SUFFIXES.get(Path(path).suffix.lower())


def json_score(value: float) -> float:
    """A score as the JSON outputs write it (6 decimals): ``predict -o jsonl`` and eval's errors
    alike, so an error seen on saved predictions carries the live run's score."""
    return round(float(value), 6)


def content_tokens(prediction: Prediction) -> list[TokenPrediction]:
    """The tokens a person reads: special tokens dropped by mask, never by string."""
    return [token for token in prediction.tokens if not token.special]


def token_table(prediction: Prediction) -> str:
    """One line per content token: ``token → label score`` (vLLM's example client, plus scores)."""
    rows = content_tokens(prediction)
    width = max([15, *(len(visible(t.text)) for t in rows)])
    label_width = max([5, *(len(t.label) for t in rows)])
    lines = []
    for token in rows:
        line = f"{visible(token.text):{width}} → {token.label:{label_width}} {token.score:.3f}"
        if token.rejected:
            line += "  rejected"
        lines.append(line)
    return "\n".join(lines)


def entity_lines(prediction: Prediction) -> str:
    """One line per entity: ``label  start-end  score  text``; ``(no entities)`` when empty."""
    if not prediction.entities:
        return "(no entities)"
    label_width = max(len(e.label) for e in prediction.entities)
    span_width = max(len(f"{e.start}-{e.end}") for e in prediction.entities)
    return "\n".join(
        f"{e.label:{label_width}}  {f'{e.start}-{e.end}':>{span_width}}  {e.score:.3f}  "
        f"{visible(e.text)}"
        for e in prediction.entities
    )


def to_document(prediction: Prediction, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One JSON-ready document: text, model, entities and content tokens with offsets.

    ``extra`` keys (e.g. the input ``line``) are added first, so they lead the object."""
    scored = prediction.scored
    document: dict[str, Any] = dict(extra or {})
    document.update(
        text=scored.text,
        model=scored.model,
        aggregation=prediction.options.aggregation,
        mode=prediction.options.mode,
        threshold=prediction.options.threshold,
        scheme=prediction.scheme,
        entities=[
            {
                "start": e.start,
                "end": e.end,
                "label": e.label,
                "score": json_score(e.score),
                "min_score": json_score(e.min_score),
                "text": e.text,
            }
            for e in prediction.entities
        ],
        tokens=[
            {
                "index": t.index,
                "token": t.text,
                "start": t.start,
                "end": t.end,
                "word": t.word,
                "label": t.label,
                "score": json_score(t.score),
                **({"rejected": True} if t.rejected else {}),
            }
            for t in content_tokens(prediction)
        ],
        chunks=len(scored.chunks),
    )
    if prediction.warnings:
        document["warnings"] = list(prediction.warnings)
    return document


def to_json(prediction: Prediction, extra: Mapping[str, Any] | None = None) -> str:
    """One document as indented JSON (non-ASCII text kept as is)."""
    return json.dumps(to_document(prediction, extra), ensure_ascii=False, indent=2)


def to_jsonl_line(prediction: Prediction, extra: Mapping[str, Any] | None = None) -> str:
    """One document as a single JSON line (newlines inside the text are escaped by JSON)."""
    return json.dumps(to_document(prediction, extra), ensure_ascii=False, separators=(",", ":"))


def conll_rows(prediction: Prediction) -> list[tuple[str, str]]:
    """``(surface, label)`` per word: a token-level prediction is decoded again with ``first``."""
    if prediction.options.aggregation not in WORD_AGGREGATIONS:
        options = replace(prediction.options, aggregation="first")
        prediction = decode(prediction.scored, options)
    text = prediction.text
    tokens = content_tokens(prediction)
    rows: list[tuple[str, str]] = []
    current_word: int | None = None
    start = end = 0
    label = ""
    for token in tokens:
        if token.word is not None and token.word == current_word:
            start, end = min(start, token.start), max(end, token.end)
            continue
        if current_word is not None:
            rows.append((_conll_surface(text[start:end]), label))
        current_word, start, end, label = token.word, token.start, token.end, token.label
        if token.word is None:  # a token outside any word stands alone
            rows.append((_conll_surface(text[start:end] or token.text), label))
            current_word = None
    if current_word is not None:
        rows.append((_conll_surface(text[start:end]), label))
    return rows


def _conll_surface(surface: str) -> str:
    # One token per line, columns split on spaces: whitespace inside a token must not survive.
    return visible(surface).replace(" ", "·") or "∅"


def to_conll(prediction: Prediction) -> str:
    """``token label`` per line for one document (no trailing blank line)."""
    return "\n".join(f"{surface} {label}" for surface, label in conll_rows(prediction))


class DocumentWriter:
    """Writes documents to a text stream one at a time, each as soon as it is given.

    The one place each format's file layout lives; :func:`render` and ``ner-tui predict`` both
    write through it. ``many``: the output holds a list of documents, so ``json`` is an array
    (its objects written one after another, ``[`` first and ``]`` on :meth:`close`) rather than
    one object. ``extra`` keys (e.g. the input ``line``) lead each JSON object and head each
    ``table``/``entities`` document as a ``# line 3`` comment line; CoNLL has no room for them.
    Layout: ``jsonl`` one line per document; ``conll``, ``table`` and ``entities`` a blank line
    between documents (``conll`` after each one, as CoNLL readers expect); ``html`` one page, its
    head before the first document, a section per document, its end on :meth:`close`.
    """

    def __init__(self, out: IO[str], fmt: ExportFormat, *, many: bool) -> None:
        if fmt not in EXPORT_FORMATS:
            raise ValueError(
                f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}"
            )
        self.out = out
        self.fmt = fmt
        self.many = many
        self.count = 0  # documents written so far
        self._page = HtmlPage() if fmt == "html" else None

    def write(self, prediction: Prediction, extra: Mapping[str, Any] | None = None) -> None:
        """Write one document (and the separator before it)."""
        fmt = self.fmt
        if self._page is not None:
            if self.count == 0:
                self.out.write(self._page.head())
            self.out.write(self._page.section(prediction, self.count + 1, extra))
        elif fmt == "json":
            body = to_json(prediction, extra)
            if self.many:
                self.out.write(("[\n" if self.count == 0 else ",\n") + body)
            elif self.count == 0:
                self.out.write(body + "\n")
            else:
                raise ValueError("a second document in single-document JSON: pass many=True")
        elif fmt == "jsonl":
            self.out.write(to_jsonl_line(prediction, extra) + "\n")
        elif fmt == "conll":
            self.out.write(to_conll(prediction) + "\n\n")
        else:
            body = token_table(prediction) if fmt == "table" else entity_lines(prediction)
            heading = "  ".join(
                f"{key} {visible(str(value))}" for key, value in (extra or {}).items()
            )
            if heading:
                body = f"# {heading}\n{body}"
            self.out.write(("" if self.count == 0 else "\n") + body + "\n")
        self.count += 1

    def close(self) -> None:
        """End the output (the closing ``]`` of a JSON array); ``out`` itself stays open."""
        if self.fmt == "json" and self.many:
            self.out.write("\n]\n" if self.count else "[]\n")
        elif self._page is not None:
            if self.count == 0:
                self.out.write(self._page.head() + '<p class="empty">(no documents)</p>\n')
            self.out.write(self._page.foot())


def render(
    predictions: Iterable[Prediction],
    fmt: ExportFormat,
    extras: Sequence[Mapping[str, Any] | None] | None = None,
) -> str:
    """Several documents in one format, as :class:`DocumentWriter` writes them.

    ``json`` gives one object for one document and an array for any other number."""
    docs = list(predictions)
    meta = list(extras) if extras is not None else [None] * len(docs)
    buffer = io.StringIO()
    writer = DocumentWriter(buffer, fmt, many=len(docs) != 1)
    for prediction, extra in zip(docs, meta, strict=True):
        writer.write(prediction, extra)
    writer.close()
    return buffer.getvalue()


def write_export(path: str | Path, predictions: Iterable[Prediction], fmt: ExportFormat) -> Path:
    """Write ``render(predictions, fmt)`` to ``path`` as UTF-8 and return the path."""
    target = Path(path).expanduser()
    target.write_text(render(predictions, fmt), encoding="utf-8")
    return target


__all__ = [
    "EXPORT_FORMATS",
    "DocumentWriter",
    "ExportFormat",
    "conll_rows",
    "content_tokens",
    "entity_lines",
    "format_for_path",
    "render",
    "to_conll",
    "to_document",
    "to_json",
    "to_jsonl_line",
    "token_table",
    "visible",
    "write_export",
]
