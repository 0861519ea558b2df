"""Scoring cost: ner-tui's ``Scorer`` vs seqeval + nervaluate, same process, same corpus.

Run with the project venv::

    .venv/bin/python bench/eval_scoring.py [--sentences 10000] [--repeat 5] [--seed 0]

The corpus is synthetic: sentences of 10-40 tokens, 4 entity types, IOB2 tags, entities of
1-3 tokens. Predictions copy each gold entity with probability 0.85; otherwise they change its
type, shift a boundary or drop it; a few spurious entities are added.

Timed (process CPU time, best of ``--repeat``; both sides are single-threaded Python/numpy):

- reference: ``seqeval.metrics.classification_report(output_dict=True)`` plus
  ``nervaluate.Evaluator(..., loader="list").evaluate()`` on the tag lists (each timed alone,
  the sum is the reference);
- scorer: ``Scorer.add`` for every sentence and ``Scorer.report()``, on spans already decoded;
- decode + scorer: the same with tags decoded by ``decode_tags`` into ``Span`` objects and
  per-token types passed for the confusion matrix, one ``decode_tags`` call per sentence;
- the same with one ``decode_tags`` call for the whole corpus (sentences joined by ``O``).

The results are checked against each other before timing (micro F1 and strict counts).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ner_tui.core.scoring import Scorer, Span
from ner_tui.core.tagging import decode_tags

TYPES = ("PER", "ORG", "LOC", "MISC")


def tags_of(n: int, entities: list[tuple[str, int, int]]) -> list[str]:
    tags = ["O"] * n
    for label, start, end in entities:
        tags[start] = f"B-{label}"
        for k in range(start + 1, end):
            tags[k] = f"I-{label}"
    return tags


def synthetic(sentences: int, seed: int) -> tuple[list[list[str]], list[list[str]]]:
    rng = np.random.default_rng(seed)
    y_true, y_pred = [], []
    for _ in range(sentences):
        n = int(rng.integers(10, 41))
        gold: list[tuple[str, int, int]] = []
        k = int(rng.integers(0, 3))
        while k < n:
            if rng.random() < 0.12:
                end = min(n, k + int(rng.integers(1, 4)))
                gold.append((TYPES[int(rng.integers(4))], k, end))
                k = end + 1
            else:
                k += 1
        pred = []
        for label, start, end in gold:
            r = rng.random()
            if r < 0.85:
                pred.append((label, start, end))
            elif r < 0.90:
                pred.append((TYPES[(TYPES.index(label) + 1) % 4], start, end))
            elif r < 0.96:
                pred.append((label, start, max(start + 1, end + (1 if end < n else -1))))
            # else: missed
        if rng.random() < 0.1:
            start = int(rng.integers(0, n))
            if all(e <= start or start + 1 <= s for _, s, e in pred):
                pred.append((TYPES[int(rng.integers(4))], start, start + 1))
        pred.sort(key=lambda e: e[1])
        y_true.append(tags_of(n, gold))
        y_pred.append(tags_of(n, pred))
    return y_true, y_pred


def seqeval_report(y_true: list[list[str]], y_pred: list[list[str]]) -> Any:
    from seqeval.metrics import classification_report

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return classification_report(y_true, y_pred, output_dict=True)


def nervaluate_results(y_true: list[list[str]], y_pred: list[list[str]]) -> Any:
    from nervaluate import Evaluator

    return Evaluator(y_true, y_pred, tags=list(TYPES), loader="list").evaluate()


def reference(y_true: list[list[str]], y_pred: list[list[str]]) -> tuple[Any, Any]:
    return seqeval_report(y_true, y_pred), nervaluate_results(y_true, y_pred)


def spans(tags: list[str]) -> list[Span]:
    return [Span(s, e, label) for label, s, e in decode_tags(tags)[0]]


def token_types(tags: list[str]) -> list[str]:
    return [tag[2:] for tag in tags]


def scorer_on_spans(docs: list[tuple[list[Span], list[Span]]]) -> Scorer:
    scorer = Scorer()
    for gold, pred in docs:
        scorer.add(gold, pred)
    scorer.report()
    return scorer


def decode_and_score(y_true: list[list[str]], y_pred: list[list[str]]) -> Scorer:
    scorer = Scorer()
    for t, p in zip(y_true, y_pred, strict=True):
        scorer.add(spans(t), spans(p), gold_tokens=token_types(t), pred_tokens=token_types(p))
    scorer.report()
    return scorer


def corpus_spans(docs: list[list[str]]) -> list[list[Span]]:
    """All sentences decoded in one ``decode_tags`` call, joined by an ``O`` as seqeval joins
    them (no entity can cross it), then split back by offset."""
    flat: list[str] = []
    offsets = []
    for tags in docs:
        offsets.append(len(flat))
        flat.extend(tags)
        flat.append("O")
    out: list[list[Span]] = [[] for _ in docs]
    k = 0
    for label, s, e in decode_tags(flat)[0]:
        while k + 1 < len(offsets) and offsets[k + 1] <= s:
            k += 1
        out[k].append(Span(s - offsets[k], e - offsets[k], label))
    return out


def corpus_decode_and_score(y_true: list[list[str]], y_pred: list[list[str]]) -> Scorer:
    scorer = Scorer()
    for t, p, g_spans, p_spans in zip(
        y_true, y_pred, corpus_spans(y_true), corpus_spans(y_pred), strict=True
    ):
        scorer.add(g_spans, p_spans, gold_tokens=token_types(t), pred_tokens=token_types(p))
    scorer.report()
    return scorer


def best_cpu(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    y_true, y_pred = synthetic(args.sentences, args.seed)
    tokens = sum(map(len, y_true))
    pairs = zip(y_true, y_pred, strict=True)
    agree = sum(a == b for t, p in pairs for a, b in zip(t, p, strict=True)) / tokens
    in_entities = [
        a == b
        for t, p in zip(y_true, y_pred, strict=True)
        for a, b in zip(t, p, strict=True)
        if a != "O" or b != "O"
    ]
    docs = [(spans(t), spans(p)) for t, p in zip(y_true, y_pred, strict=True)]
    entities = sum(len(g) for g, _ in docs)
    identical = sum(g == p for g, p in docs)
    print(
        f"{args.sentences} sentences, {tokens} tokens, {entities} gold entities; "
        f"token agreement {agree:.1%} "
        f"({sum(in_entities) / len(in_entities):.1%} on tokens in an entity on either side), "
        f"sentences with identical entities {identical / len(docs):.1%}"
    )

    seq, ner = reference(y_true, y_pred)
    report = scorer_on_spans(docs).report()
    assert report.micro.f1 == seq["micro avg"]["f1-score"], "micro F1 differs from seqeval"
    strict = ner["overall"]["strict"]
    ours = report.schemes["strict"]
    assert (ours.correct, ours.incorrect, ours.missed, ours.spurious) == (
        strict.correct,
        strict.incorrect,
        strict.missed,
        strict.spurious,
    ), "strict counts differ from nervaluate"

    assert corpus_spans(y_true) == [g for g, _ in docs]
    assert corpus_spans(y_pred) == [p for _, p in docs]

    t_seq = best_cpu(lambda: seqeval_report(y_true, y_pred), args.repeat)
    t_ner = best_cpu(lambda: nervaluate_results(y_true, y_pred), args.repeat)
    t_ref = t_seq + t_ner
    t_spans = best_cpu(lambda: scorer_on_spans(docs), args.repeat)
    t_full = best_cpu(lambda: decode_and_score(y_true, y_pred), args.repeat)
    t_corpus = best_cpu(lambda: corpus_decode_and_score(y_true, y_pred), args.repeat)
    print(f"seqeval                   {t_seq * 1000:9.1f} ms")
    print(f"nervaluate                {t_ner * 1000:9.1f} ms")
    print(f"seqeval + nervaluate      {t_ref * 1000:9.1f} ms")
    print(f"Scorer (spans given)      {t_spans * 1000:9.1f} ms   {t_ref / t_spans:5.1f}x faster")
    print(f"decode_tags + Scorer      {t_full * 1000:9.1f} ms   {t_ref / t_full:5.1f}x faster")
    print(f"  same, one decode call   {t_corpus * 1000:9.1f} ms   {t_ref / t_corpus:5.1f}x faster")


if __name__ == "__main__":
    main()
