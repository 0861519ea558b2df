"""The corpus, compared: model A's and model B's scores per type, B - A with its paired
bootstrap interval, and the documents the two disagree on most first.

A's scores are the corpus view's kept ones (no request). B is the app's compare target: when
it is A under other settings, its scores are A's too (no request at all); else every document
goes through B's backend once, ``max_concurrency`` in flight. Enter on a document loads it into
the main view and opens compare mode on it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from ner_tui.core.compare import CompareTarget, CorpusComparison, compare_corpus, rename
from ner_tui.core.errors import NerTuiError
from ner_tui.core.types import DecodeMode, DecodeOptions, ScoredText
from ner_tui.core.visible import visible_text

if TYPE_CHECKING:
    from ner_tui.ui.app import NerTuiApp


def _f(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


class CorpusCompareScreen(Screen[None]):
    """Per-type scores of A and B side by side, and documents by disagreement."""

    DEFAULT_CSS = """
    CorpusCompareScreen #cc-status { height: auto; padding: 0 1; background: $panel; }
    CorpusCompareScreen #cc-scores { height: auto; max-height: 50%; }
    CorpusCompareScreen #cc-docs { height: 1fr; }
    CorpusCompareScreen DataTable { border: round $primary 50%; }
    """

    BINDINGS = [  # noqa: RUF012
        Binding("escape", "back", "Back", id="compare_corpus.back", tooltip="Back."),
        Binding(
            "f2",
            "a_setting('cycle_aggregation')",
            "A aggregation",
            id="compare_corpus.a_aggregation",
            tooltip="Model A's word grouping (the app's setting); both compared again from "
            "the kept scores.",
        ),
        Binding(
            "f3",
            "a_setting('toggle_mode')",
            "A strict/lenient",
            id="compare_corpus.a_mode",
            tooltip="Model A's BIO decoder (the app's setting); compared again, no request.",
        ),
    ]

    class Done(Message):
        def __init__(self, result: CorpusComparison | None, note: str) -> None:
            super().__init__()
            self.result, self.note = result, note

    def __init__(self, target: CompareTarget) -> None:
        super().__init__()
        self.target = target
        self.result: CorpusComparison | None = None
        self.scored_b: list[ScoredText | None] | None = None  # kept: B is asked once

    @property
    def nert(self) -> NerTuiApp:
        return cast("NerTuiApp", self.app)

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        yield Static("Comparing the corpus…", id="cc-status")
        with Vertical():
            yield DataTable(id="cc-scores", cursor_type="row")
            yield DataTable(id="cc-docs", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#cc-scores").border_title = "F1 per type: A, B, B - A"
        self.query_one("#cc-docs").border_title = "Documents, most disagreements first"
        self.run_comparison()

    def action_back(self) -> None:
        self.workers.cancel_group(self, "compare-corpus")
        self.app.pop_screen()

    def action_a_setting(self, action: str) -> None:
        """Change A's decoding (the app's setting: the corpus view follows) and compare again
        from the kept scores of both."""
        getattr(self.nert, f"action_{action}")()
        self.query_one("#cc-status", Static).update(Text("Comparing again…"))
        self.run_comparison()

    @work(exclusive=True, group="compare-corpus", exit_on_error=False)
    async def run_comparison(self) -> None:
        """B's scores (A's kept ones when B is A under other settings), then both decoded,
        scored and compared in threads."""
        from ner_tui.core.aio import map_ordered
        from ner_tui.core.connect import connect
        from ner_tui.core.corpus_scores import decode_corpus, rescore

        app, target = self.nert, self.target
        docs, scored_a = list(app.corpus_docs), list(app.corpus_scored)
        options_a = app.decode_options
        options_b = target.options(options_a)
        scored_b: list[ScoredText | None] = scored_a
        failed = 0
        if self.scored_b is not None:
            scored_b = self.scored_b
        elif target.own_backend:
            settings = target.settings(app.settings)
            try:
                conn = await connect(settings, "local" if settings.local else "server")
            except NerTuiError as error:
                self.post_message(self.Done(None, f"Model B failed: {error.message}"))
                return
            status = self.query_one("#cc-status", Static)

            async def one(k: int) -> ScoredText | None:
                if scored_a[k] is None:
                    return None
                try:
                    return await conn.score(docs[k].text)
                except NerTuiError:
                    return None

            scored_b = []
            try:
                async for item in map_ordered(
                    one, range(len(docs)), limit=app.settings.max_concurrency
                ):
                    scored_b.append(item)
                    failed += item is None and scored_a[len(scored_b) - 1] is not None
                    status.update(Text(f"Model B: {len(scored_b):,} of {len(docs):,} documents…"))
            finally:
                await conn.aclose()
            self.scored_b = scored_b

        def work_out() -> CorpusComparison:
            decoded_a = decode_corpus(scored_a, options_a)
            decoded_b = rename(decode_corpus(scored_b, options_b), target.label_map)
            a = rescore(docs, decoded_a, options_a).results
            b = rescore(docs, decoded_b, options_b).results
            return compare_corpus(a, b)

        result = await asyncio.to_thread(work_out)
        note = f"; model B failed on {failed:,} documents (left out)" if failed else ""
        self.post_message(self.Done(result, note))

    @on(Done)
    def _on_done(self, message: Done) -> None:
        status = self.query_one("#cc-status", Static)
        result = self.result = message.result
        if result is None:
            status.update(Text(message.note, style="bold"))
            self.app.notify(message.note, title="Model B failed", severity="error", markup=False)
            return
        a, b = self.nert.decode_options, self.target.options(self.nert.decode_options)
        status.update(
            Text(
                f"A: {_describe(self.nert, a, None)}\nB: {_describe(self.nert, b, self.target)}"
                f"\n{result.paired:,} documents with gold compared, 95% paired bootstrap "
                f"intervals (1,000 resamples, seed 0){message.note}"
            )
        )
        scores = self.query_one("#cc-scores", DataTable)
        scores.clear(columns=True)
        scores.add_columns("type", "F1 A", "F1 B", "B - A", "95% interval", "")
        for d in [*result.differences[1:], *result.differences[:1]]:
            scores.add_row(
                Text("micro avg" if d.label == "micro" else d.label),
                Text(_f(d.f1_a), justify="right"),
                Text(_f(d.f1_b), justify="right"),
                Text(f"{d.difference:+.4f}", justify="right"),
                Text(f"[{d.low:+.4f}, {d.high:+.4f}]"),
                Text(d.verdict, style="bold" if d.worse or d.better else ""),
            )
        docs = self.query_one("#cc-docs", DataTable)
        docs.clear(columns=True)
        docs.add_columns("#", "line", "disagree", "F1 A", "F1 B", "text")
        corpus = self.nert.corpus_docs
        for row in result.documents[:200]:
            doc = corpus[row.index]
            docs.add_row(
                Text(str(row.index + 1), justify="right"),
                Text(str(doc.line), justify="right"),
                Text(f"{row.disagreements} of {row.entities}", justify="right"),
                Text(_f(row.f1_a), justify="right"),
                Text(_f(row.f1_b), justify="right"),
                Text(visible_text(doc.text[:80])),
                key=str(row.index),
            )

    @on(DataTable.RowSelected, "#cc-docs")
    def _on_document(self, event: DataTable.RowSelected) -> None:
        """Load the document into the main view and compare the two models on it."""
        from ner_tui.ui.screens.compare import CompareScreen
        from ner_tui.ui.widgets.input_pane import InputPane

        index = int(str(event.row_key.value))
        text = self.nert.corpus_docs[index].text
        app = self.nert
        while app.screen is not app.main:
            app.pop_screen()
        app.main.query_one(InputPane).load_text(text)
        app.push_screen(CompareScreen(self.target, text))


def _describe(app: NerTuiApp, options: DecodeOptions, target: CompareTarget | None) -> str:
    conn = app.connection
    where = f"{conn.model} ({conn.source})" if conn else "not connected"
    if target is not None and target.own_backend:
        settings = target.settings(app.settings)
        where = (
            f"{settings.model or 'bundled model'} (local engine)"
            if settings.local
            else f"{settings.model or 'served model'} at {settings.base_url}"
        )
    return f"{where}; {options.aggregation}, {options.mode}" + (
        f", threshold {options.threshold:g}" if options.threshold else ""
    )


def show_corpus_compare(app: NerTuiApp) -> None:
    """Open the corpus comparison (the palette's command): B is the app's compare target,
    else A under the other BIO decoder."""
    if not app.corpus_docs or app.corpus_running:
        app.notify("Open a corpus and let it finish first (ctrl+g).", markup=False)
        return
    other: DecodeMode = "lenient" if app.decode_options.mode == "strict" else "strict"
    target = app.compare_target or CompareTarget(mode=other)
    app.push_screen(CorpusCompareScreen(dataclasses.replace(target)))
