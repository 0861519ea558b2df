"""The corpus view, driven by keys: the bundled model (local engine) on the 16 hand-labelled news
sentences, scored exactly as ``ner-tui eval`` scores them, re-scored without the model when a
setting changes."""

from __future__ import annotations

import asyncio
import functools
import io
from pathlib import Path
from typing import Any

import pytest
from test_ui_pilot import settle as pilot_settle
from textual.pilot import Pilot

from ner_tui.commands.eval import evaluate
from ner_tui.core.corpus_scores import select
from ner_tui.core.settings import Settings
from ner_tui.ui.app import NerTuiApp
from ner_tui.ui.corpus_list import DocumentList
from ner_tui.ui.screens.corpus import CorpusScreen
from ner_tui.ui.screens.corpus_document import CorpusDocumentScreen
from ner_tui.ui.screens.corpus_errors import ErrorBrowserScreen

EVAL = Path(__file__).parent / "fixtures" / "eval"
CONLL = EVAL / "news.conll"
# news.jsonl plus its first sentence with a gold made wrong: one error of each kind the
# model can make against it (missed, spurious, wrong type, wrong boundary).
ERRORS = EVAL / "errors.jsonl"
SIZE = (120, 36)


def notes(app: NerTuiApp) -> list[tuple[str, str, str]]:
    """Every notification (message, title, severity) raised so far."""
    log: list[tuple[str, str, str]] | None = getattr(app, "notified", None)
    if log is None:
        log = []
        original = app.notify

        def notify(message: str, **kwargs: Any) -> None:
            log.append((message, str(kwargs.get("title", "")), str(kwargs.get("severity", ""))))
            original(message, **kwargs)

        app.notified = log  # type: ignore[attr-defined]
        app.notify = notify  # type: ignore[method-assign]
    return log


# The pilot tests' settle, with more rounds: a corpus or two models take longer to settle.
settle = functools.partial(pilot_settle, rounds=600)


def hold_after_two(app: NerTuiApp) -> None:
    """Wrap the backend's pool: the first two calls answer, the rest wait until cancelled."""
    assert app.connection is not None
    backend = app.connection.backend
    original = backend.pool
    answered: list[int] = []
    never = asyncio.Event()

    async def pool(*args: Any, **kwargs: Any) -> Any:
        if len(answered) >= 2:
            await never.wait()
        answered.append(1)
        return await original(*args, **kwargs)

    backend.pool = pool  # type: ignore[method-assign]


