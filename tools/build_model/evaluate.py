"""Entity-level scoring with seqeval, and span prediction for the student (torch or ONNX)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import encode
import numpy as np
from teacher import ENTITY_TYPES, Span

Logits = Callable[
    [list[list[int]]], list[np.ndarray]
]  # token ids per text -> [len, labels] logits per text


def torch_logits(model: Any, batch_size: int = 32) -> Logits:
    import torch

    def run(ids_list: list[list[int]]) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        model.eval()
        with torch.no_grad():
            for i in range(0, len(ids_list), batch_size):
                batch = ids_list[i : i + batch_size]
                width = max(len(x) for x in batch)
                ids = torch.zeros((len(batch), width), dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for j, x in enumerate(batch):
                    ids[j, : len(x)] = torch.tensor(x)
                    mask[j, : len(x)] = 1
                logits = model(input_ids=ids, attention_mask=mask).logits.numpy()
                out.extend(logits[j, : len(x)] for j, x in enumerate(batch))
        return out

    return run


def onnx_logits(session: Any, batch_size: int = 32) -> Logits:
    def run(ids_list: list[list[int]]) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        for i in range(0, len(ids_list), batch_size):
            batch = ids_list[i : i + batch_size]
            width = max(len(x) for x in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for j, x in enumerate(batch):
                ids[j, : len(x)] = x
                mask[j, : len(x)] = 1
            (logits,) = session.run(
                ["logits"],
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )
            out.extend(logits[j, : len(x)] for j, x in enumerate(batch))
        return out

    return run


def predict_spans(
    tokenizer: Any,
    logits_fn: Logits,
    texts: Sequence[str],
    max_tokens: int,
    aggregation: str = "simple",
) -> list[list[Span]]:
    """Argmax per subword, then lenient IOB2 decoding into character spans.

    ``simple`` is ner-tui's default (every subword's own label); ``first`` gives every subword of a
    word the type of the word's first subword (ner-tui's ``first`` strategy)."""
    encs = [
        tokenizer(
            t,
            truncation=True,
            max_length=max_tokens,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
        )
        for t in texts
    ]
    order = sorted(range(len(texts)), key=lambda i: len(encs[i]["input_ids"]))
    logits_sorted = logits_fn([encs[i]["input_ids"] for i in order])
    logits: list[np.ndarray] = [np.empty(0)] * len(texts)
    for i, row in zip(order, logits_sorted, strict=True):
        logits[i] = row
    out = []
    for enc, row in zip(encs, logits, strict=True):
        tags: list[str | None] = [
            None if s else encode.LABELS[int(k)]
            for s, k in zip(enc["special_tokens_mask"], row.argmax(-1), strict=True)
        ]
        if aggregation == "first":
            word_ids = enc.word_ids()
            for i in range(1, len(tags)):
                prev = tags[i - 1]
                if (
                    tags[i] is not None
                    and word_ids[i] is not None
                    and word_ids[i] == word_ids[i - 1]
                ):
                    tags[i] = "O" if prev in (None, "O") else f"I-{prev[2:]}"  # type: ignore[index]
        out.append(encode.tags_to_spans([tuple(o) for o in enc["offset_mapping"]], tags))
    return out


def score(
    tokenizer: Any,
    texts: Sequence[str],
    gold: Sequence[list[Span]],
    pred: Sequence[list[Span]],
    max_tokens: int,
) -> dict[str, Any]:
    """seqeval entity-level P/R/F1 per type; both sides are projected on the same subword sequence
    (IOB2)."""
    from seqeval.metrics import classification_report

    y_true, y_pred = [], []
    for text, g, p in zip(texts, gold, pred, strict=False):
        _, offsets, special = encode.tokenize_with_offsets(tokenizer, text, max_tokens)
        keep = [i for i, s in enumerate(special) if not s]
        gt = encode.subword_tags(offsets, special, [tuple(x) for x in g])  # type: ignore[misc]
        pt = encode.subword_tags(offsets, special, [tuple(x) for x in p])  # type: ignore[misc]
        y_true.append([gt[i] for i in keep])
        y_pred.append([pt[i] for i in keep])
    report = classification_report(y_true, y_pred, output_dict=True, zero_division=0, mode=None)
    result: dict[str, Any] = {}
    for key in (*ENTITY_TYPES, "micro avg"):
        if key in report:
            r = report[key]
            result[key] = {
                "precision": round(float(r["precision"]), 4),
                "recall": round(float(r["recall"]), 4),
                "f1": round(float(r["f1-score"]), 4),
                "support": int(r["support"]),
            }
    return result
