"""The app's corpus view at 10,000 sentences: time to first paint and to re-score.

The 16 hand-labelled news sentences (``tests/fixtures/eval/news.conll``) are scored once by the
local engine (bundled model); their ``ScoredText`` is reused to make ``--docs`` documents
(sentence ``i % 16``), so no model call is timed. Measured, each the median of ``--repeat``:

- baseline: the headless ``Scorer`` alone over the corpus (``score_document`` per document,
  predictions already in the gold's units): what ``ner-tui eval`` pays to score, no decoding;
- ``decode_corpus``: decoding every kept text (aggregation or strict mode changed);
- ``rescore``: filtering the kept entities at a threshold and scoring (threshold changed);
- in the app (headless ``run_test``), next to the help screen's first paint as the baseline of
  what any screen costs on this machine: first paint of the corpus screen (push, scores panel
  and the document list's first ``MAX_ROWS`` rows, one refresh), and key press to new scores
  painted for f4 (threshold) and f2 (aggregation).

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
from ner_tui.core.corpus_scores import decode_corpus, rescore
from ner_tui.core.evaluation import predicted_spans, score_document
from ner_tui.core.scoring import Scorer
from ner_tui.core.settings import Settings
from ner_tui.core.types import DecodeOptions, ScoredText

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
    from ner_tui.ui.screens.help import HelpScreen

    out: dict[str, list[float]] = {"help": [], "paint": [], "f4": [], "f2": []}
    async with app.run_test(size=(120, 36)) as pilot:
        while app.connection is None:
            await pilot.pause(0.05)
        options = app.decode_options
        decoded = decode_corpus(kept, options)
        scores = rescore(docs, decoded, options)
        app.corpus_docs, app.corpus_scored = docs, kept
        app._corpus_decoded = ((options.aggregation, options.mode), decoded)
        app.corpus_scores = scores
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
            for key in ("f4", "f2"):
                before = app.corpus_scores
                start = time.perf_counter()
                await pilot.press(key)
                while app.corpus_scores is before:
                    await asyncio.sleep(0.005)  # not pilot.pause: leave the GIL to the worker
                await pilot.pause()
                out[key].append((time.perf_counter() - start) * 1000)
            app.pop_screen()
            await pilot.pause()
    return {k: statistics.median(v) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    docs, kept = asyncio.run(corpus(args.docs))
    options = DecodeOptions()
    decoded = decode_corpus(kept, options)
    predicted = [predicted_spans(d, e or ()) for d, e in zip(docs, decoded, strict=True)]

    def baseline() -> None:
        scorer = Scorer()
        for doc, spans in zip(docs, predicted, strict=True):
            assert doc.gold is not None
            score_document(scorer, doc, doc.gold, spans)
        scorer.report()

    rows = [
        ("baseline: Scorer alone (eval's scoring)", median_ms(baseline, args.repeat)),
        ("decode_corpus (f2/f3: re-decode)", median_ms(lambda: decode_corpus(kept, options), 1)),
        (
            "rescore (f4: threshold, no decode)",
            median_ms(lambda: rescore(docs, decoded, DecodeOptions(threshold=0.5)), args.repeat),
        ),
    ]
    app = asyncio.run(in_app(docs, kept, args.repeat))
    rows += [
        ("app baseline: help screen first paint", app["help"]),
        ("app: corpus screen first paint", app["paint"]),
        ("app: f4 pressed -> new scores painted", app["f4"]),
        ("app: f2 pressed -> new scores painted", app["f2"]),
    ]
    print(f"{args.docs:,} documents (median of {args.repeat}; goal < 100 ms)")
    for name, ms in rows:
        print(f"  {name:<42} {ms:9.1f} ms")


if __name__ == "__main__":
    main()
