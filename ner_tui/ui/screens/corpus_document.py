"""One corpus document: gold and prediction both visible, each error marked by its kind."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from ner_tui.core.corpus_scores import DocumentResult
from ner_tui.ui.corpus_marks import DIM, error_line, legend, marked_text
from ner_tui.ui.palette import EntityPalette

if TYPE_CHECKING:
    from ner_tui.ui.app import NerTuiApp


class CorpusDocumentScreen(Screen[None]):
    """The document twice: gold spans above, predicted spans below, in the same marks."""

    BINDINGS = [  # noqa: RUF012
        Binding(
            "escape", "app.pop_screen", "Back", id="document.back", tooltip="Back to the list."
        ),
        Binding("n", "jump(1)", "Next error", id="document.next", tooltip="Mark the next error."),
        Binding(
            "p", "jump(-1)", "Previous error", id="document.previous", tooltip="The previous error."
        ),
        Binding(
            "l",
            "load",
            "Load in main view",
            id="document.load",
            tooltip="Show this document in the main view (from the kept scores, no request).",
        ),
    ]

    def __init__(self, result: DocumentResult, palette: EntityPalette, error: int = 0) -> None:
        super().__init__()
        self.result = result
        self.palette = palette
        errors = result.score.errors if result.score is not None else ()
        self.errors = errors
        self.current = min(max(error, 0), len(errors) - 1) if errors else -1

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        yield Static(legend(self.app.size.width - 2), id="document-legend")
        with VerticalScroll(id="document-body"):
            yield Static(id="document-gold", classes="document-side")
            yield Static(id="document-pred", classes="document-side")
        yield Static(id="document-errors")
        yield Footer()

    def on_mount(self) -> None:
        doc = self.result.doc
        self.title = f"Document {doc.index + 1} · line {doc.line}"
        self.query_one("#document-gold").border_title = "Gold"
        self.query_one("#document-pred").border_title = "Predicted"
        self.query_one("#document-errors").border_title = "Errors · n next · p previous"
        self.show()

    def on_resize(self) -> None:
        self.query_one("#document-legend", Static).update(legend(self.size.width - 2))

    def show(self) -> None:
        current = self.errors[self.current] if self.current >= 0 else None
        gold_spans = self.result.doc.gold
        gold = self.query_one("#document-gold", Static)
        if gold_spans is None:
            gold.update(Content.styled("No gold labels for this document.", DIM))
        else:
            gold.update(marked_text(self.result, gold_spans, "gold", self.palette, current))
        pred = marked_text(self.result, self.result.predicted, "pred", self.palette, current)
        self.query_one("#document-pred", Static).update(pred)
        box = self.query_one("#document-errors", Static)
        if not self.errors:
            none = "No errors" if self.result.score is not None else "Not scored (no gold)"
            box.update(Content.styled(none, DIM))
            return
        lines = []
        for i, error in enumerate(self.errors):
            mark = "▶ " if i == self.current else "  "
            lines.append(Content(mark) + error_line(self.result, error))
        box.update(Content("\n").join(lines))
        box.border_subtitle = f"{self.current + 1} of {len(self.errors)}"
        target = gold if current is not None and current.gold is not None else None
        if target is not None:
            target.scroll_visible()

    def action_jump(self, step: int) -> None:
        if not self.errors:
            self.notify("This document has no errors.", markup=False, timeout=2)
            return
        self.current = (self.current + step) % len(self.errors)
        self.show()

    def action_load(self) -> None:
        app = cast("NerTuiApp", self.app)
        app.show_corpus_document(self.result.doc.index)
