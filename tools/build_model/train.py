"""Fine-tune the MiniLM-L6 encoder as a BertForTokenClassification on every subword's label."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from typing import Any

import encode


def length_grouped_batches(
    lengths: list[int], batch_size: int, rng: random.Random
) -> list[list[int]]:
    """Shuffle, sort by length inside windows of 50 batches (little padding), then shuffle the
    batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * 50
    batches: list[list[int]] = []
    for w in range(0, len(order), window):
        part = sorted(order[w : w + window], key=lambda i: lengths[i])
        batches.extend(part[k : k + batch_size] for k in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


def train(
    base_dir: str,
    examples: list[dict[str, Any]],
    *,
    seed: int,
    epochs: int,
    batch_size: int,
    lr: float,
    threads: int,
    log: Callable[[str], None],
    on_epoch_end: Callable[[Any, int], float] | None = None,
    prepare: Callable[[Any], Any] | None = None,
    case_lr: float = 2e-3,
) -> tuple[Any, list[dict[str, Any]]]:
    """Returns the model with the best dev score (or the last one) and a per-epoch history.
    ``prepare`` changes the freshly loaded model before training (the cased vocabulary)."""
    import torch
    from transformers import BertForTokenClassification

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    rng = random.Random(seed)
    model = BertForTokenClassification.from_pretrained(
        base_dir,
        num_labels=len(encode.LABELS),
        id2label=dict(enumerate(encode.LABELS)),
        label2id=encode.LABEL2ID,
    )
    if prepare is not None:
        model = prepare(model)
    no_decay = ("bias", "LayerNorm.weight")
    named = list(model.named_parameters())
    # The cased vocabulary's case vectors start at zero and are shared by thousands of tokens:
    # at the encoder's learning rate they stay a few percent of an embedding row, too small to
    # carry capitalisation, so they get their own (higher) rate and no weight decay.
    case = [p for n, p in named if n.endswith("word_embeddings.case")]
    rest = [(n, p) for n, p in named if not n.endswith("word_embeddings.case")]
    params = [
        {"params": [p for n, p in rest if not n.endswith(no_decay)], "weight_decay": 0.01},
        {"params": [p for n, p in rest if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    if case:
        params.append({"params": case, "weight_decay": 0.0, "lr": case_lr})
    optimizer = torch.optim.AdamW(params, lr=lr)
    lengths = [len(e["input_ids"]) for e in examples]
    steps_per_epoch = math.ceil(len(examples) / batch_size)
    total = steps_per_epoch * epochs
    warmup = max(1, int(0.06 * total))

    def schedule(step: int) -> float:
        return step / warmup if step < warmup else max(0.0, (total - step) / max(1, total - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    history: list[dict[str, Any]] = []
    best_score, best_state = -1.0, None
    step = 0
    for epoch in range(1, epochs + 1):
        model.train()
        t0 = time.time()
        running = 0.0
        for n, batch in enumerate(length_grouped_batches(lengths, batch_size, rng), 1):
            width = max(lengths[i] for i in batch)
            ids = torch.zeros((len(batch), width), dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            labels = torch.full((len(batch), width), encode.IGNORE, dtype=torch.long)
            for j, i in enumerate(batch):
                ex = examples[i]
                ids[j, : lengths[i]] = torch.tensor(ex["input_ids"])
                mask[j, : lengths[i]] = 1
                labels[j, : lengths[i]] = torch.tensor(ex["labels"])
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            running += float(loss)
            if n % 50 == 0:
                log(
                    f"epoch {epoch} step {n}/{steps_per_epoch} loss {running / 50:.4f} "
                    f"({time.time() - t0:.0f}s)"
                )
                running = 0.0
        record: dict[str, Any] = {"epoch": epoch, "seconds": round(time.time() - t0)}
        if on_epoch_end is not None:
            dev = on_epoch_end(model, epoch)
            record["dev_micro_f1"] = dev
            if dev > best_score:
                best_score = dev
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        history.append(record)
        log(f"epoch {epoch} done: {record}")
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return model, history
