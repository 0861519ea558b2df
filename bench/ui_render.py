"""How fast the TUI shows a response, and how it types while a prediction runs.

For documents of about 50, 2,000 and 20,000 tokens (real scores from the local engine, computed
before timing starts), it measures:

- ``decode+layout``: the thread work after a response arrives (BIO decoding, building the
  highlighted document) -- off the event loop, but part of the wait;
- ``ui``: from the ``PredictionReady`` message being posted to the first frame that shows it
  (widget updates, layout, compositor render and the terminal bytes for that frame);
- the same ``ui`` step for a naive baseline in the same process: a Static holding the whole
  highlighted Content in a VerticalScroll and a DataTable with one row per token (what the
  widgets would be without the Line API);

then the typing latency (key press to the frame showing the character) with no prediction
running, and while a 20,000-token prediction runs on the local engine.

Usage: ``.venv/bin/python bench/ui_render.py [--model DIR] [--repeat N]``
(default model: the bundled one if present, else tests/fixtures/tiny-bert-ner).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from rich.text import Text
from textual import events
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from ner_tui.core.alignment import score
from ner_tui.core.engine import LocalEngine
from ner_tui.core.model_info import load_model_info
from ner_tui.core.settings import Settings
from ner_tui.core.types import DecodeOptions, ScoredText
from ner_tui.models import bundled_model_path
from ner_tui.ui.app import NerTuiApp
from ner_tui.ui.document import decode_and_layout
from ner_tui.ui.messages import PredictionReady
from ner_tui.ui.palette import EntityPalette, entity_types
from ner_tui.ui.samples import SAMPLES
from ner_tui.ui.widgets.input_pane import InputPane

ROOT = Path(__file__).resolve().parent.parent
SIZE = (140, 45)
TARGETS = (50, 2_000, 20_000)


def default_model() -> Path:
    bundled = bundled_model_path()
    if (bundled / "config.json").is_file():
        return bundled
    return ROOT / "tests" / "fixtures" / "tiny-bert-ner"


def text_of(info: Any, tokens: int) -> str:
    """A text of about ``tokens`` content tokens, built from the samples."""
    pieces = [SAMPLES["News"], SAMPLES["Sports"], SAMPLES["Science"]]
    per_piece = [len(info.tokenizer(p, add_special_tokens=False)["input_ids"]) for p in pieces]
    words = SAMPLES["News"].split()
    if tokens < per_piece[0]:
        out: list[str] = []
        while len(info.tokenizer(" ".join(out), add_special_tokens=False)["input_ids"]) < tokens:
            out.append(words[len(out) % len(words)])
        return " ".join(out)
    paragraphs: list[str] = []
    total = 0
    i = 0
    while total < tokens:
        paragraphs.append(pieces[i % 3])
        total += per_piece[i % 3]
        i += 1
    return "\n\n".join(paragraphs)


class Frames:
    """Wraps App._display to timestamp frames, producing the terminal bytes as a real
    terminal session would (headless mode skips that step)."""

    def __init__(self, app: App[Any], probe: Any = None) -> None:
        self.times: list[float] = []
        self.seen: list[Any] = []  # what ``probe()`` returned when each frame was drawn
        self.app = app
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            if renderable is not None and hasattr(renderable, "render_segments"):
                renderable.render_segments(app.console)
            self.times.append(time.perf_counter())
            self.seen.append(probe() if probe is not None else None)
            original(screen, renderable)

        app._display = display  # type: ignore[method-assign]

    def first_after(self, t: float) -> float | None:
        return next((x for x in self.times if x >= t), None)

    def first_showing(self, t: float, value: Any) -> float | None:
        """The first frame after ``t`` drawn when ``probe()`` returned ``value``."""
        return next(
            (x for x, v in zip(self.times, self.seen, strict=False) if x >= t and v == value), None
        )


async def wait_frame(pilot: Any, frames: Frames, after: float, rounds: int = 2000) -> float:
    for _ in range(rounds):
        await pilot.pause()
        found = frames.first_after(after)
        if found is not None:
            return found
    raise RuntimeError("no frame was drawn")


async def ui_ours(
    scored: ScoredText, palette: EntityPalette, repeat: int
) -> tuple[list[float], list[float]]:
    """Post PredictionReady to the real app; time until the frame showing it, and the part of
    it spent in the message handler (setting the widgets)."""
    app = NerTuiApp(Settings(local=True, model=str(default_model())), initial_text="")
    times: list[float] = []
    handler: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        frames = Frames(app)
        for _ in range(60):
            await app.workers.wait_for_complete()
            await pilot.pause()
            if app.connection is not None:
                break
        app.palette = palette
        options = app.decode_options
        for _ in range(repeat):
            prediction, laid_out = decode_and_layout(scored, options, palette, True)
            done: list[float] = []
            original = app.show_prediction

            def show(p: Any, d: Any, original: Any = original, done: list[float] = done) -> None:
                began = time.perf_counter()
                original(p, d)
                done.append(time.perf_counter())
                handler.append((done[0] - began) * 1000)

            app.show_prediction = show  # type: ignore[method-assign,assignment]
            start = time.perf_counter()
            app.post_message(PredictionReady(prediction, laid_out, rescored=False))
            for _ in range(2000):
                await pilot.pause()
                if done:
                    break
            end = await wait_frame(pilot, frames, done[0])
            app.show_prediction = original  # type: ignore[method-assign]
            times.append((end - start) * 1000)
    return times, handler


class Naive(App[None]):
    """The baseline: whole-document Static and a DataTable row per token."""

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(id="text")
        yield DataTable(id="table")


async def ui_naive(scored: ScoredText, palette: EntityPalette, repeat: int) -> list[float]:
    app = Naive()
    times: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        frames = Frames(app)
        table = app.query_one(DataTable)
        table.add_columns("#", "token", "label", "conf", "runner-ups")
        for _ in range(repeat):
            prediction, laid_out = decode_and_layout(scored, DecodeOptions(), palette, True)
            start = time.perf_counter()
            app.query_one("#text", Static).update(laid_out.document.content)
            table.clear()
            table.add_rows(
                (
                    str(t.index),
                    Text(t.text),
                    Text(t.label, style="bold"),
                    f"{t.score:.3f}",
                    "  ".join(f"{a} {s:.2f}" for a, s in t.alternatives),
                )
                for t in prediction.tokens
            )
            handled = time.perf_counter()
            end = await wait_frame(pilot, frames, handled)
            times.append((end - start) * 1000)
    return times


async def typing_latency(text: str | None, presses: int) -> list[float]:
    """Key press -> frame showing the character, optionally while ``text`` is predicted."""
    app = NerTuiApp(Settings(local=True, model=str(default_model())), initial_text="")
    times: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(60):
            await app.workers.wait_for_complete()
            await pilot.pause()
            if app.connection is not None:
                break
        pane = app.query_one(InputPane)
        frames = Frames(app, probe=lambda: pane.text)
        if text is not None:
            pane.load_text(text)
            app.action_predict()
            for _ in range(200):
                await pilot.pause()
                if app.predicting:
                    break
        pane.focus()
        pane.move_cursor(pane.document.end)
        for _ in range(presses):
            if text is not None and not app.predicting:
                break
            expected = pane.text + "x"
            # Send the key the way the terminal driver does (Pilot.press would also wait for
            # the whole app to go idle, i.e. for the prediction to finish).
            key = events.Key("x", "x")
            key.set_sender(app)
            start = time.perf_counter()
            app._driver.send_message(key)  # type: ignore[union-attr]
            end = None
            while end is None and time.perf_counter() - start < 10:
                await asyncio.sleep(0.001)
                end = frames.first_showing(start, expected)
            assert end is not None, "the key never reached the screen"
            times.append((end - start) * 1000)
            await asyncio.sleep(0.03)  # a fast typist: ~30 keys a second
        still_running = app.predicting
        await app.workers.wait_for_complete()
    if text is not None and not still_running:
        print(f"  (the prediction finished during the typing test; {len(times)} presses timed)")
    return times


def fmt(values: list[float]) -> str:
    med, low, high = statistics.median(values), min(values), max(values)
    p90 = sorted(values)[min(len(values) - 1, int(0.9 * len(values)))]
    return f"median {med:7.1f} ms  (min {low:6.1f}, p90 {p90:6.1f}, max {high:6.1f})"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=default_model())
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(
        f"model: {args.model}\nterminal: {SIZE[0]}x{SIZE[1]} (headless, frames rendered to bytes)"
    )
    info = load_model_info(args.model)
    engine = LocalEngine.load(args.model)
    palette = EntityPalette(entity_types(info.id2label))
    big_text = ""
    for target in TARGETS:
        text = text_of(info, target)
        scored = await score(engine, info, text, model=engine.served_model_name)
        if target == TARGETS[-1]:
            big_text = text
        work = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            decode_and_layout(scored, DecodeOptions(), palette, True)
            work.append((time.perf_counter() - start) * 1000)
        ours, handler = await ui_ours(scored, palette, args.repeat)
        naive = await ui_naive(scored, palette, max(1, min(args.repeat, 3)))
        print(
            f"\n{len(scored):>6,} tokens ({len(scored.chunks)} windows, "
            f"{len(text):,} chars; pooling took {scored.elapsed_ms:,.0f} ms)"
        )
        print(f"  decode+layout (thread)  {fmt(work)}")
        print(f"  ui: response -> frame   {fmt(ours)}")
        print(f"    of which the handler  {fmt(handler)}")
        print(f"  naive Static+DataTable  {fmt(naive)}")
        total = statistics.median(work) + statistics.median(ours)
        ratio = statistics.median(naive) / statistics.median(ours)
        print(f"  total after response    {total:7.1f} ms;  naive/ours ui ratio {ratio:5.1f}x")
    await engine.aclose()
    print("\ntyping latency (key -> frame showing it)")
    idle = await typing_latency(None, 20)
    print(f"  idle                    {fmt(idle)}")
    busy = await typing_latency("\n\n".join([big_text] * 5), 20)
    if busy:
        print(f"  during a ~{5 * len(scored):,}-token prediction {fmt(busy)}")
        print(
            f"  busy/idle ratio         {statistics.median(busy) / statistics.median(idle):5.1f}x"
        )


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
