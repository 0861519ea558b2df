"""The corpus view: scores panel, threshold curve and a sortable, filterable document list.

The model run and re-scoring are the app's workers (the run goes on when this screen is left);
the app sets what they produce here (:meth:`CorpusScreen.show_scores`, ``show_progress``).
f2/f3/f4 are the app's keys: they re-score the corpus from the kept model scores.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Header, ProgressBar, Sparkline, Static

from ner_tui.core.corpus_scores import (
    SORT_KEYS,
    CorpusScores,
    DocumentResult,
    SortKey,
    entity_types,
    select,
)
from ner_tui.core.scoring import ERROR_KINDS
from ner_tui.ui.corpus_list import DocumentList
from ner_tui.ui.corpus_marks import BOLD, DIM, KIND_NAMES, curve_caption, scores_table
from ner_tui.ui.screens.corpus_document import CorpusDocumentScreen
from ner_tui.ui.screens.corpus_errors import ErrorBrowserScreen

if TYPE_CHECKING:
    from ner_tui.ui.app import NerTuiApp

SORT_NAMES = {
    "document": "corpus order",
    "errors": "most errors",
    "f1": "lowest F1",
    "confidence": "lowest confidence",
}


def cycle(value: str | None, choices: list[str] | tuple[str, ...]) -> str | None:
    """The next of ``None`` (all) and ``choices``."""
    options: list[str | None] = [None, *choices]
    return options[(options.index(value) + 1) % len(options)] if value in options else None


def _update(widget: Static, content: Content) -> None:
    """``widget`` shows ``content``; the screen is laid out again only when its number of lines
    changed (new scores mostly change numbers, and a layout pass makes the next frame a full
    repaint of the screen)."""
    before = widget.visual
    same = isinstance(before, Content) and _lines(before) == _lines(content)
    widget.update(content, layout=not same)


def _lines(content: Content) -> int:
    return content.plain.count("\n") + 1 if content.plain else 0


class CorpusScreen(Screen[None]):
    BINDINGS = [  # noqa: RUF012
        Binding(
            "escape",
            "back",
            "Cancel/back",
            id="corpus.back",
            tooltip="Cancel the corpus run; when none runs, back to the main view.",
        ),
        Binding(
            "m",
            "app.pop_screen",
            "Main view",
            id="corpus.main",
            tooltip="Back to the main view; a run goes on (ctrl+g comes back here).",
        ),
        Binding(
            "s",
            "cycle_sort",
            "Sort",
            id="corpus.sort",
            tooltip="Corpus order, most errors, lowest F1, lowest confidence.",
        ),
        Binding("t", "cycle_type", "Type", id="corpus.type", tooltip="Only documents of a type."),
        Binding(
            "k",
            "cycle_kind",
            "Error kind",
            id="corpus.kind",
            tooltip="Only documents with an error of a kind.",
        ),
        Binding(
            "e",
            "errors",
            "Errors",
            id="corpus.errors",
            tooltip="Every error of the kind and type chosen, in one list.",
        ),
    ]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.corpus_name = name
        self.scores: CorpusScores | None = None
        self.sort: SortKey = "document"
        self.type_filter: str | None = None
        self.kind_filter: str | None = None
        self.shown: list[DocumentResult] = []
        self.running = False

    @property
    def ner_app(self) -> NerTuiApp:
        return cast("NerTuiApp", self.app)

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with Horizontal(id="corpus-main"):
            with Vertical(id="corpus-left"):
                yield ProgressBar(id="corpus-progress", show_eta=False)
                yield Static(id="corpus-filters")
                yield DocumentList(id="corpus-docs")
            with Vertical(id="corpus-scores"):
                yield Static(scores_table(None), id="scores-table")
                yield Sparkline([], id="threshold-curve")
                yield Static(id="curve-caption")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"Corpus · {self.corpus_name}"
        self.query_one("#corpus-left").border_title = "Documents"
        self.query_one("#corpus-scores").border_title = "Scores"
        self._show_filters()
        self.query_one(DocumentList).focus()
        # Mounted once (the app installs it) and kept up to date from then on: the app's state.
        app = self.ner_app
        if app.corpus_running:
            self.show_progress(app.corpus_done, len(app.corpus_docs))
        elif app.corpus_scores is not None:
            self.show_progress(1, 1)
            self.show_scores(app.corpus_scores)

    # ------------------------------------------------------------------ attributes down

    @property
    def ready(self) -> bool:
        """Composed (until its first push, the app's state waits for ``on_mount``)."""
        return bool(self.query("#corpus-docs"))

    def show_progress(self, done: int, total: int) -> None:
        self.running = done < total
        if not self.ready:
            return
        bar = self.query_one(ProgressBar)
        bar.display = self.running
        bar.update(total=total, progress=done)
        self._show_filters()

    def show_rescoring(self) -> None:
        if self.ready:
            self.query_one("#corpus-scores").border_subtitle = "re-scoring…"

    def show_scores(self, scores: CorpusScores) -> None:
        self.scores = scores
        if not self.ready:
            return
        o = scores.options
        self.query_one(
            "#corpus-scores"
        ).border_subtitle = f"{o.aggregation} · {o.mode} · threshold {o.threshold:.2f}"
        self._show_table()
        report = scores.report
        curve = self.query_one(Sparkline)
        curve.data = [p.f1 for p in report.thresholds] if report is not None else []
        curve.display = report is not None
        _update(self.query_one("#curve-caption", Static), curve_caption(scores))
        if report is None and self.sort == "document":
            self.sort = "confidence"
        self._fill(keep=True)

    def _show_table(self) -> None:
        """The scores table, in narrower cells below 110 columns (app.tcss: ``-narrow``)."""
        width = 44 if self.app.size.width >= 110 else 38
        _update(self.query_one("#scores-table", Static), scores_table(self.scores, width))

    def on_resize(self) -> None:
        if self.scores is not None and self.ready:
            self._show_table()

    def _show_filters(self) -> None:
        parts: list[tuple[str, object]] = [
            ("sort ", DIM),
            (SORT_NAMES[self.sort], BOLD),
            (" · type ", DIM),
            (self.type_filter or "all", BOLD),
            (" · errors ", DIM),
            (KIND_NAMES.get(self.kind_filter or "", "all"), BOLD),
        ]
        if self.running:
            parts.append(("   scoring… esc to cancel", DIM))
        _update(self.query_one("#corpus-filters", Static), Content.assemble(*parts))  # type: ignore[arg-type]

    def _fill(self, *, keep: bool = False) -> None:
        """List the documents chosen by the sort and filters (only the visible rows are
        rendered, so this is the cost of :func:`select`); ``keep``: the cursor stays on its
        document (new scores), else it goes to the top (new order)."""
        self._show_filters()
        if self.scores is None:
            self.shown = []
            self.query_one(DocumentList).show(self.shown)
            return
        self.shown = select(
            self.scores.results, sort=self.sort, label=self.type_filter, kind=self.kind_filter
        )
        self.query_one(DocumentList).show(self.shown, keep=keep)
        total = len(self.scores.results)
        self.query_one("#corpus-left").border_subtitle = f"{len(self.shown):,} of {total:,}"

    # ------------------------------------------------------------------ keys

    def action_back(self) -> None:
        if self.ner_app.corpus_running:
            self.ner_app.cancel_corpus()
        else:
            self.app.pop_screen()

    def action_cycle_sort(self) -> None:
        self.sort = SORT_KEYS[(SORT_KEYS.index(self.sort) + 1) % len(SORT_KEYS)]
        self._fill()

    def action_cycle_type(self) -> None:
        types = entity_types(self.scores.results) if self.scores else []
        self.type_filter = cycle(self.type_filter, types)
        self._fill()

    def action_cycle_kind(self) -> None:
        self.kind_filter = cycle(self.kind_filter, ERROR_KINDS)
        self._fill()

    def action_errors(self) -> None:
        if self.scores is None or self.scores.report is None:
            self.notify("No gold labels: there are no errors to list.", markup=False)
            return
        self.app.push_screen(
            ErrorBrowserScreen(
                self.scores, self.ner_app.palette, kind=self.kind_filter, label=self.type_filter
            )
        )

    @on(DocumentList.Selected, "#corpus-docs")
    def _open(self, event: DocumentList.Selected) -> None:
        index = event.index
        if 0 <= index < len(self.shown):
            self.app.push_screen(CorpusDocumentScreen(self.shown[index], self.ner_app.palette))
