"""The paired bootstrap of ``eval --compare-*``: the numpy version against a plain loop.

Random per-document counts (correct, predicted, gold) for two models over ``--docs`` documents
and ``--types`` entity types (plus the micro column), as :class:`PairedCounts` holds them.
Measured, each the median of ``--repeat``:

- baseline: the bootstrap written as a Python loop (one resample at a time, counts summed per
  document), on ``--loop-resamples`` resamples and scaled to ``--resamples``;
- :func:`ner_tui.core.compare.paired_bootstrap` on ``--resamples`` resamples.

Both draw the same indices from the same seed (the tests check they give the same interval).

    .venv/bin/python bench/compare_bootstrap.py [--docs 10000] [--types 5] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from ner_tui.core.compare import paired_bootstrap


def counts(rng: np.random.Generator, docs: int, columns: int) -> np.ndarray:
    gold = rng.integers(0, 4, size=(docs, columns))
    predicted = rng.integers(0, 4, size=(docs, columns))
    correct = np.minimum(gold, predicted)
    return np.stack([correct, predicted, gold], axis=2)


def loop(a: np.ndarray, b: np.ndarray, resamples: int, seed: int) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    n, columns, _ = a.shape
    a_rows, b_rows = a.tolist(), b.tolist()
    out = []
    for _ in range(resamples):
        picked = rng.integers(0, n, size=n).tolist()
        row = []
        for k in range(columns):
            f1 = []
            for side in (a_rows, b_rows):
                c = p = g = 0
                for d in picked:
                    c += side[d][k][0]
                    p += side[d][k][1]
                    g += side[d][k][2]
                f1.append(2 * c / (p + g) if p + g else 0.0)
            row.append(f1[1] - f1[0])
        out.append(row)
    return out


def median_seconds(run: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--types", type=int, default=5)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--loop-resamples", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    a, b = counts(rng, args.docs, args.types + 1), counts(rng, args.docs, args.types + 1)
    loop_s = median_seconds(lambda: loop(a, b, args.loop_resamples, 0), args.repeat)
    loop_s *= args.resamples / args.loop_resamples
    numpy_s = median_seconds(
        lambda: paired_bootstrap(a, b, resamples=args.resamples, seed=0), args.repeat
    )
    print(f"{args.docs:,} documents, {args.types} types + micro, {args.resamples:,} resamples")
    print(f"  baseline, Python loop (scaled from {args.loop_resamples}): {loop_s:8.2f} s")
    print(f"  paired_bootstrap (numpy):                 {numpy_s:8.3f} s")
    print(f"  speed-up: {loop_s / numpy_s:,.0f}x")


if __name__ == "__main__":
    main()
