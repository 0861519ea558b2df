"""Corpora as people have them, read one document at a time: CoNLL files and JSONL span files.

Formats (detected from the first non-blank line, or named):

- **CoNLL**: one token per line, the token first and its tag last (CoNLL-2003's ``token POS
  chunk tag``, two-column ``token tag``; tabs or spaces), a blank line between sentences,
  ``-DOCSTART-`` lines skipped. Any scheme the core detects (IOB1, IOB2, IOBES, BILOU, or
  prefix-less). The text the model sees is rebuilt from the tokens joined by single spaces, with
  exact character offsets, so predictions map back onto the gold tokens.
- **JSONL**: ``{"text", "entities": [{"start", "end", "label"}]}`` exactly as
  ``ner-tui predict -o jsonl`` writes it (so saved predictions read back), Prodigy's ``spans``,
  spaCy's ``[text, {"entities": [[start, end, label]]}]``, or ``{"text"}`` alone (no gold).
- **Plain text**: one document per line, no gold.

Reading is lazy: :func:`read_corpus` yields documents as it goes, so memory does not grow with
the file. A broken line or document becomes a :class:`CorpusDocument` carrying its error (line
number and what is wrong); the caller reports it and goes on.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ner_tui.core.errors import InputError
from ner_tui.core.labels import LabelSet, split_label
from ner_tui.core.scoring import Span
from ner_tui.core.tagging import decode_tags
from ner_tui.core.types import CorpusFormat

DOCSTART = "-DOCSTART-"
_HEAD_LINES = 2000


@dataclass(frozen=True, slots=True)
class CorpusDocument:
    """One document of a corpus.

    ``gold`` is None when the corpus has no labels. For CoNLL input ``tokens`` holds each gold
    token's character span in ``text`` and ``gold`` is over token indices (as seqeval counts);
    for JSONL ``tokens`` is None and ``gold`` is over characters."""

    index: int  # 0-based position among the corpus's documents (broken ones included)
    line: int  # 1-based line where it starts
    text: str
    gold: tuple[Span, ...] | None = None
    tokens: tuple[tuple[int, int], ...] | None = None
    error: InputError | None = None
    warnings: tuple[str, ...] = ()


# --------------------------------------------------------------------------- detection


_TAG = re.compile(r"O|[BIESLUM]-\S+")


def detect_format(first_lines: Iterable[str]) -> CorpusFormat:
    """``jsonl`` when the first non-blank line is a JSON object or array; ``conll`` when the
    file starts with ``-DOCSTART-`` or most of its first lines end in a tag (``O``, ``B-PER``);
    else ``text`` (a corpus of prefix-less tags needs ``--format conll``)."""
    lines = [line.strip() for line in first_lines if line.strip()][:50]
    if not lines:
        return "text"
    if lines[0][0] in "{[":
        try:
            json.loads(lines[0])
        except ValueError:
            return "text"
        return "jsonl"
    if lines[0].split()[0] == DOCSTART:
        return "conll"
    tagged = sum(len(c := line.split()) >= 2 and bool(_TAG.fullmatch(c[-1])) for line in lines)
    return "conll" if tagged >= 0.8 * len(lines) else "text"


def detect_scheme(tags: Iterable[str]) -> str:
    """The tagging scheme of a corpus's tags, by the rules the core uses for model labels."""
    names = sorted({t for t in tags})
    return LabelSet.from_names(names or ["O"]).scheme


# --------------------------------------------------------------------------- reading


def read_corpus(
    stream: IO[str],
    fmt: CorpusFormat = "auto",
    *,
    scheme: str | None = None,
    mode: str = "lenient",
    label_map: Mapping[str, str] | None = None,
) -> Iterator[CorpusDocument]:
    """The documents of ``stream`` in order. ``scheme`` (CoNLL only; default: detected from the
    first sentences) and ``mode`` say how gold tags become spans, as seqeval's
    ``classification_report`` would read them; ``label_map`` renames gold types."""
    lines = _numbered(stream)
    head: list[tuple[int, str]] = []  # enough lines to tell the format and the tag scheme
    if fmt in ("auto", "conll"):
        for item in lines:
            head.append(item)
            if len(head) >= _HEAD_LINES:
                break
    if fmt == "auto":
        fmt = detect_format(text for _, text in head)
    everything = _chain(head, lines)
    mapping = dict(label_map or {})
    if fmt == "conll":
        if scheme is None:
            scheme = detect_scheme(_conll_tags(text for _, text in head))
        yield from _read_conll(everything, scheme, mode, mapping)
    elif fmt == "jsonl":
        yield from _read_jsonl(everything, mapping)
    else:
        for index, (number, text) in enumerate((n, t) for n, t in everything if t.strip()):
            yield CorpusDocument(index, number, text)