def count_requests(app: NerTuiApp) -> list[int]:
    """Wrap the backend's pool: the list grows by one per model call."""
    assert app.connection is not None
    backend = app.connection.backend
    calls: list[int] = []
    original = backend.pool

    async def pool(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return await original(*args, **kwargs)

    backend.pool = pool  # type: ignore[method-assign]
    return calls


def corpus_app(corpus: Path | None = CONLL, **settings: Any) -> NerTuiApp:
    return NerTuiApp(Settings(local=True, **settings), initial_text="", corpus=corpus)


def doc_order(app: NerTuiApp) -> list[int]:
    screen = app.corpus_screen
    assert screen is not None
    return [r.doc.index for r in screen.shown]


async def scored(pilot: Pilot[int]) -> None:
    app = pilot.app
    assert isinstance(app, NerTuiApp)
    await settle(pilot, lambda: app.corpus_scores is not None and not app.corpus_running)


@pytest.fixture(scope="module")
def eval_report() -> Any:
    """``ner-tui eval``'s report on the same corpus and model."""
    import asyncio

    run = asyncio.run(evaluate(Settings(local=True), str(CONLL), err=io.StringIO()))
    run.errors.close()
    return run.report


async def test_flag_opens_and_scores_as_eval(eval_report: Any) -> None:
    app = corpus_app()
    async with app.run_test(size=SIZE) as pilot:
        await scored(pilot)
        assert isinstance(app.screen, CorpusScreen)
        scores = app.corpus_scores
        assert scores is not None and scores.report is not None
        assert scores.report.to_json() == eval_report.to_json()
        table = app.screen.query_one("#corpus-docs", DocumentList)
        assert table.row_count == 16
        assert app.screen.query_one("#corpus-progress").display is False


async def test_sort_and_filter() -> None:
    app = corpus_app(ERRORS)
    async with app.run_test(size=SIZE) as pilot:
        await scored(pilot)
        assert app.corpus_scores is not None
        results = app.corpus_scores.results
        assert doc_order(app) == list(range(17))
        await pilot.press("s")  # most errors first
        errors = [results[i].error_count for i in doc_order(app)]
        assert errors == sorted(errors, reverse=True) and errors[0] > 0
        await pilot.press("s")  # lowest F1 first
        f1 = [results[i].score.f1 for i in doc_order(app)]  # type: ignore[union-attr]
        assert f1 == sorted(f1) and f1[0] < f1[-1]
        await pilot.press("s")  # lowest confidence first
        low = [results[i].min_confidence for i in doc_order(app)]
        known = [x for x in low if x is not None]
        assert known == sorted(known) and low[: len(known)] == known
        await pilot.press("s")
        assert doc_order(app) == list(range(17))
        # the type filter: the first type, only documents with such an entity
        screen = app.corpus_screen
        assert screen is not None
        await pilot.press("t")
        label = screen.type_filter
        assert label is not None
        shown = doc_order(app)
        assert 0 < len(shown) < 17
        for i in shown:
            spans = (*(results[i].doc.gold or ()), *results[i].predicted)
            assert any(s.label == label for s in spans)
        await pilot.press("t" * (len({s.label for r in results for s in r.doc.gold or ()}) + 9))
        # kind filter: missed only
        screen.type_filter = None
        await pilot.press("k")
        assert screen.kind_filter == "missed"
        shown = doc_order(app)
        assert shown and all(
            any(e.kind == "missed" for e in results[i].score.errors)  # type: ignore[union-attr]
            for i in shown
        )
        assert shown == [r.doc.index for r in select(results, kind="missed")]


async def test_open_document_and_jump_between_errors() -> None:
    app = corpus_app(ERRORS)
    async with app.run_test(size=SIZE) as pilot:
        await scored(pilot)
        await pilot.press("s")  # most errors first
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CorpusDocumentScreen)
        count = len(screen.errors)
        assert screen.result.doc.index == 16
        kinds = {e.kind for e in screen.errors}
        assert kinds == {"missed", "spurious", "wrong_type", "wrong_boundary"}
        count = len(screen.errors)
        assert screen.current == 0
        await pilot.press("n")
        assert screen.current == 1
        marks = str(screen.query_one("#document-errors").render())
        assert "▶ " in marks.splitlines()[1]
        await pilot.press("p")
        assert screen.current == 0
        await pilot.press("p")
        assert screen.current == count - 1
        # the kept scores go to the main view, no request
        calls = count_requests(app)
        await pilot.press("l")
        await settle(pilot, lambda: app.prediction is not None)
        assert app.screen is app.main
        assert app.prediction is not None and app.prediction.text == screen.result.doc.text
        assert calls == []


async def test_error_browser_opens_document_at_error() -> None:
    app = corpus_app(ERRORS)
    async with app.run_test(size=SIZE) as pilot:
        await scored(pilot)
        await pilot.press("e")
        browser = app.screen
        assert isinstance(browser, ErrorBrowserScreen)
        report = app.corpus_scores.report  # type: ignore[union-attr]
        assert len(browser.shown) == sum(report.errors.values())
        await pilot.press("k")  # missed only
        assert browser.shown and all(
            r.score.errors[i].kind == "missed"  # type: ignore[union-attr]
            for r, i in browser.shown
        )
        await pilot.press("k", "k")  # wrong type
        assert browser.kind == "wrong_type" and len(browser.shown) == 2
        await pilot.press("down", "enter")
        await pilot.pause()
        document = app.screen
        assert isinstance(document, CorpusDocumentScreen)
        result, i = browser.shown[1]
        assert result.doc.index == 16 and i > 0
        assert document.result is result and document.current == i


async def test_setting_change_rescores_without_model() -> None:
    app = corpus_app()
    async with app.run_test(size=SIZE) as pilot:
        await scored(pilot)
        before = app.corpus_scores
        assert before is not None and before.report is not None
        calls = count_requests(app)
        await pilot.press("f2")  # first -> average
        await settle(pilot, lambda: app.corpus_scores is not before)
        assert app.corpus_scores is not None
        assert app.corpus_scores.options.aggregation == "average"
        await pilot.press("f3")  # strict
        await settle(pilot, lambda: app.corpus_scores.options.mode == "strict")  # type: ignore[union-attr]
        after = app.corpus_scores
        assert after is not None and after.report is not None
        await pilot.press(*["f4"] * 18)  # threshold 0.9, by 0.05
        await settle(pilot, lambda: app.corpus_scores.options.threshold == 0.9)  # type: ignore[union-attr]
        kept = app.corpus_scores.report.micro  # type: ignore[union-attr]
        # what the curve at threshold 0 promised for 0.9
        point = after.report.thresholds[90]
        assert (kept.predicted, kept.correct) == (point.kept, round(point.precision * point.kept))
        assert kept.predicted < after.report.micro.predicted
        assert app.corpus_scores.report.to_json() != after.report.to_json()  # type: ignore[union-attr]
        assert calls == []


