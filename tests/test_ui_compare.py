"""Compare mode in the app, driven by keys: two real local models (other tokenizer family,
other label names), a real ``ner-tui serve`` for the request count, a side that fails, and an
SVG snapshot of the view."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from compare_models import bpe_model_dir
from servers import SERVE_COMMAND, ServeProcess, free_port, serve_process
from test_ui_pilot import settle as pilot_settle
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from ner_tui.core.compare import CompareTarget
from ner_tui.core.labels import parse_label_map
from ner_tui.core.settings import Settings
from ner_tui.ui.app import NerTuiApp
from ner_tui.ui.commands import app_commands
from ner_tui.ui.screens.compare import CompareScreen
from ner_tui.ui.widgets.compare_view import CompareText
from ner_tui.ui.widgets.input_pane import InputPane

ROOT = Path(__file__).parent.parent
TINY = "tests/fixtures/tiny-bert-ner"
BUNDLED = "ner_tui/models/ner-tui-minilm-en"
TEXT = "Barack Obama visited Microsoft headquarters in Seattle on Monday."
SIZE = (120, 36)


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # model paths on screen are relative


@pytest.fixture(scope="module")
def bpe_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bpe_model_dir(tmp_path_factory.mktemp("models"))


def compare_app(target: CompareTarget | None, text: str = TEXT, **settings: Any) -> NerTuiApp:
    base: dict[str, Any] = {"local": True, "model": TINY, "theme": "textual-dark"}
    base.update(settings)
    return NerTuiApp(
        Settings(**base), initial_text=text, compare=target, format_elapsed=lambda ms: "12 ms"
    )


def shown(app: NerTuiApp) -> CompareScreen | None:
    screen = app.screen
    if isinstance(screen, CompareScreen) and screen.comparison is not None:
        return screen
    return None


# The pilot tests' settle, with more rounds: a corpus or two models take longer to settle.
settle = functools.partial(pilot_settle, rounds=600)


def status(screen: CompareScreen) -> str:
    return str(screen.query_one("#compare-status", Static).render())


def notes(app: NerTuiApp) -> list[tuple[str, str, str]]:
    log: list[tuple[str, str, str]] = []
    original = app.notify

    def notify(message: str, **kwargs: Any) -> None:
        log.append((message, str(kwargs.get("title", "")), str(kwargs.get("severity", ""))))
        original(message, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    return log


async def test_two_models_with_other_tokenizers_and_labels(bpe_model: Path) -> None:
    target = CompareTarget(
        local=str(bpe_model),
        label_map=parse_label_map("PERSON=PER,COMPANY=ORG,PLACE=LOC,THING=MISC"),
    )
    app = compare_app(target, model=BUNDLED)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: shown(app) is not None)
        screen = shown(app)
        assert screen is not None and screen.comparison is not None
        comparison = screen.comparison
        line = status(screen)
        assert "A ●" in line and "ner-tui-minilm-en" in line and "12 ms" in line
        assert "B ●" in line and "tiny-bpe-ner" in line
        # Entities by span, disagreements first; B's labels renamed into A's.
        agree = [d.agree for d in comparison.entities]
        assert agree == sorted(agree) and comparison.disagreements > 0
        for diff in comparison.entities:
            if diff.b is not None:
                assert diff.b.label in ("PER", "ORG", "LOC", "MISC")
                assert diff.b.raw_label in ("PERSON", "COMPANY", "PLACE", "THING")
        # Words, not tokens: both models' labels side by side, one row per word.
        words = [w.text for w in comparison.words]
        assert words[:3] == ["Barack", "Obama", "visited"] and words[-1] == "."
        table = screen.query_one("#compare-words", DataTable)
        assert table.row_count == len(words)
        assert [str(c) for c in table.get_row_at(0)][1:3] == ["Barack", "B-PER"]
        # The list follows the comparison's order; highlighting moves the word cursor.
        assert screen.query_one("#compare-list").option_count == len(comparison.entities)
        last = len(comparison.entities) - 1
        screen.query_one("#compare-list").highlighted = last
        await pilot.pause()
        first_word = next(
            k for k, w in enumerate(comparison.words) if w.end > comparison.entities[last].start
        )
        assert table.cursor_row == first_word
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, CompareScreen)


@pytest.fixture(scope="module")
def server() -> Iterator[ServeProcess]:
    with serve_process(command=SERVE_COMMAND) as process:
        yield process


def pooling_requests(server: ServeProcess) -> int:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    found = re.search(r'ner_tui_requests_total\{path="/pooling",status="200"\} (\d+)', text)
    return int(found.group(1)) if found else 0


async def test_settings_of_one_server_compare_without_a_second_request(
    server: ServeProcess,
) -> None:
    app = compare_app(None, local=False, model=None, url=server.url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        assert {c.name for c in app_commands(app)} >= {"Compare models"}
        await pilot.press("f12")  # B: A under the other decoder
        await settle(pilot, lambda: shown(app) is not None)
        screen = shown(app)
        assert screen is not None
        assert "first, lenient" in status(screen) and "first, strict" in status(screen)
        before = pooling_requests(server)
        await pilot.press("r")  # ask again: one request serves both sides
        await settle(pilot, lambda: pooling_requests(server) > before and screen.scored is not None)
        await settle(pilot, lambda: not any(not w.is_finished for w in screen.workers))
        assert pooling_requests(server) - before == 1
        first = screen.comparison
        await pilot.press("a")  # B's aggregation: from the kept scores
        await settle(pilot, lambda: screen.comparison is not first)
        assert "average, strict" in status(screen)
        second = screen.comparison
        await pilot.press("f4")  # A's threshold (the app's own): from the kept scores too
        await settle(pilot, lambda: screen.comparison is not second)
        assert app.decode_options.threshold > 0 and "lenient, ≥" in status(screen)
        assert pooling_requests(server) - before == 1


async def test_a_failing_side_keeps_the_other() -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    app = compare_app(CompareTarget(url=nowhere))
    log = notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: shown(app) is not None)
        screen = shown(app)
        assert screen is not None and screen.comparison is not None
        line = status(screen)
        assert "A ●" in line and "tiny-bert-ner" in line and "12 ms" in line
        assert f"B ● model B · {nowhere}" in line and "failed:" in line
        kinds = {d.kind for d in screen.comparison.entities}
        assert kinds == {"only_a"}, "A's entities are still shown"
        assert any(t == "Model B failed" and s == "error" for _, t, s in log)


async def test_text_is_data_never_markup() -> None:
    text = "[bold]Obama[/bold] met [link=x]Lee[/] in\tParis\x1b[0m."
    app = compare_app(CompareTarget(aggregation="first"), text=text)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: shown(app) is not None)
        screen = shown(app)
        assert screen is not None
        plain = str(screen.query_one(CompareText).render())
        assert "[bold]" in plain and "[link=x]" in plain and "[/]" in plain
        assert "\x1b" not in plain and "␛" in plain


async def test_nothing_to_compare_says_why() -> None:
    app = compare_app(None, text="")
    log = notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.connection is not None)
        app.main.query_one(InputPane).load_text("")
        await pilot.press("f12")
        await pilot.pause()
        assert not isinstance(app.screen, CompareScreen)
        assert any("Nothing to compare" in m for m, _, _ in log)


def test_compare_view_snapshot(snap_compare: Any) -> None:
    """The tiny fixture model (A) against the bundled model (B), both local: a status line
    per side (model, engine, decoding, 12 ms, entity count); the text with each entity
    marked by kind and a chip naming the labels; the word table with both labels and
    confidences, differing words marked ≠; the sidebar with disagreements first; the legend
    with a count per kind. The markup in the text is shown as typed."""
    text = TEXT[:-1] + " with [bold]Angela Merkel[/bold]."
    app = compare_app(CompareTarget(local=BUNDLED), text=text)

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot, lambda: shown(pilot.app) is not None)  # type: ignore[arg-type]

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


CONLL = ROOT / "tests" / "fixtures" / "eval" / "news.conll"


def corpus_compare_app(target: CompareTarget) -> NerTuiApp:
    return NerTuiApp(
        Settings(local=True, model=BUNDLED), initial_text="", corpus=CONLL, compare=target
    )


async def test_the_corpus_compared_matches_eval_compare() -> None:
    """The corpus view's comparison (A's kept scores, B through its own local engine) gives
    exactly ``eval --compare-local``'s numbers: same documents, same seed, same interval."""
    import io

    from ner_tui.commands.compare import eval_compare
    from ner_tui.ui.screens.compare_corpus import CorpusCompareScreen

    target = CompareTarget(local=TINY)
    app = corpus_compare_app(target)
    async with app.run_test(size=SIZE) as pilot:
        await settle(  # `ner-tui --corpus FILE --compare-local DIR`: the corpus compared
            pilot,
            lambda: isinstance(app.screen, CorpusCompareScreen) and app.screen.result is not None,
        )
        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is app.corpus_screen)
        await pilot.press("f12")  # on the corpus view: the whole corpus compared again
        await settle(
            pilot,
            lambda: isinstance(app.screen, CorpusCompareScreen) and app.screen.result is not None,
        )
        screen = app.screen
        assert isinstance(screen, CorpusCompareScreen) and screen.result is not None
        result = screen.result
        disagreements = [d.disagreements for d in result.documents]
        assert disagreements == sorted(disagreements, reverse=True) and disagreements[0] > 0
        assert screen.query_one("#cc-scores", DataTable).row_count == len(result.differences)
        headless = await eval_compare(
            Settings(local=True, model=BUNDLED), target, str(CONLL), err=io.StringIO()
        )
        assert result.differences == headless.differences
        assert result.differences[0].f1_a == app.corpus_scores.report.micro.f1  # type: ignore[union-attr]
        kept = screen.scored_b
        await pilot.press("f2")  # A's aggregation: B's kept scores are used again
        await settle(pilot, lambda: screen.result is not result and screen.result is not None)
        assert screen.scored_b is kept and kept is not None
        assert app.decode_options.aggregation == "average"
        # Enter on the top document: compare mode on it, in the main view.
        screen.query_one("#cc-docs", DataTable).focus()
        await pilot.press("enter")
        await settle(pilot, lambda: shown(app) is not None)
        assert screen.result is not None
        top = app.corpus_docs[screen.result.documents[0].index].text
        assert app.main.query_one(InputPane).text == top


