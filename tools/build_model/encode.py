"""Character spans -> subword IOB2 labels (every subword labelled), and documents -> model-sized
chunks."""

from __future__ import annotations

from typing import Any

from teacher import ENTITY_TYPES, Span

IGNORE = -100
LABELS = ["O"] + [f"{prefix}-{kind}" for kind in ENTITY_TYPES for prefix in ("B", "I")]
LABEL2ID = {label: i for i, label in enumerate(LABELS)}


def subword_tags(
    offsets: list[tuple[int, int]], special: list[int], spans: list[Span]
) -> list[str | None]:
    """IOB2 tag per token: B- on the first subword of an entity, I- on every later one; None for
    special tokens."""
    tags: list[str | None] = []
    ordered = sorted(spans)
    for (start, end), is_special in zip(offsets, special, strict=False):
        if is_special or start == end:
            tags.append(None)
            continue
        tag = "O"
        for s_start, s_end, kind in ordered:
            if start < s_end and end > s_start:  # overlap
                previous = tags[-1] if tags else None
                inside_same = (
                    previous is not None
                    and previous != "O"
                    and previous[2:] == kind
                    and start > s_start
                )
                tag = f"I-{kind}" if inside_same else f"B-{kind}"
                break
        tags.append(tag)
    return tags


def tags_to_spans(offsets: list[tuple[int, int]], tags: list[str | None]) -> list[Span]:
    """Lenient IOB2 decoding (an orphan I- starts an entity) into character spans."""
    spans: list[Span] = []
    current: list[Any] | None = None
    for (start, end), tag in zip(offsets, tags, strict=False):
        if tag is None or tag == "O":
            if current:
                spans.append((current[0], current[1], current[2]))
            current = None
            continue
        prefix, kind = tag[:1], tag[2:]
        if current is not None and prefix == "I" and current[2] == kind:
            current[1] = end
            continue
        if current:
            spans.append((current[0], current[1], current[2]))
        current = [start, end, kind]
    if current:
        spans.append((current[0], current[1], current[2]))
    return spans


def chunk_document(
    tokenizer: Any, text: str, sentences: list[tuple[int, int]], max_tokens: int
) -> list[tuple[int, int]]:
    """Group whole sentences into character ranges of at most ``max_tokens`` subwords (long
    sentences are cut)."""
    budget = max_tokens - 2
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    starts = [s for s, _ in enc["offset_mapping"]]
    ends = [e for _, e in enc["offset_mapping"]]

    def count(a: int, b: int) -> int:
        return sum(1 for s, e in zip(starts, ends, strict=False) if s >= a and e <= b)

    pieces: list[tuple[int, int]] = []
    for s_start, s_end in sentences:
        if count(s_start, s_end) <= budget:
            pieces.append((s_start, s_end))
            continue
        idx = [
            i
            for i, (s, e) in enumerate(zip(starts, ends, strict=False))
            if s >= s_start and e <= s_end
        ]
        for k in range(0, len(idx), budget):
            part = idx[k : k + budget]
            pieces.append((starts[part[0]], ends[part[-1]]))
    chunks: list[tuple[int, int]] = []
    for start, end in pieces:
        if (
            chunks
            and "\n" not in text[chunks[-1][1] : start]
            and count(chunks[-1][0], end) <= budget
        ) or (
            chunks and count(chunks[-1][0], end) <= budget and len(text[chunks[-1][0] : end]) < 400
        ):
            chunks[-1] = (chunks[-1][0], end)
        else:
            chunks.append((start, end))
    return chunks


def clip_spans(spans: list[Span], start: int, end: int) -> list[Span]:
    """Spans inside [start, end), shifted to the chunk's own offsets."""
    return [(s - start, e - start, k) for s, e, k in spans if s >= start and e <= end]


def tokenize_with_offsets(
    tokenizer: Any, text: str, max_tokens: int
) -> tuple[Any, list[tuple[int, int]], list[int]]:
    """The encoding (truncated to ``max_tokens``), its character offsets and special-token mask."""
    enc = tokenizer(
        text,
        truncation=True,
        max_length=max_tokens,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
    )
    return enc, [tuple(o) for o in enc["offset_mapping"]], enc["special_tokens_mask"]


def encode_example(
    tokenizer: Any, text: str, teacher_spans: list[list[Span]], max_tokens: int
) -> dict[str, Any]:
    """Token ids + label ids; with several teachers a token whose tags disagree is ignored in the
    loss."""
    enc, offsets, special = tokenize_with_offsets(tokenizer, text, max_tokens)
    all_tags = [subword_tags(offsets, special, spans) for spans in teacher_spans]
    labels = []
    for i in range(len(offsets)):
        tags = {t[i] for t in all_tags}
        if len(tags) != 1 or None in tags:
            labels.append(IGNORE)
        else:
            labels.append(LABEL2ID[tags.pop()])  # type: ignore[index]
    return {"input_ids": enc["input_ids"], "labels": labels}