async def test_slow_rescore_is_marked_and_a_seen_setting_is_not_scored_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A re-score that takes a while marks the scores "re-scoring…" until the new ones are
    in; going back to a setting seen before shows its scores without scoring anything."""
    import threading

    import ner_tui.core.corpus_scores as corpus_scores

    release = threading.Event()
    calls: list[Any] = []
    original = corpus_scores.rescore

    def held(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[2])  # the options
        release.wait(30)
        return original(*args, **kwargs)

    app = corpus_app()
    async with app.run_test(size=SIZE) as pilot:
        await scored(pilot)
        first = app.corpus_scores
        assert first is not None
        box = app.screen.query_one("#corpus-scores")
        assert box.border_subtitle == "first · lenient · threshold 0.00"
        decoder = app._corpus_decoder
        assert decoder is not None  # f2's guess scored (with the real rescore) before the patch
        await settle(pilot, lambda: decoder.recall(app._next_aggregation, 16) is not None)
        monkeypatch.setattr(corpus_scores, "rescore", held)
        await pilot.press("f4")
        for _ in range(600):  # (settle would wait for the held worker)
            if box.border_subtitle == "re-scoring…":
                break
            await pilot.pause(0.05)
        assert box.border_subtitle == "re-scoring…"
        assert app.corpus_scores is first  # the old scores stay until the new ones are in
        release.set()
        await settle(pilot, lambda: box.border_subtitle == "first · lenient · threshold 0.05")

        def ours() -> list[Any]:
            """The re-scores of this aggregation (not f2's guess, scored ahead)."""
            return [c for c in calls if c.aggregation == "first"]

        assert len(ours()) == 1
        await pilot.press("shift+f4")  # back to 0.00: seen before
        await settle(pilot, lambda: app.corpus_scores is first)
        assert box.border_subtitle == "first · lenient · threshold 0.00"
        assert len(ours()) == 1


async def test_the_next_aggregation_is_scored_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once the scores have been on screen a moment, the corpus is scored under the aggregation
    f2 goes to next, in the background: f2 then shows it without scoring anything."""
    from dataclasses import replace

    import ner_tui.core.corpus_scores as corpus_scores

    app = corpus_app()
    async with app.run_test(size=SIZE) as pilot:
        await scored(pilot)
        decoder = app._corpus_decoder
        assert decoder is not None and app.decode_options.aggregation == "first"
        following = replace(app.decode_options, aggregation="average")
        await settle(pilot, lambda: decoder.recall(following, 16) is not None)
        calls: list[object] = []
        original = corpus_scores.rescore

        def counted(*args: Any, **kwargs: Any) -> Any:
            calls.append(args[2])
            return original(*args, **kwargs)

        monkeypatch.setattr(corpus_scores, "rescore", counted)
        ahead = decoder.recall(following, 16)
        await pilot.press("f2")
        await settle(pilot, lambda: app.corpus_scores is ahead)
        assert calls == []  # shown from what was scored ahead
        # ...and it equals scoring it now, from nothing
        assert ahead is not None and ahead.report is not None
        fresh = original(app.corpus_docs, decoder.decode(following), following)
        assert fresh.report is not None and ahead.report.to_json() == fresh.report.to_json()
        # the guess moves on: max, after average
        after = replace(following, aggregation="max")
        await settle(pilot, lambda: decoder.recall(after, 16) is not None)


async def test_frozen_results_leave_no_garbage_once_the_scores_settle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The app freezes a corpus's results out of the collector's full passes; what was alive at
    each freeze and died in a cycle since (Textual's events of the moment) is collected once
    the scores stop changing: nothing piles up over a session of setting changes."""
    import gc

    from ner_tui.ui import app as app_module

    monkeypatch.setattr(app_module, "GC_TIDY_AFTER", 0.3)
    app = corpus_app()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await scored(pilot)
            for key in ["f4", "f2", "shift+f4", "f3"] * 8:
                before = app.corpus_scores
                await pilot.press(key)
                await settle(pilot, lambda before=before: app.corpus_scores is not before)
            tidied = app.gc_tidied
            await settle(pilot, lambda: app.gc_tidied > tidied)
            gc.unfreeze()
            # ~30,000 objects after these 32 changes without the tidy; Textual's own
            # garbage of the last moments at most with it
            assert gc.collect() < 2_000
    finally:
        gc.unfreeze()


async def test_escape_cancels_the_run() -> None:
    long = "\n".join(f"Angela Merkel met Emmanuel Macron in Paris, take {i}." for i in range(400))
    app = corpus_app(corpus=None, max_concurrency=1)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.connection is not None)
        log = notes(app)
        hold_after_two(app)  # the run cannot end by itself while the keys below are pressed
        import tempfile

        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write(long + "\n")
        app.open_corpus(Path(f.name))
        for _ in range(3000):
            await pilot.pause(0.01)
            if sum(s is not None for s in app.corpus_scored) >= 2:
                break
        else:
            raise AssertionError("no document was scored")
        assert app.corpus_running
        await pilot.press("m")  # the main view stays usable while the run goes on
        assert app.screen is app.main and app.corpus_running
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert isinstance(app.screen, CorpusScreen) and app.corpus_running
        await pilot.press("escape")
        await settle(pilot, lambda: app.corpus_scores is not None and not app.corpus_running)
        done = sum(s is not None for s in app.corpus_scored)
        assert 0 < done < 400
        assert any("cancelled" in m for m, _, _ in log)
        assert isinstance(app.screen, CorpusScreen)
        Path(f.name).unlink()