async def test_settings_compared_on_the_corpus_cost_no_request() -> None:
    from ner_tui.ui.screens.compare_corpus import CorpusCompareScreen, show_corpus_compare

    app = corpus_compare_app(CompareTarget(aggregation="first", mode="strict"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, CorpusCompareScreen))
        await pilot.press("escape")
        await settle(pilot, lambda: app.corpus_scores is not None and not app.corpus_running)
        assert app.connection is not None
        calls: list[int] = []
        original = app.connection.backend.pool

        async def pool(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            return await original(*args, **kwargs)

        app.connection.backend.pool = pool  # type: ignore[method-assign]
        assert "Compare models on the corpus" in {c.name for c in app_commands(app)}
        show_corpus_compare(app)
        await settle(
            pilot,
            lambda: isinstance(app.screen, CorpusCompareScreen) and app.screen.result is not None,
        )
        assert calls == []
        screen = app.screen
        assert "first, strict" in str(screen.query_one("#cc-status", Static).render())
        first = screen.result
        await pilot.press("f3")  # A strict too: compared again from the kept scores
        await settle(pilot, lambda: screen.result is not first and screen.result is not None)
        assert app.decode_options.mode == "strict" and calls == []
        assert "B: " in str(screen.query_one("#cc-status", Static).render())