def open_corpus(path: str | Path) -> IO[str]:
    """``path`` opened for reading as UTF-8 (a BOM dropped), or an InputError in words."""
    file = Path(path).expanduser()
    if not file.exists():
        raise InputError(f"no such file: {path}")
    if file.is_dir():
        raise InputError(f"{path} is a directory, not a file")
    try:
        return file.open(encoding="utf-8-sig", newline="")
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from None


def _numbered(stream: IO[str]) -> Iterator[tuple[int, str]]:
    try:
        for number, line in enumerate(stream, start=1):
            yield number, line.rstrip("\r\n")
    except UnicodeDecodeError as error:
        raise InputError(
            f"the corpus is not UTF-8 text (bad byte at offset {error.start} of a line)",
            hint="Convert it first, e.g. `iconv -f latin1 -t utf-8`.",
        ) from None


def _chain(
    head: list[tuple[int, str]], rest: Iterator[tuple[int, str]]
) -> Iterator[tuple[int, str]]:
    yield from head
    yield from rest


def _conll_tags(lines: Iterable[str]) -> Iterator[str]:
    for line in lines:
        columns = line.split()
        if len(columns) >= 2 and columns[0] != DOCSTART:
            yield columns[-1]


# --------------------------------------------------------------------------- CoNLL


def _read_conll(
    lines: Iterable[tuple[int, str]], scheme: str, mode: str, mapping: dict[str, str]
) -> Iterator[CorpusDocument]:
    index = 0
    sentence: list[tuple[int, str, str]] = []  # (line, token, tag)
    broken: tuple[int, str] | None = None

    def flush() -> CorpusDocument | None:
        nonlocal index, broken
        if not sentence and broken is None:
            return None
        start = sentence[0][0] if sentence else broken[0]  # type: ignore[index]
        if broken is not None:
            doc = CorpusDocument(index, start, "", error=InputError(broken[1]))
        else:
            doc = _conll_document(index, start, sentence, scheme, mode, mapping)
        index += 1
        sentence.clear()
        broken = None
        return doc

    for number, line in lines:
        columns = line.split()
        if not columns or columns[0] == DOCSTART:
            doc = flush()
            if doc is not None:
                yield doc
            continue
        if len(columns) < 2:
            if broken is None:
                broken = (
                    number,
                    f"line {number}: `{line.strip()[:40]}` has one column; CoNLL lines are "
                    "`token ... tag`",
                )
            continue
        sentence.append((number, columns[0], columns[-1]))
    doc = flush()
    if doc is not None:
        yield doc


def _conll_document(
    index: int,
    line: int,
    sentence: list[tuple[int, str, str]],
    scheme: str,
    mode: str,
    mapping: dict[str, str],
) -> CorpusDocument:
    offsets: list[tuple[int, int]] = []
    position = 0
    for _, token, _ in sentence:
        offsets.append((position, position + len(token)))
        position += len(token) + 1
    text = " ".join(token for _, token, _ in sentence)
    tags = [_map_tag(tag, mapping) for _, _, tag in sentence]
    try:
        spans, _ = decode_tags(tags, scheme=scheme, mode=mode)
    except ValueError as error:
        return CorpusDocument(index, line, text, error=InputError(f"line {line}: {error}"))
    gold = tuple(Span(start, end, label) for label, start, end in spans)
    return CorpusDocument(index, line, text, gold=gold, tokens=tuple(offsets))


def _map_tag(tag: str, mapping: dict[str, str]) -> str:
    if not mapping:
        return tag
    prefix, type_ = split_label(tag)
    if prefix == "O" or type_ not in mapping:
        return tag
    return f"{prefix}-{mapping[type_]}" if prefix else mapping[type_]


# --------------------------------------------------------------------------- JSONL


