"""SVG snapshots of the app's main states (pytest-textual-snapshot).

Deterministic: fixed terminal size and theme, cursor blink off, the round-trip time rendered
as a fixed string, the model path relative to the repository root. Review the report
(``snapshot_report.html``) before running with ``--snapshot-update``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from ner_tui.core.settings import Settings
from ner_tui.ui.app import NerTuiApp
from ner_tui.ui.samples import SAMPLES, long_document
from ner_tui.ui.widgets.entity_sidebar import EntitySidebar
from ner_tui.ui.widgets.input_pane import InputPane

ROOT = Path(__file__).parent.parent
TINY = "tests/fixtures/tiny-bert-ner"  # relative: the path is on screen
SIZE = (120, 36)
THEME = "textual-dark"


def snapshot_app(text: str = "", **settings: Any) -> NerTuiApp:
    base: dict[str, Any] = {"local": True, "model": TINY, "theme": THEME}
    base.update(settings)
    return NerTuiApp(Settings(**base), initial_text=text, format_elapsed=lambda ms: "12 ms")


def until(condition: Callable[[NerTuiApp], bool], then: Callable[[Pilot[Any]], Any] | None = None):
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, NerTuiApp)
        app.query_one(InputPane).cursor_blink = False
        for _ in range(400):
            await app.workers.wait_for_complete()
            await pilot.pause()
            if condition(app):
                break
        else:
            raise AssertionError("the app never reached the state to snapshot")
        if then is not None:
            result = then(pilot)
            if result is not None:
                await result
            await app.workers.wait_for_complete()
            await pilot.pause()

    return run_before


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def test_first_launch(snap_compare: Any) -> None:
    """First launch: the News sample predicted by the local engine; entities coloured and
    labelled in the text, the token table, the entity sidebar grouped by type, the legend,
    and a status line naming the engine, the model, 12 ms, tokens and entities."""
    app = snapshot_app(SAMPLES["News"])
    assert snap_compare(
        app, terminal_size=SIZE, run_before=until(lambda a: a.prediction is not None)
    )


def test_first_launch_80x24(snap_compare: Any) -> None:
    """A laptop terminal at a projector: no header, two lines of input, four lines of
    highlighted text and seven token rows (four before the short-height layout), a 30-column
    sidebar; the token table's compact columns keep token, label, confidence and the first runner-up
    (abbreviated, ``I-LOC .15``) on screen, with a horizontal scrollbar for the rest."""
    app = snapshot_app(SAMPLES["News"])
    assert snap_compare(
        app, terminal_size=(80, 24), run_before=until(lambda a: a.prediction is not None)
    )


def test_first_launch_60x20(snap_compare: Any) -> None:
    """60x20: the sidebar shrinks to 22 columns and the options bar to values and keys; three
    lines of highlighted text over four token rows; the token table still shows token, label
    and confidence for every visible row."""
    app = snapshot_app(SAMPLES["News"])
    assert snap_compare(
        app, terminal_size=(60, 20), run_before=until(lambda a: a.prediction is not None)
    )


def test_empty_state(snap_compare: Any) -> None:
    """Nothing typed: the text pane explains what to do (ctrl+s, ctrl+n, f1, ctrl+p), the
    sidebar says no entities yet, the legend already shows the model's labels."""
    app = snapshot_app("")
    assert snap_compare(
        app, terminal_size=SIZE, run_before=until(lambda a: a.connection is not None)
    )


def test_rich_sentence_with_selected_entity(snap_compare: Any) -> None:
    """Markup, ANSI escapes, a tab, CJK and an emoji ZWJ sequence shown literally (``[bold]``,
    ``␛[31m``, ``→``); the first entity in the sidebar is selected and highlighted in the text
    and its tokens shaded in the table."""

    def select(pilot: Pilot[Any]) -> Any:
        sidebar = pilot.app.query_one(EntitySidebar)
        sidebar.focus()
        return pilot.press("_", "down")

    app = snapshot_app(SAMPLES["Tricky text"])
    assert snap_compare(
        app,
        terminal_size=SIZE,
        run_before=until(lambda a: a.prediction is not None, select),
    )


def test_no_server_error(snap_compare: Any) -> None:
    """No server answers and the local fallback is off: an error notification saying what to
    do, a red status dot, and the typed text still in the input."""
    app = snapshot_app(SAMPLES["News"], local=False, url="http://127.0.0.1:9", fallback_local=False)
    assert snap_compare(
        app,
        terminal_size=SIZE,
        run_before=until(lambda a: a._status.state == "error"),
    )


def test_long_document_in_chunks(snap_compare: Any) -> None:
    """A long article over the 128-token window: the status line says it was split into
    chunks, and ┆ marks where the kept rows switch from one window to the next."""
    app = snapshot_app(long_document(12))
    assert snap_compare(
        app, terminal_size=SIZE, run_before=until(lambda a: a.prediction is not None)
    )


def test_help_screen(snap_compare: Any) -> None:
    """F1: every key with its description and tooltip, and what ✗ ! ␛ → ┆ mean."""
    app = snapshot_app("")
    assert snap_compare(
        app,
        terminal_size=SIZE,
        press=["f1"],
        run_before=until(lambda a: a.connection is not None),
    )


# --------------------------------------------------------------------------- corpus view

CORPUS = "tests/fixtures/eval/errors.jsonl"  # relative: the name is on screen


def corpus_until(*keys: str):
    """Wait for the corpus to be scored (bundled model), then press ``keys``."""

    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, NerTuiApp)
        for _ in range(600):
            await app.workers.wait_for_complete()
            await pilot.pause()
            if app.corpus_scores is not None and not app.corpus_running:
                break
        else:
            raise AssertionError("the corpus was never scored")
        app.main.query_one(InputPane).cursor_blink = False
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()

    return run_before


def corpus_snapshot_app() -> NerTuiApp:
    return NerTuiApp(Settings(local=True, theme=THEME), initial_text="", corpus=Path(CORPUS))


def test_corpus_screen(snap_compare: Any) -> None:
    """The corpus view after the run (bundled model, the news corpus plus one sentence with a
    wrong gold), sorted by most errors: the document list with that sentence first (4
    errors, F1, lowest confidence, text), the scores panel (per type P/R/F1/support, micro,
    macro, weighted, the four schemes, the error counts by kind in their colours) and the F1
    threshold sparkline naming the best threshold; the footer shows sort/type/kind/errors."""
    assert snap_compare(corpus_snapshot_app(), terminal_size=SIZE, run_before=corpus_until("s"))


def test_corpus_screen_80x24(snap_compare: Any) -> None:
    """The same corpus view on a projector's 80x24: the scores panel in its narrow columns
    (`F1` and `support` apart, the error-count chips packed whole onto lines), the document
    list in compact columns (no line number, `err`/`low`) so the start of each text shows,
    and a shorter F1 curve."""
    assert snap_compare(
        corpus_snapshot_app(), terminal_size=(80, 24), run_before=corpus_until("s")
    )


def test_corpus_document_with_errors(snap_compare: Any) -> None:
    """The wrong-gold sentence opened: the legend of error marks, the gold text (PER correct,
    `met` MISC missed in red, Paris ORG wrong type in orange, `on Tuesday` DATE wrong
    boundary in purple) and the predicted text (Macron PER spurious, struck), each span with
    its label chip; the error list with the second error (after `n`) marked and reversed."""
    assert snap_compare(
        corpus_snapshot_app(), terminal_size=SIZE, run_before=corpus_until("s", "enter", "n")
    )
