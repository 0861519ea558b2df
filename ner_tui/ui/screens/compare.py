"""Compare mode: the main view's text through model A (the app's connection) and model B.

B is a :class:`~ner_tui.core.compare.CompareTarget`: another server, model or local engine
(opened here, on first use, and closed with the screen), or A under other decoding settings
(A's scores decoded again: no second request). Both requests run concurrently; a side that
fails shows its error in the status line and a notification, and the other side's entities
are still shown (as "only A" or "only B"). ``a`` and ``s`` change B's aggregation and decoder
from the kept scores, without asking either model again.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.color import Color
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.style import Style
from textual.widgets import Footer, Header, OptionList, Static

from ner_tui.core.compare import (
    CompareTarget,
    Comparison,
    DiffKind,
    compare,
    compare_spans,
    mentions,
)
from ner_tui.core.errors import NerTuiError
from ner_tui.core.types import AGGREGATIONS, DecodeMode, DecodeOptions, Prediction, ScoredText
from ner_tui.ui.widgets.compare_view import (
    MAX_WORDS,
    CompareText,
    CompareWords,
    DisagreementList,
    kind_styles,
    legend,
)
from ner_tui.ui.widgets.status_line import short_model

if TYPE_CHECKING:
    from ner_tui.core.connect import Connection
    from ner_tui.ui.app import NerTuiApp

Outcome = ScoredText | NerTuiError


@dataclass(frozen=True, eq=False)
class SideShown:
    """What the status line says of one side."""

    model: str
    source: str
    options: DecodeOptions
    elapsed_ms: float | None = None
    entities: int | None = None
    error: NerTuiError | None = None


class CompareScreen(Screen[None]):
    """A vs B on one text: marked text, disagreements first, words side by side."""

    DEFAULT_CSS = """
    CompareScreen #compare-status { height: 2; padding: 0 1; background: $panel; }
    CompareScreen #compare-main { height: 1fr; }
    CompareScreen #compare-left { width: 1fr; }
    CompareScreen #compare-text-box, CompareScreen #compare-words,
    CompareScreen #compare-list, CompareScreen #compare-legend {
        border: round $primary 50%;
        border-title-color: $text;
    }
    CompareScreen #compare-text-box { height: auto; max-height: 50%; min-height: 5; padding: 0 1; }
    CompareScreen #compare-words { height: 1fr; }
    CompareScreen #compare-sidebar { width: 40; }
    CompareScreen #compare-list { height: 1fr; }
    CompareScreen #compare-legend { height: auto; }
    """

    BINDINGS = [  # noqa: RUF012
        Binding("escape", "back", "Back", id="compare.back", tooltip="Back to the main view."),
        Binding(
            "r",
            "rerun",
            "Re-run",
            id="compare.rerun",
            tooltip="Ask both models again about the main view's text.",
        ),
        Binding(
            "a",
            "cycle_b_aggregation",
            "B aggregation",
            id="compare.aggregation",
            tooltip="Model B's word grouping, from the kept scores (no request).",
        ),
        Binding(
            "f2",
            "a_setting('cycle_aggregation')",
            "A aggregation",
            id="compare.a_aggregation",
            tooltip="Model A's word grouping (the app's setting), from the kept scores.",
        ),
        Binding(
            "f3",
            "a_setting('toggle_mode')",
            "A strict/lenient",
            id="compare.a_mode",
            tooltip="Model A's BIO decoder (the app's setting), from the kept scores.",
        ),
        Binding(
            "f4",
            "a_threshold(1)",
            "A threshold",
            id="compare.a_threshold_up",
            show=False,
            tooltip="Raise model A's confidence threshold (the app's setting).",
        ),
        Binding(
            "shift+f4",
            "a_threshold(-1)",
            "A threshold down",
            id="compare.a_threshold_down",
            show=False,
            tooltip="Lower model A's confidence threshold (the app's setting).",
        ),
        Binding(
            "s",
            "toggle_b_mode",
            "B strict/lenient",
            id="compare.mode",
            tooltip="Model B's BIO decoder, from the kept scores (no request).",
        ),
    ]

    class Scored(Message):
        """Both sides' scores (or errors) for ``text``."""

        def __init__(self, text: str, a: Outcome, b: Outcome) -> None:
            super().__init__()
            self.text, self.a, self.b = text, a, b

    class Compared(Message):
        def __init__(
            self, comparison: Comparison, a: SideShown, b: SideShown, options_b: DecodeOptions
        ) -> None:
            super().__init__()
            self.comparison, self.a, self.b, self.options_b = comparison, a, b, options_b

    def __init__(self, target: CompareTarget, text: str) -> None:
        super().__init__()
        self.target = target
        self.text = text
        self.connection_b: Connection | None = None
        self.scored: tuple[Outcome, Outcome] | None = None
        self.comparison: Comparison | None = None
        self.kind_styles: dict[DiffKind, Style] = {}

    @property
    def nert(self) -> NerTuiApp:
        return cast("NerTuiApp", self.app)

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        yield Static(id="compare-status")
        with Horizontal(id="compare-main"):
            with Vertical(id="compare-left"):
                with VerticalScroll(id="compare-text-box"):
                    yield CompareText(id="compare-text")
                yield CompareWords(id="compare-words", cursor_type="row", zebra_stripes=True)
            with Vertical(id="compare-sidebar"):
                yield DisagreementList(id="compare-list")
                yield Static(id="compare-legend")
        yield Footer()

    def on_mount(self) -> None:
        self.kind_styles = kind_styles()
        self.query_one("#compare-text-box").border_title = "A vs B in the text"
        self.query_one("#compare-words").border_title = "Words"
        self.query_one("#compare-list").border_title = "Disagreements first"
        self.query_one("#compare-legend").border_title = "Marks"
        self.query_one(CompareText).show(None, self.kind_styles)
        self.query_one("#compare-legend", Static).update(legend(self.kind_styles, {}))
        self.run_compare(self.text)

    async def on_unmount(self) -> None:
        if self.connection_b is not None:
            await self.connection_b.aclose()
            self.connection_b = None

    # ------------------------------------------------------------------ running

    def options_b(self) -> DecodeOptions:
        return self.target.options(self.nert.decode_options)

    @work(exclusive=True, group="compare", exit_on_error=False)
    async def run_compare(self, text: str) -> None:
        """Score ``text`` on A and B concurrently (B connected on first use); one request when
        B is A under other settings."""
        from ner_tui.core.connect import connect

        app = self.nert
        target = self.target
        self.text = text
        self.query_one(CompareText).loading = True

        async def side_a() -> Outcome:
            if app.connection is None:
                return NerTuiError("Model A is not connected yet.")
            try:
                return await app.connection.score(text)
            except NerTuiError as error:
                return error

        async def side_b() -> Outcome | None:
            if not target.own_backend:
                return None
            if self.connection_b is None:
                settings = target.settings(app.settings)
                try:
                    self.connection_b = await connect(
                        settings, "local" if settings.local else "server", discover_timeout=5.0
                    )
                except NerTuiError as error:
                    return error
            try:
                return await self.connection_b.score(text)
            except NerTuiError as error:
                return error

        a, b = await asyncio.gather(side_a(), side_b())
        self.post_message(self.Scored(text, a, a if b is None else b))

    @on(Scored)
    def _on_scored(self, message: Scored) -> None:
        self.scored = (message.a, message.b)
        for side, outcome in (("A", message.a), ("B", message.b)):
            if isinstance(outcome, NerTuiError) and not (side == "B" and outcome is message.a):
                self.app.notify(
                    outcome.message + (f"\n{outcome.hint}" if outcome.hint else ""),
                    title=f"Model {side} failed",
                    severity="error",
                    markup=False,
                )
        self.redecode()

    @work(exclusive=True, group="compare-decode", exit_on_error=False)
    async def redecode(self) -> None:
        """Decode the kept scores under A's and B's options and compare them (in a thread)."""
        if self.scored is None:
            return
        a, b = self.scored
        options_a, options_b = self.nert.decode_options, self.options_b()
        label_map = dict(self.target.label_map)
        comparison, shown_a, shown_b = await asyncio.to_thread(
            _compare_outcomes, self.text, a, b, options_a, options_b, label_map, self._names()
        )
        self.post_message(self.Compared(comparison, shown_a, shown_b, options_b))

    def _names(self) -> tuple[tuple[str, str], tuple[str, str]]:
        """(model, source) of A and of B, for a side that failed before it had scores."""
        conn = self.nert.connection
        a = (conn.model, conn.source) if conn else ("not connected", "")
        if not self.target.own_backend:
            return a, a
        if self.connection_b is not None:
            return a, (self.connection_b.model, self.connection_b.source)
        settings = self.target.settings(self.nert.settings)
        where = "local engine" if settings.local else settings.base_url
        return a, (settings.model or "model B", where)

    @on(Compared)
    def _on_compared(self, message: Compared) -> None:
        if message.options_b != self.options_b():
            self.redecode()  # B's settings changed meanwhile
            return
        comparison = self.comparison = message.comparison
        self.query_one(CompareText).loading = False
        self.query_one(CompareText).show(comparison, self.kind_styles)
        self.query_one(DisagreementList).show(comparison, self.kind_styles)
        self.query_one(CompareWords).show(comparison)
        self.query_one("#compare-legend", Static).update(
            legend(self.kind_styles, comparison.counts)
        )
        self.query_one(
            "#compare-list"
        ).border_title = f"Disagreements · {comparison.disagreements} of {len(comparison.entities)}"
        words = len(comparison.words)
        shown = f" · the first {MAX_WORDS:,} shown" if words > MAX_WORDS else ""
        self.query_one(
            "#compare-words"
        ).border_title = f"Words · {comparison.word_disagreements} of {words:,} differ{shown}"
        self.query_one("#compare-status", Static).update(
            Content("\n").join([self._status("A", message.a), self._status("B", message.b)])
        )

    def _status(self, side: str, shown: SideShown) -> Content:
        variables = self.app.theme_variables
        bad = Style(bold=True, foreground=_colour(variables, "error", "#BA3C5B"))
        good = Style(bold=True, foreground=_colour(variables, "success", "#4EBF71"))
        options = shown.options
        decoding = f"{options.aggregation}, {options.mode}"
        if options.threshold:
            decoding += f", ≥{options.threshold:.1f}"
        parts: list[Content | tuple[str, Style] | str] = [
            (f"{side} ●", bad if shown.error else good),
            " ",
            (short_model(shown.model), Style(bold=True)),
            f" · {' · '.join(shown.source.split(' · ')[:2])} · {decoding}",
        ]
        if shown.error is not None:
            parts.append((f" · failed: {shown.error.message}", bad))
        else:
            if shown.elapsed_ms is not None:
                parts.append(f" · {self.nert.format_elapsed(shown.elapsed_ms)}")
            parts.append(f" · {shown.entities} entities")
        return Content.assemble(*parts)

    # ------------------------------------------------------------------ keys

    def action_back(self) -> None:
        self.workers.cancel_group(self, "compare")
        self.app.pop_screen()

    def action_rerun(self) -> None:
        from ner_tui.ui.widgets.input_pane import InputPane

        text = self.nert.main.query_one(InputPane).text
        if not text.strip():
            self.app.notify("The main view's text is empty.", severity="warning", markup=False)
            return
        self.run_compare(text)

    def action_a_setting(self, action: str) -> None:
        """Change A's decoding (the app's own setting, so the main view follows) and compare
        again from the kept scores."""
        getattr(self.nert, f"action_{action}")()
        self.redecode()

    def action_a_threshold(self, step: int) -> None:
        self.nert.action_threshold(step)
        self.redecode()

    def action_cycle_b_aggregation(self) -> None:
        current = self.options_b().aggregation
        nxt = AGGREGATIONS[(AGGREGATIONS.index(current) + 1) % len(AGGREGATIONS)]
        self.target = dataclasses.replace(self.target, aggregation=nxt)
        self.redecode()

    def action_toggle_b_mode(self) -> None:
        mode: DecodeMode = "lenient" if self.options_b().mode == "strict" else "strict"
        self.target = dataclasses.replace(self.target, mode=mode)
        self.redecode()

    @on(OptionList.OptionHighlighted, "#compare-list")
    def _on_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if self.comparison is None or event.option_index >= len(self.comparison.entities):
            return
        diff = self.comparison.entities[event.option_index]
        self.query_one(CompareWords).select_span(self.comparison, diff.start, diff.end)