def _read_jsonl(
    lines: Iterable[tuple[int, str]], mapping: dict[str, str]
) -> Iterator[CorpusDocument]:
    index = 0
    for number, line in lines:
        if not line.strip():
            continue
        try:
            text, spans = _jsonl_record(json.loads(line))
            gold = None if spans is None else _checked_spans(text, spans, mapping)
            doc = CorpusDocument(index, number, text, gold=gold, warnings=_cut_words(text, gold))
        except (ValueError, InputError) as error:
            message = str(error) if isinstance(error, InputError) else f"not valid JSON: {error}"
            doc = CorpusDocument(index, number, "", error=InputError(f"line {number}: {message}"))
        yield doc
        index += 1


_SPAN_HINT = (
    'a JSONL document is {"text": ..., "entities": [{"start", "end", "label"}]}, Prodigy\'s '
    '"spans", or spaCy\'s [text, {"entities": [[start, end, label]]}]'
)


def _jsonl_record(value: Any) -> tuple[str, list[tuple[Any, Any, Any, Any]] | None]:
    """The text and raw ``(start, end, label, score)`` of one JSONL value's spans (None: no
    spans). A score is kept when there is one, so saved predictions keep their confidence."""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[1], dict):
        text, raw = value[0], value[1].get("entities")
    elif isinstance(value, dict):
        text = value.get("text")
        raw = value["entities"] if "entities" in value else value.get("spans")
    else:
        raise InputError(f"not a corpus document: {_SPAN_HINT}")
    if not isinstance(text, str):
        raise InputError(f"no string `text`: {_SPAN_HINT}")
    if raw is None:
        return text, None
    if not isinstance(raw, list):
        raise InputError(f"the entities are not a list: {_SPAN_HINT}")
    triples: list[tuple[Any, Any, Any, Any]] = []
    for item in raw:
        if isinstance(item, dict):
            triples.append(
                (item.get("start"), item.get("end"), item.get("label"), item.get("score"))
            )
        elif isinstance(item, list) and len(item) >= 3:
            triples.append((item[0], item[1], item[2], None))
        else:
            raise InputError(f"entity {item!r:.60} is not a span: {_SPAN_HINT}")
    return text, triples


def _checked_spans(
    text: str, triples: list[tuple[Any, Any, Any, Any]], mapping: dict[str, str]
) -> tuple[Span, ...]:
    spans: list[Span] = []
    for start, end, label, score in triples:
        if not (_is_int(start) and _is_int(end) and isinstance(label, str) and label):
            raise InputError(f"span {start!r}-{end!r} {label!r}: needs integer offsets and a label")
        if not 0 <= start < end <= len(text):
            raise InputError(
                f"span {start}-{end} {label} is outside the text (length {len(text)}) or empty"
            )
        confidence = float(score) if isinstance(score, (int, float)) else None
        spans.append(Span(start, end, mapping.get(label, label), confidence))
    spans.sort(key=lambda s: (s.start, s.end))
    for before, after in itertools.pairwise(spans):
        if after.start < before.end:
            raise InputError(
                f"gold spans overlap: {before.start}-{before.end} {before.label} and "
                f"{after.start}-{after.end} {after.label} (NER gold has one label per character)"
            )
    return tuple(spans)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _inside_word(text: str, at: int) -> bool:
    return 0 < at < len(text) and text[at - 1].isalnum() and text[at].isalnum()


def _cut_words(text: str, gold: tuple[Span, ...] | None) -> tuple[str, ...]:
    """A warning per gold span that starts or ends inside a word (``Obam`` of ``Obama``): no
    word-level model can predict it, so it will count as an error."""
    notes = []
    for span in gold or ():
        if _inside_word(text, span.start) or _inside_word(text, span.end):
            notes.append(
                f"gold span {span.start}-{span.end} {span.label} "
                f"({text[span.start : span.end]!r}) cuts a word"
            )
    return tuple(notes)


def token_spans(
    entities: Iterable[tuple[int, int, str, float | None]], tokens: tuple[tuple[int, int], ...]
) -> tuple[Span, ...]:
    """Character-span predictions (sorted, not overlapping) mapped onto gold tokens: an entity
    covers every token it overlaps that no earlier entity took, as a CoNLL file of the
    prediction would say."""
    spans: list[Span] = []
    first = 0
    for start, end, label, score in entities:
        while first < len(tokens) and tokens[first][1] <= start:
            first += 1
        last = first
        while last < len(tokens) and tokens[last][0] < end:
            last += 1
        if last > first:
            spans.append(Span(first, last, label, score))
            first = last
    return tuple(spans)
