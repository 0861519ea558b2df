"""The app's corpus view at 10,000 sentences: time to first paint and to re-score.

The 16 hand-labelled news sentences (``tests/fixtures/eval/news.conll``) are scored once by the
local engine (bundled model); their ``ScoredText`` is reused to make ``--docs`` documents
(sentence ``i % 16``), so no model call is timed. Measured, each the median of ``--repeat``:

- baseline: the headless ``Scorer`` alone over the corpus (``score_document`` per document,
  predictions already in the gold's units): what ``ner-tui eval`` pays to score, no decoding;
- decoding every kept text (aggregation or strict mode changed): ``decode`` text by text (the
  old path, ``decode_each``), then ``CorpusDecoder`` (pack once, then one vectorised pass);
- re-scoring at a new threshold: every document (``rescore``), then only those whose kept
  entities changed (``rescore(..., previous=...)``), and the same after an aggregation change;
- in the app (headless ``run_test``), next to the help screen's first paint and a sort key
  (``s``: re-sort and repaint the list, no scoring) as the baselines of what a screen and a
  repaint cost on this machine: first paint of the corpus screen (push, scores panel
  and the document list's visible rows, one refresh), and key press to new scores painted for
  f4 (threshold) and f2 (aggregation: each aggregation is decoded once and each setting
  scored once, so f2 is timed on an aggregation not decoded yet, on one decoded before at
  another threshold, and on a setting seen before).

Goal (issue): < 100 ms for first paint and for a re-score.

    .venv/bin/python bench/corpus_view.py [--docs 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ner_tui.core.corpus import CorpusDocument, open_corpus, read_corpus
from ner_tui.core.corpus_scores import CorpusDecoder, decode_each, rescore
from ner_tui.core.evaluation import predicted_spans, score_document
from ner_tui.core.scoring import Scorer
from ner_tui.core.settings import Settings
from ner_tui.core.types import AGGREGATIONS, DecodeOptions, ScoredText

ROOT = Path(__file__).parent.parent
CONLL = ROOT / "tests" / "fixtures" / "eval" / "news.conll"


def median_ms(func: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def corpus(n: int) -> tuple[list[CorpusDocument], list[ScoredText | None]]:
    """``n`` documents cycling through the fixture sentences, each with its kept scores."""
    from ner_tui.core.alignment import score
    from ner_tui.core.connect import connect

    with open_corpus(str(CONLL)) as stream:
        base = list(read_corpus(stream, "auto"))
    conn = await connect(Settings(local=True), "local")
    try:
        kept = [
            await score(conn.backend, conn.info, d.text, model=conn.model, max_model_len=None)
            for d in base
        ]
    finally:
        await conn.aclose()
    docs = [
        CorpusDocument(i, i + 1, base[i % 16].text, base[i % 16].gold, base[i % 16].tokens)
        for i in range(n)
    ]
    return docs, [kept[i % 16] for i in range(n)]


async def in_app(
    docs: list[CorpusDocument], kept: list[ScoredText | None], repeat: int
) -> dict[str, float]:
    from ner_tui.ui.app import NerTuiApp
    from ner_tui.ui.screens.corpus import CorpusScreen

    app = NerTuiApp(Settings(local=True), initial_text="")
    import ner_tui.core.corpus_scores as corpus_scores
    from ner_tui.ui.screens.help import HelpScreen

    out: dict[str, list[float]] = {
        "help": [],
        "paint": [],
        "sort": [],
        "f4": [],
        "f2": [],
        "f2 again": [],
        "f2 seen": [],
    }
    ours: dict[str, list[float]] = {}  # the view's own work, by what pressed it
    spent: dict[str, float] = {}

    def timed(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + (time.perf_counter() - start) * 1000

        return wrapper

    # What the app calls: decoding and re-scoring (in the worker's thread), and putting the
    # new scores on screen (scores panel, select() and the list), timed apart from the paint.
    corpus_scores.rescore = timed("rescore", corpus_scores.rescore)  # type: ignore[assignment]
    CorpusDecoder.decode = timed("decode", CorpusDecoder.decode)  # type: ignore[method-assign]
    CorpusScreen.show_scores = timed("show_scores", CorpusScreen.show_scores)  # type: ignore[method-assign]

    async def press(key: str, name: str) -> float:
        """Milliseconds from ``key`` to the new scores painted."""
        before = app.corpus_scores
        spent.clear()
        start = time.perf_counter()
        await pilot.press(key)
        while app.corpus_scores is before:
            await asyncio.sleep(0.005)  # not pilot.pause: leave the GIL to the worker
        await pilot.pause()
        for part, ms in spent.items():
            ours.setdefault(f"{name}: {part}", []).append(ms)
        return (time.perf_counter() - start) * 1000

    async with app.run_test(size=(120, 36)) as pilot:
        while app.connection is None:
            await pilot.pause(0.05)
        options = app.decode_options
        app.corpus_docs, app.corpus_scored = docs, kept
        app._corpus_decoder = CorpusDecoder(kept)  # what the run's first scoring leaves
        app.corpus_scores = rescore(docs, app._corpus_decoder.decode(options), options)
        for _ in range(repeat):
            start = time.perf_counter()
            await app.push_screen(HelpScreen([("f1", "Help", "Every key.")]))
            await pilot.pause()
            out["help"].append((time.perf_counter() - start) * 1000)
            app.pop_screen()
            await pilot.pause()
            start = time.perf_counter()
            screen = CorpusScreen("bench")
            app.corpus_screen = screen
            await app.push_screen(screen)  # on_mount shows the app's corpus_scores
            await pilot.pause()
            assert screen.shown, "the document list was not filled"
            out["paint"].append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            await pilot.press("s")  # no scoring: select() and the list, then the paint
            await pilot.pause()
            out["sort"].append((time.perf_counter() - start) * 1000)
            out["f4"].append(await press("f4", "f4"))
            out["f2"].append(await press("f2", "f2"))  # an aggregation not decoded yet
            app.pop_screen()
            await pilot.pause()
        await app.push_screen(app.corpus_screen)
        await pilot.pause()
        for _ in range(len(AGGREGATIONS) - repeat):  # the remaining aggregations, untimed
            await press("f2", "untimed")
        for _ in range(repeat):  # every aggregation decoded once: no decoding now
            out["f2 again"].append(await press("f2", "f2 again"))
        for _ in range(len(AGGREGATIONS) - repeat):
            await press("f2", "untimed")
        for _ in range(repeat):  # every aggregation scored at this threshold: lookups
            out["f2 seen"].append(await press("f2", "f2 seen"))
    return {k: statistics.median(v) for k, v in {**out, **ours}.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not 1 <= args.repeat < len(AGGREGATIONS):
        parser.error(
            f"--repeat must be 1 to {len(AGGREGATIONS) - 1} (each repeat visits a new aggregation)"
        )
    docs, kept = asyncio.run(corpus(args.docs))
    options = DecodeOptions()
    decoded = CorpusDecoder(kept).decode(options)
    assert decoded == decode_each(kept, options)
    predicted = [predicted_spans(d, e or ()) for d, e in zip(docs, decoded, strict=True)]

    def baseline() -> None:
        scorer = Scorer()
        for doc, spans in zip(docs, predicted, strict=True):
            assert doc.gold is not None
            score_document(scorer, doc, doc.gold, spans)
        scorer.report()

    first = DecodeOptions(aggregation="first")
    decoder = CorpusDecoder(kept)
    at_0 = rescore(docs, decoded, options)
    decoded_first = decoder.decode(first)
    half = DecodeOptions(threshold=0.5)
    base = median_ms(baseline, args.repeat)
    rows = [
        ("decode text by text (old f2/f3)", median_ms(lambda: decode_each(kept, first), 1)),
        (
            "CorpusDecoder: pack the kept scores once",
            median_ms(lambda: CorpusDecoder(kept), args.repeat),
        ),
        (
            "CorpusDecoder.decode, one aggregation",
            median_ms(lambda: decoder.decode_uncached(first), args.repeat),
        ),
        (
            "rescore every document (old f4)",
            median_ms(lambda: rescore(docs, decoded, half), args.repeat),
        ),
        (
            "rescore changed only: threshold 0 -> 0.5",
            median_ms(lambda: rescore(docs, decoded, half, previous=at_0), args.repeat),
        ),
        (
            "rescore changed only: simple -> first",
            median_ms(lambda: rescore(docs, decoded_first, first, previous=at_0), args.repeat),
        ),
    ]
    app = asyncio.run(in_app(docs, kept, args.repeat))
    rows += [
        ("app baseline: help screen first paint", app["help"]),
        ("app: corpus screen first paint", app["paint"]),
        ("app baseline: s (sort) pressed -> painted", app["sort"]),
        ("app: f4 pressed -> new scores painted", app["f4"]),
        ("app: f2, aggregation not decoded yet", app["f2"]),
        ("app: f2, aggregation decoded before", app["f2 again"]),
        ("app: f2, aggregation + threshold seen", app["f2 seen"]),
    ]
    rows += [(f"  of which {k}", ms) for k, ms in app.items() if ":" in k and "untimed" not in k]
    changed = sum(
        a is not b
        for a, b in zip(
            rescore(docs, decoded, half, previous=at_0).results, at_0.results, strict=True
        )
    )
    print(
        f"{args.docs:,} documents (median of {args.repeat}; goal < 100 ms); "
        f"threshold 0 -> 0.5 changes {changed:,} of them"
    )
    print(f"  {'baseline: Scorer alone (eval scoring)':<42} {base:9.1f} ms")
    for name, ms in rows:
        print(f"  {name:<42} {ms:9.1f} ms {ms / base:6.2f}x baseline")


if __name__ == "__main__":
    main()