async def test_broken_lines_are_reported(tmp_path: Path) -> None:
    corpus = tmp_path / "broken.jsonl"
    corpus.write_text(
        '{"text": "Angela Merkel visited Paris.", "entities": '
        '[{"start": 0, "end": 13, "label": "PER"}]}\n'
        "{not json\n"
        '{"text": "Microsoft rose.", "entities": [{"start": 0, "end": 9, "label": "ORG"}]}\n'
    )
    app = corpus_app(corpus=corpus)
    log = notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await scored(pilot)
        warnings = [(m, t) for m, t, s in log if s == "warning"]
        assert any("line 2" in m and "skipped" in t for m, t in warnings), warnings
        assert app.corpus_scores is not None and app.corpus_scores.report is not None
        assert app.corpus_scores.report.documents == 2


async def test_plain_text_corpus_lists_by_confidence(tmp_path: Path) -> None:
    corpus = tmp_path / "plain.txt"
    corpus.write_text(
        "Angela Merkel met Emmanuel Macron in Paris.\n"
        "the weather is nice today\n"
        "Microsoft and Apple shares rose in New York on Tuesday.\n"
    )
    app = corpus_app(corpus=corpus)
    async with app.run_test(size=SIZE) as pilot:
        await scored(pilot)
        scores = app.corpus_scores
        assert scores is not None and scores.report is None
        screen = app.corpus_screen
        assert screen is not None and screen.sort == "confidence"
        low = [r.min_confidence for r in screen.shown]
        known = [x for x in low if x is not None]
        assert known and known == sorted(known)
        assert "No gold labels" in str(screen.query_one("#scores-table").render())


async def test_ctrl_g_opens_the_picker_and_the_corpus() -> None:
    from textual.widgets import Input

    from ner_tui.ui.screens.open_file import OpenFileScreen

    app = corpus_app(corpus=None)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.connection is not None)
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert isinstance(app.screen, OpenFileScreen)
        app.screen.query_one(Input).value = str(CONLL)
        await pilot.press("enter")
        await scored(pilot)
        assert isinstance(app.screen, CorpusScreen)
        assert app.corpus_scores is not None and len(app.corpus_scores.results) == 16
        await pilot.press("escape")  # back to the main view; ctrl+g shows the corpus again
        assert app.screen is app.main
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert app.screen is app.corpus_screen
        assert app.screen.query_one("#corpus-docs", DocumentList).row_count == 16
        names = [c.name for c in app.palette_commands()]
        assert "Open corpus…" in names and "Show corpus" in names


def test_corpus_flag_reaches_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    from ner_tui import cli
    from ner_tui.ui import app as app_module

    seen: dict[str, Any] = {}

    def run_app(settings: Settings, *, corpus: Path | None = None) -> int:
        seen["corpus"] = corpus
        return 0

    monkeypatch.setattr(app_module, "run_app", run_app)
    assert cli.main(["--local", "--corpus", str(CONLL)]) == 0
    assert seen["corpus"] == CONLL


