"""Decoding cost: ner-tui's ``decode`` vs transformers' pipeline post-processing, same process.

Run with the project venv (no torch needed)::

    .venv/bin/python bench/decoding.py [--sizes 512 4096 20000] [--repeat 5]

For each document size and aggregation strategy, on the same synthetic probability rows
(words of 1-3 subwords, peaked rows, mostly O, 9 CoNLL labels):

- baseline: ``TokenClassificationPipeline.aggregate`` (word aggregation + B-/I- grouping), the
  pipeline's own code, fed pre-built per-token dicts (its ``gather_pre_entities`` step, which
  also costs per-token Python, is not timed: the baseline is flattered);
- ``decode``: ner-tui's whole decode (labels, top-3 alternatives, a TokenPrediction per token,
  entities with character spans);
- core: ``aggregate`` + ``decode_codes`` only (the vectorised part).

Prints the best of ``--repeat`` runs in ms of process CPU time (both sides are single-threaded
Python/numpy, and CPU time stays meaningful on a shared, loaded machine where wall time does
not) and the baseline/decode ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ner_tui.core.decoding import aggregate, decode, label_set
from ner_tui.core.tagging import decode_codes
from ner_tui.core.types import DecodeOptions, ScoredText

NAMES = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC")


def synthetic(n: int, seed: int = 0) -> ScoredText:
    rng = np.random.default_rng(seed)
    sizes = rng.choice([1, 1, 1, 2, 3], size=n)
    word_ids = np.repeat(np.arange(len(sizes)), sizes)[: n - 2]
    alpha = np.array([8.0] + [0.4] * (len(NAMES) - 1))
    probs = rng.dirichlet(alpha, size=n).astype(np.float32)
    starts = np.arange(n - 2) * 3
    offsets = np.vstack([[0, 0], np.stack([starts, starts + 2], axis=1), [0, 0]])
    return ScoredText(
        text="ab " * n,
        token_ids=np.arange(n, dtype=np.int64),
        token_strs=("[CLS]", *("ab" for _ in range(n - 2)), "[SEP]"),
        offsets=offsets.astype(np.int64),
        special=np.array([True] + [False] * (n - 2) + [True]),
        word_ids=(None, *word_ids.tolist(), None),
        probs=probs,
        id2label=NAMES,
        chunk_of=np.zeros(n, dtype=np.int64),
        chunks=(),
        model="synthetic",
        source="bench",
    )


def pipeline_baseline(scored: ScoredText, strategy: str) -> Callable[[], object]:
    from transformers.pipelines.token_classification import (
        AggregationStrategy,
        TokenClassificationPipeline,
    )

    pipe = object.__new__(TokenClassificationPipeline)
    pipe.model = SimpleNamespace(config=SimpleNamespace(id2label=dict(enumerate(NAMES))))
    pipe.tokenizer = SimpleNamespace(convert_tokens_to_string=lambda tokens: "".join(tokens))
    words = scored.word_ids
    pre = [
        {
            "word": scored.token_strs[i],
            "scores": scored.probs[i],
            "start": int(scored.offsets[i, 0]),
            "end": int(scored.offsets[i, 1]),
            "index": i,
            "is_subword": i > 1 and words[i] == words[i - 1],
        }
        for i in range(1, len(scored) - 1)
    ]
    agg = AggregationStrategy(strategy)

    def run() -> object:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pipe.aggregate(pre, agg)

    return run


def core(scored: ScoredText, strategy: str) -> Callable[[], object]:
    labels = label_set(scored.id2label)

    def run() -> object:
        ids, _ = aggregate(scored.probs, scored.word_ids, scored.special, strategy, labels)
        return decode_codes(labels.codes[ids], labels.type_ids[ids], labels.scheme, "lenient")

    return run


def best_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 4096, 20000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print("CPU milliseconds, best of", args.repeat)
    print(
        f"{'tokens':>7} {'strategy':>8} {'pipeline ms':>12} {'decode ms':>10} {'core ms':>8} "
        f"{'pipeline/decode':>16}"
    )
    for n in args.sizes:
        scored = synthetic(n)
        for strategy in ("simple", "first", "average", "max"):
            base = best_ms(pipeline_baseline(scored, strategy), args.repeat)
            options = DecodeOptions(aggregation=strategy)  # type: ignore[arg-type]
            ours = best_ms(lambda s=scored, o=options: decode(s, o), args.repeat)
            vec = best_ms(core(scored, strategy), args.repeat)
            print(
                f"{n:>7} {strategy:>8} {base:>12.2f} {ours:>10.2f} {vec:>8.2f} "
                f"{base / ours:>15.1f}x"
            )


if __name__ == "__main__":
    main()
