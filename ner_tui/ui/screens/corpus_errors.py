"""The error browser: every error of the corpus (of one kind, of one type) in one list."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from ner_tui.core.corpus import CorpusDocument
from ner_tui.core.corpus_scores import CorpusScores, DocumentResult, all_errors, entity_types
from ner_tui.core.evaluation import char_span
from ner_tui.core.scoring import ERROR_KINDS, Span
from ner_tui.ui.corpus_marks import BOLD, DIM, KIND_NAMES, KIND_STYLES, cell, preview
from ner_tui.ui.palette import EntityPalette
from ner_tui.ui.screens.corpus_document import CorpusDocumentScreen


def _cycle(value: str | None, choices: list[str] | tuple[str, ...]) -> str | None:
    options: list[str | None] = [None, *choices]
    return options[(options.index(value) + 1) % len(options)] if value in options else None


class ErrorBrowserScreen(Screen[None]):
    BINDINGS = [  # noqa: RUF012
        Binding("escape", "app.pop_screen", "Back", id="errors.back", tooltip="Back to the list."),
        Binding("t", "cycle_type", "Type", id="errors.type", tooltip="Only errors of a type."),
        Binding("k", "cycle_kind", "Kind", id="errors.kind", tooltip="Only errors of a kind."),
    ]

    def __init__(
        self,
        scores: CorpusScores,
        palette: EntityPalette,
        *,
        kind: str | None = None,
        label: str | None = None,
    ) -> None:
        super().__init__()
        self.scores = scores
        self.palette = palette
        self.kind = kind
        self.label = label
        self.shown: list[tuple[DocumentResult, int]] = []

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        yield Static(id="errors-filters")
        yield DataTable(id="errors-table", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Errors"
        table = self.query_one(DataTable)
        table.add_columns("kind", "type", "gold", "predicted", "#", "line")
        self._fill()
        table.focus()

    def _fill(self) -> None:
        self.query_one("#errors-filters", Static).update(
            Content.assemble(
                ("kind ", DIM),
                (KIND_NAMES.get(self.kind or "", "all"), BOLD),
                (" · type ", DIM),
                (self.label or "all", BOLD),
                ("   enter opens the document at the error", DIM),
            )
        )
        table = self.query_one(DataTable)
        table.clear()
        self.shown = all_errors(self.scores.results, kind=self.kind, label=self.label)
        for result, i in self.shown:
            error = result.score.errors[i]  # type: ignore[union-attr]
            doc = result.doc

            def text(span: Span | None, doc: CorpusDocument = doc) -> str:
                if span is None:
                    return "—"
                start, end = char_span(doc, span)
                return preview(doc.text[start:end], 28)

            gold, pred = error.gold, error.pred
            labels = " → ".join(dict.fromkeys(s.label for s in (gold, pred) if s is not None))
            table.add_row(
                cell(KIND_NAMES[error.kind], KIND_STYLES[error.kind]),
                cell(labels),
                cell(text(gold)),
                cell(text(pred)),
                str(doc.index + 1),
                str(doc.line),
            )
        self.sub_title = f"{len(self.shown)} errors"

    def action_cycle_type(self) -> None:
        self.label = _cycle(self.label, entity_types(self.scores.results))
        self._fill()

    def action_cycle_kind(self) -> None:
        self.kind = _cycle(self.kind, ERROR_KINDS)
        self._fill()

    @on(DataTable.RowSelected, "#errors-table")
    def _open(self, event: DataTable.RowSelected) -> None:
        if 0 <= event.cursor_row < len(self.shown):
            result, i = self.shown[event.cursor_row]
            self.app.push_screen(CorpusDocumentScreen(result, self.palette, error=i))