async def test_every_document_is_listed_and_reachable(tmp_path: Path) -> None:
    """250 documents (more than the old 200-row cap) in a short terminal: all are listed,
    only the visible rows are drawn, end/pageup/home move the cursor and scroll with it, a
    re-score leaves it on its document, and Enter opens the document under the cursor."""
    texts = [f"Document {i} mentions Angela Merkel in Paris ." for i in range(250)]
    corpus = tmp_path / "many.txt"
    corpus.write_text("\n".join(texts) + "\n")
    app = corpus_app(corpus)
    async with app.run_test(size=(100, 16)) as pilot:
        await scored(pilot)
        listing = app.screen.query_one("#corpus-docs", DocumentList)
        assert listing.row_count == 250 and len(doc_order(app)) == 250
        shown = app.corpus_screen.shown  # type: ignore[union-attr]

        def drawn() -> list[int]:
            """The documents on screen: each row's number (column 1) and text agree (the
            text may be cut at the list's edge)."""
            lines = [listing.render_line(y).text.split() for y in range(listing.size.height)]
            assert lines[0][:2] == ["#", "err"]  # compact columns: the list is under 60 cells
            rows = [words for words in lines[1:] if words]
            assert all(
                str(int(words[0]) - 1).startswith(words[words.index("Document") + 1])
                for words in rows
            )
            return [int(words[0]) - 1 for words in rows]

        assert drawn()[0] == shown[0].doc.index
        await pilot.press("end")
        assert listing.cursor == 249
        assert drawn()[-1] == shown[249].doc.index
        assert shown[0].doc.index not in drawn()
        await pilot.press("pageup")
        assert listing.cursor == 249 - (listing.size.height - 2)
        await pilot.press("home", "down", "down")
        assert listing.cursor == 2
        here = shown[2].doc.index
        before = app.corpus_scores
        await pilot.press("f4")  # re-scored: the cursor stays on its document
        await settle(pilot, lambda: app.corpus_scores is not before)
        shown = app.corpus_screen.shown  # type: ignore[union-attr]
        assert shown[listing.cursor].doc.index == here
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, CorpusDocumentScreen)
        assert app.screen.result is shown[listing.cursor]


async def painted(app: NerTuiApp, shows: Any, seconds: float = 20.0) -> bool:
    """Whether Textual draws a frame showing ``shows()`` by itself (its own update timer, as in
    a terminal: no ``pilot.pause``, which refreshes the screen on its own)."""
    frames: list[bool] = []
    original = app._display

    def display(screen: Any, renderable: Any) -> None:
        frames.append(bool(shows()))
        original(screen, renderable)

    app._display = display  # type: ignore[method-assign]
    try:
        for _ in range(int(seconds / 0.01)):
            await asyncio.sleep(0.01)
            if any(frames):
                return True
        return False
    finally:
        app._display = original  # type: ignore[method-assign]


async def test_corpus_screen_shown_again_still_repaints() -> None:
    """Leaving the corpus view and coming back (escape, ctrl+g) shows the same screen, and a key
    there still reaches the terminal: a screen Textual removed on pop and then pushed again
    never repaints by itself (its update timer stopped), so the app keeps it installed."""
    from textual import events

    app = corpus_app()
    async with app.run_test(size=SIZE) as pilot:
        await scored(pilot)
        screen = app.corpus_screen
        assert screen is not None
        await pilot.press("escape")
        assert app.screen is app.main
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert app.screen is screen
        sort = screen.sort
        key = events.Key("s", "s")
        key.set_sender(app)
        app._driver.send_message(key)  # type: ignore[union-attr]  # as the terminal does
        assert await painted(app, lambda: app.screen is screen and screen.sort != sort)


async def test_a_second_corpus_replaces_the_first() -> None:
    app = corpus_app()
    async with app.run_test(size=SIZE) as pilot:
        await scored(pilot)
        first = app.corpus_screen
        assert first is not None
        await pilot.press("escape")
        app.open_corpus(ERRORS)
        await scored(pilot)
        second = app.corpus_screen
        assert second is not None and second is not first and app.screen is second
        assert not app.is_screen_installed(first) and not first.is_attached
        assert app.corpus_scores is not None and len(app.corpus_scores.results) == 17
        app.open_corpus(CONLL)  # from the corpus view itself
        await scored(pilot)
        assert app.screen is app.corpus_screen and app.corpus_screen is not second
        assert not app.is_screen_installed(second) and not second.is_attached
        assert app.screen_stack == [app.main, app.corpus_screen]
