"""Regenerate the README screenshots (SVG) of the app's main states into ``screenshots/``.

Usage: ``.venv/bin/python tools/screenshots.py [--model DIR] [--out screenshots] [--only NAME]``

Uses the bundled model when it is installed (real entities), else the tiny test fixture (labels
are then random-looking). No server is needed: the first shot is what a newcomer sees when no
server answers (the app says so and uses the local engine).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("NER_TUI_CONFIG_FILE", "/nonexistent/ner-tui-config.toml")
# Never the developer's saved history, theme or options: a fresh state dir for every run.
os.environ["NER_TUI_STATE_DIR"] = tempfile.mkdtemp(prefix="ner-tui-shots-")

from ner_tui.core.compare import CompareTarget
from ner_tui.core.settings import Settings
from ner_tui.models import bundled_model_path
from ner_tui.ui.app import NerTuiApp
from ner_tui.ui.samples import SAMPLES, long_document
from ner_tui.ui.widgets.entity_sidebar import EntitySidebar
from ner_tui.ui.widgets.input_pane import InputPane

ROOT = Path(__file__).resolve().parent.parent
SIZE = (130, 38)
PROJECTOR = (80, 24)  # a laptop at a projector
THEME = "textual-dark"
NO_SERVER = "http://127.0.0.1:9"  # the discard port: nothing listens there

Step = Callable[[Any], Awaitable[None]]


def default_model() -> Path:
    bundled = bundled_model_path()
    if (bundled / "config.json").is_file():
        return bundled
    return ROOT / "tests" / "fixtures" / "tiny-bert-ner"


async def settle(pilot: Any, until: Callable[[NerTuiApp], bool]) -> None:
    app = pilot.app
    for _ in range(600):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if until(app):
            return
    raise RuntimeError("the app never reached the state to capture")


async def shoot(
    app: NerTuiApp, path: Path, steps: list[Step], size: tuple[int, int] = SIZE
) -> None:
    async with app.run_test(size=size, notifications=True) as pilot:
        app.query_one(InputPane).cursor_blink = False
        for step in steps:
            await step(pilot)
        await pilot.pause()
        path.write_text(app.export_screenshot(title="ner-tui"), encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def predicted(pilot: Any) -> Awaitable[None]:
    return settle(pilot, lambda a: a.prediction is not None and not a.predicting)


def connected(pilot: Any) -> Awaitable[None]:
    return settle(pilot, lambda a: a.connection is not None)


def press(*keys: str) -> Step:
    async def step(pilot: Any) -> None:
        await pilot.press(*keys)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    return step


async def select_entity(pilot: Any) -> None:
    sidebar = pilot.app.query_one(EntitySidebar)
    sidebar.focus()
    await pilot.pause()
    await pilot.press("down", "down")
    await pilot.pause()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=default_model())
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    parser.add_argument("--only", action="append", metavar="NAME", help="only this shot (repeat)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    model = str(args.model)

    def app(text: str, **settings: Any) -> NerTuiApp:
        base: dict[str, Any] = {"url": NO_SERVER, "model": model, "theme": THEME}
        base.update(settings)
        return NerTuiApp(Settings(**base), initial_text=text)

    shots: list[tuple[str, NerTuiApp, list[Step]]] = [
        ("first-launch", app(SAMPLES["News"]), [predicted]),
        ("projector-80x24", app(SAMPLES["News"], local=True), [predicted]),
        ("rich-sentence", app(SAMPLES["Tricky text"], local=True), [predicted, select_entity]),
        (
            "strict-first",
            app(SAMPLES["Science"], local=True, aggregation="first", mode="strict"),
            [predicted],
        ),
        ("long-document", app(long_document(40), local=True), [predicted]),
        (
            "error",
            app(SAMPLES["News"], fallback_local=False),
            [lambda p: settle(p, lambda a: a._status.state == "error")],
        ),
        ("help", app("", local=True), [connected, press("f1")]),
        (
            "corpus",
            NerTuiApp(
                Settings(local=True, model=model, theme=THEME),
                initial_text="",
                corpus=ROOT / "tests" / "fixtures" / "eval" / "errors.jsonl",
            ),
            [lambda p: settle(p, lambda a: a.corpus_scores is not None), press("s")],
        ),
        (
            "compare",
            NerTuiApp(
                Settings(local=True, model=model, theme=THEME),
                initial_text=SAMPLES["News"],
                compare=CompareTarget(local=str(ROOT / "tests" / "fixtures" / "tiny-bert-ner")),
            ),
            [lambda p: settle(p, lambda a: getattr(a.screen, "comparison", None) is not None)],
        ),
    ]
    for name, instance, steps in shots:
        if args.only and name not in args.only:
            continue
        size = PROJECTOR if name == "projector-80x24" else SIZE
        await shoot(instance, args.out / f"{name}.svg", steps, size)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