def _colour(variables: dict[str, str], name: str, default: str) -> Color:
    """The theme's colour ``name``, or ``default`` when the theme lacks a usable one."""
    try:
        return Color.parse(variables[name])
    except Exception:
        return Color.parse(default)


def _compare_outcomes(
    text: str,
    a: Outcome,
    b: Outcome,
    options_a: DecodeOptions,
    options_b: DecodeOptions,
    label_map: dict[str, str],
    names: tuple[tuple[str, str], tuple[str, str]],
) -> tuple[Comparison, SideShown, SideShown]:
    """Decode each side that has scores and compare; a side that failed leaves the other's
    entities as "only" its own."""
    from ner_tui.core.decoding import decode

    def one(outcome: Outcome, options: DecodeOptions, name: tuple[str, str]) -> Any:
        if isinstance(outcome, NerTuiError):
            return None, SideShown(name[0], name[1], options, error=outcome)
        prediction = decode(outcome, options)
        shown = SideShown(
            outcome.model, outcome.source, options, outcome.elapsed_ms, len(prediction.entities)
        )
        return prediction, shown

    pa, shown_a = one(a, options_a, names[0])
    pb, shown_b = one(b, options_b, names[1])
    if isinstance(pa, Prediction) and isinstance(pb, Prediction):
        return compare(pa, pb, label_map), shown_a, shown_b
    found_a = mentions(pa.entities) if pa is not None else ()
    found_b = mentions(pb.entities, label_map) if pb is not None else ()
    return Comparison.of(text, compare_spans(found_a, found_b)), shown_a, shown_b
