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

``--tricks`` instead times ``decode`` with and without each of its two shortcuts past Python's
object model (``_build_many``: TokenPredictions filled slot by slot without ``__init__``;
``_gc_paused``: the cyclic collector off while they are built), same process, in alternating
blocks of ``--block`` decodes each (so a collection the pause only postpones is still paid in
the block), the last result kept alive as the TUI keeps it. ``--tui-heap`` first imports the
TUI and loads the bundled model's tokenizer, so the collector walks the heap a running TUI has;
``--layout`` (implies ``--tui-heap``) times the TUI's whole thread work after a response,
``decode_and_layout`` (decoding and building the highlighted document), instead of ``decode``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import ner_tui.core.decoding as decoding_module
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


def _plain_build(cls: type, *columns: object) -> tuple[object, ...]:
    return tuple(map(cls, *columns))  # type: ignore[call-overload]


# name -> (builder, context manager around the build), as decoding._tokens uses them
TRICKS: dict[str, tuple[Callable[..., object], Callable[[], object]]] = {
    "both": (decoding_module._build_many, decoding_module._gc_paused),
    "build_many": (decoding_module._build_many, contextlib.nullcontext),
    "gc_paused": (_plain_build, decoding_module._gc_paused),
    "plain": (_plain_build, contextlib.nullcontext),
}


def tricks(sizes: list[int], rounds: int, block: int, tui_heap: bool, layout: bool) -> None:
    work: Callable[[ScoredText, DecodeOptions], object] = decode
    if layout:
        from ner_tui.ui.document import decode_and_layout
        from ner_tui.ui.palette import EntityPalette, entity_types

        palette = EntityPalette(entity_types(NAMES))

        def work(scored: ScoredText, options: DecodeOptions) -> object:
            return decode_and_layout(scored, options, palette, True)

    if tui_heap or layout:
        import ner_tui.ui.app  # noqa: F401  (the TUI's modules, as a running TUI has them)
        from ner_tui.core.alignment import load_model_info
        from ner_tui.models import bundled_model_path

        load_model_info(bundled_model_path())
    print(
        f"gc-tracked objects before timing: {len(gc.get_objects()):,}; "
        f"thresholds {gc.get_threshold()}"
    )
    print(
        f"CPU ms per {'decode_and_layout' if layout else 'decode'}: "
        f"median over {rounds} rounds of the mean of a block of {block}"
    )
    names = list(TRICKS)
    print(f"{'tokens':>7} " + " ".join(f"{n:>11}" for n in names) + "   plain/both  plain-both ms")
    saved = (decoding_module._build_many, decoding_module._gc_paused)
    keep: object = None
    try:
        for n in sizes:
            scored = synthetic(n)
            options = DecodeOptions(aggregation="first")
            per: dict[str, list[float]] = {name: [] for name in names}
            for r in range(rounds):
                order = names[r % len(names) :] + names[: r % len(names)]
                for name in order:
                    builder, pause = TRICKS[name]
                    decoding_module._build_many = builder  # type: ignore[assignment]
                    decoding_module._gc_paused = pause  # type: ignore[assignment]
                    keep = work(scored, options)  # warm, and the previous result replaced
                    t0 = time.process_time()
                    for _ in range(block):
                        keep = work(scored, options)
                    per[name].append((time.process_time() - t0) * 1000 / block)
            med = {name: statistics.median(v) for name, v in per.items()}
            print(
                f"{n:>7} "
                + " ".join(f"{med[name]:>11.2f}" for name in names)
                + f"   {med['plain'] / med['both']:>9.2f}x  {med['plain'] - med['both']:>12.2f}"
            )
    finally:
        decoding_module._build_many, decoding_module._gc_paused = saved  # type: ignore[assignment]
    del keep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 4096, 20000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tricks", action="store_true", help="time decode's shortcuts")
    parser.add_argument("--tui-heap", action="store_true", help="with --tricks: TUI's heap")
    parser.add_argument("--layout", action="store_true", help="with --tricks: + layout")
    parser.add_argument("--rounds", type=int, default=7, help="with --tricks")
    parser.add_argument("--block", type=int, default=5, help="with --tricks")
    args = parser.parse_args()
    if args.tricks:
        tricks(args.sizes, args.rounds, args.block, args.tui_heap, args.layout)
        return
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
