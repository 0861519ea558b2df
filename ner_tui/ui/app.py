"""The ner-tui App: layout, key bindings and the wiring between workers and widgets.

Scores are fetched once per submit (``predict`` worker group, exclusive: a newer submit or
Escape cancels the older one); changing aggregation, decoder or threshold re-decodes the kept
:class:`ScoredText` in a thread (``decode`` group) without asking the server again.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.driver import Driver
from textual.screen import Screen
from textual.style import Style
from textual.timer import Timer
from textual.widgets import Footer, Header, Input, TextArea
from textual.worker import Worker, WorkerState

from ner_tui.core.compare import CompareTarget
from ner_tui.core.connect import Connection, Kind, connect
from ner_tui.core.corpus import CorpusDocument
from ner_tui.core.corpus_scores import CorpusDecoder, CorpusScores
from ner_tui.core.documents import read_text_file
from ner_tui.core.errors import (
    MalformedResponse,
    NerTuiError,
    RequestTimeout,
    RowMismatch,
    ServerUnreachable,
)
from ner_tui.core.session import SavedEntry, Session, load_session, save_session
from ner_tui.core.settings import Settings
from ner_tui.core.types import (
    AGGREGATIONS,
    Aggregation,
    DecodeMode,
    DecodeOptions,
    Prediction,
    ScoredText,
)
from ner_tui.ui.bindings import (
    APP_BINDINGS,
    THRESHOLD_MAX,
    THRESHOLD_STEP,
    app_binding,
    keys_of,
    known_binding_ids,
)
from ner_tui.ui.clipboard import copy_text
from ner_tui.ui.commands import NerCommands, PaletteCommand, app_commands
from ner_tui.ui.document import EntityDocument, LaidOut, decode_and_layout
from ner_tui.ui.history import History, HistoryEntry
from ner_tui.ui.messages import (
    Connected,
    ConnectionFailed,
    CorpusLoaded,
    CorpusProgress,
    CorpusScored,
    PredictionFailed,
    PredictionReady,
)
from ner_tui.ui.palette import EntityPalette, entity_types
from ner_tui.ui.paste import paste_safe_driver
from ner_tui.ui.samples import SAMPLES
from ner_tui.ui.screens.compare import CompareScreen
from ner_tui.ui.screens.compare_corpus import show_corpus_compare
from ner_tui.ui.screens.corpus import CorpusScreen
from ner_tui.ui.screens.distribution import DistributionScreen
from ner_tui.ui.screens.error import ErrorScreen
from ner_tui.ui.screens.export import ExportRequest, ExportScreen
from ner_tui.ui.screens.help import HelpScreen
from ner_tui.ui.screens.history import HistoryScreen
from ner_tui.ui.screens.open_file import OpenFileScreen
from ner_tui.ui.screens.search import SearchScreen
from ner_tui.ui.screens.types import TypesScreen
from ner_tui.ui.screenshots import ScreenshotsMixin
from ner_tui.ui.widgets.entity_sidebar import EntitySidebar
from ner_tui.ui.widgets.entity_text import EntityText
from ner_tui.ui.widgets.input_pane import InputPane
from ner_tui.ui.widgets.legend import Legend
from ner_tui.ui.widgets.options_bar import OptionsBar, ViewOptions
from ner_tui.ui.widgets.status_line import StatusInfo, StatusLine, format_ms, short_model
from ner_tui.ui.widgets.token_table import TokenTable

log = logging.getLogger(__name__)

LIVE_DELAY = 0.5  # seconds of no typing before a live prediction
SERVER_DISCOVER_TIMEOUT = 5.0  # a server that has not listed its models by then is not used
#: The local engine's threads run this much below the interface's priority (Linux): on a
#: laptop's few cores, ONNX Runtime's threads otherwise share the CPU evenly with the event
#: loop, and F1 took 0.2-1.6 s to open during a long prediction (bench/ui_dialogs.py).
ENGINE_NICE = 10
DIAGNOSTIC_ERRORS = (MalformedResponse, RowMismatch)
FIRST_SAMPLE = "News"


def _placeholder(lines: list[tuple[str, Style]]) -> Content:
    return Content("\n").join([Content.styled(text, style) for text, style in lines])


EMPTY_TEXT = _placeholder(
    [
        ("", Style()),
        ("Nothing predicted yet.", Style(bold=True)),
        ("", Style()),
        ("Type or paste text above and press ctrl+s: entities appear here,", Style(dim=True)),
        (
            "highlighted in their type's colour, with every token in the table below.",
            Style(dim=True),
        ),
        (
            "ctrl+n loads a sample text · f1 shows every key · ctrl+p opens the command palette.",
            Style(dim=True),
        ),
    ]
)


#: Seconds the corpus scores stay on screen, no key pressed, before f2's are scored ahead.
PREFETCH_AFTER = 0.15
#: Seconds after the last corpus scores before the collector tidies what freezing kept.
GC_TIDY_AFTER = 2.0


def _log_prefetch_failure(future: asyncio.Future[CorpusScores]) -> None:
    """A guess that failed costs nothing but the log line (f2 then scores as usual)."""
    if not future.cancelled() and future.exception() is not None:
        log.warning("scoring the corpus ahead failed", exc_info=future.exception())


class NerTuiApp(ScreenshotsMixin, App[int]):
    """``ner-tui``: type text, see what the NER model sees."""

    CSS_PATH = "app.tcss"
    TITLE = "ner-tui"
    COMMANDS = App.COMMANDS | {NerCommands}
    # Small terminals (80x24, 60x20) get a narrower sidebar, a shorter input and no header
    # (see app.tcss); the token table switches to its compact columns by itself.
    HORIZONTAL_BREAKPOINTS = [(0, "-tiny"), (72, "-narrow"), (110, "-wide")]  # noqa: RUF012
    VERTICAL_BREAKPOINTS = [(0, "-very-short"), (22, "-short"), (32, "-tall")]  # noqa: RUF012
    BINDINGS = APP_BINDINGS

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        initial_text: str | None = None,
        format_elapsed: Callable[[float], str] = format_ms,
        history_limit: int = 50,
        corpus: Path | None = None,
        compare: CompareTarget | None = None,
    ) -> None:
        """``initial_text`` None: the first sample (so a first launch shows real entities);
        ``format_elapsed`` renders round-trip times (tests fix it for stable snapshots)."""
        super().__init__()
        self.settings = settings or Settings()
        self.initial_text = SAMPLES[FIRST_SAMPLE] if initial_text is None else initial_text
        self.format_elapsed = format_elapsed
        self.history = History(history_limit)
        self.connection: Connection | None = None
        self.scored: ScoredText | None = None
        self.prediction: Prediction | None = None
        self.palette = EntityPalette()
        session, self._session_warning = load_session()
        self.view_options = _restored_options(self.settings, session)
        self._session_theme = session.theme
        self.history.restore(
            [HistoryEntry(e.text, e.model, e.entities, e.tokens, e.when) for e in session.history]
        )
        self._pending_text: str | None = None
        self._entity_index: int | None = None  # the entity ctrl+up/down stepped to
        self._search_query = ""
        self._search_at = -1
        self._predict_key = "ctrl+s"
        self._last_attempt: Kind = "local" if self.settings.local else "server"
        self._connecting: Kind | None = None
        self._live_timer: Timer | None = None
        self.live_delay = LIVE_DELAY
        self._sample_index = 0
        self._cancelled_by_user = False
        self.corpus_path = corpus  # opened once connected
        self.corpus_docs: list[CorpusDocument] = []
        self.corpus_scored: list[ScoredText | None] = []
        self.corpus_scores: CorpusScores | None = None
        self._corpus_decoder: CorpusDecoder | None = None  # the kept scores, packed once
        self.corpus_screen: CorpusScreen | None = None
        self._corpus_cancelled = False
        self.corpus_done = 0  # documents through the model in the run going on
        # The corpus scored ahead under the aggregation f2 goes to next (see _prefetch_next).
        self._prefetch_timer: Timer | None = None
        self._prefetching: tuple[DecodeOptions, asyncio.Future[CorpusScores]] | None = None
        # Full collections run once the scores settled (see _freeze_corpus).
        self._gc_tidy_timer: Timer | None = None
        self.gc_tidied = 0
        self.compare_target = compare  # model B (`ner-tui --compare-*`): compare mode at start
        self._compare_at_start = compare is not None  # (the corpus compared, with --corpus)

    def get_driver_class(self) -> type[Driver]:
        """Textual's driver for this terminal, reading pastes that contain ESC as text."""
        return paste_safe_driver(super().get_driver_class())

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        with Vertical(id="top"):
            yield InputPane(self.initial_text, id="input")
            yield OptionsBar(id="options")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield EntityText(EMPTY_TEXT, id="text-view")
                yield TokenTable(id="tokens")
            with Vertical(id="sidebar"):
                yield EntitySidebar(id="entities")
                yield Legend(id="legend")
        yield StatusLine(format_elapsed=self.format_elapsed, id="status")
        yield Footer()

    def on_mount(self) -> None:
        if self._session_warning:
            self.notify(self._session_warning, severity="warning", markup=False)
        if not self.settings.theme and self._session_theme in self.available_themes:
            self.theme = self._session_theme  # the last session's, unless the config names one
        if self.settings.theme and self.settings.theme in self.available_themes:
            self.theme = self.settings.theme
        elif self.settings.theme:
            self.notify(
                f"Unknown theme {self.settings.theme!r}; using {self.theme}.",
                severity="warning",
                markup=False,
            )
        self.apply_keymap(dict(self.settings.keymap))
        self.main.query_one("#input").border_title = "Text"
        self.main.query_one("#text-view").border_title = "Entities in text"
        self.main.query_one("#tokens").border_title = "Tokens"
        self.main.query_one("#sidebar").border_title = "Entities"
        self.main.query_one("#legend").border_title = "Labels"
        self.main.query_one(OptionsBar).show(self.view_options)
        self.main.query_one(Legend).show_palette(self.palette)
        self.main.query_one(EntitySidebar).set_prediction(None, self.palette)
        self.main.query_one(InputPane).focus()
        kind: Kind = "local" if self.settings.local else "server"
        self.connect_backend(kind, fallback=self.settings.fallback_local)

    def apply_keymap(self, keymap: dict[str, str]) -> None:
        """Rebind by binding id (Textual's keymap), everywhere the keys are shown: the footer,
        F1 and the input's border; the input gives up the app's keys it would take itself (an
        app key moved to ctrl+e must not move the cursor instead); unknown ids get a warning."""
        known = known_binding_ids()
        unknown = [name for name in keymap if name not in known]
        if unknown:
            self.notify(
                f"Unknown key binding {', '.join(map(repr, unknown))} in [keymap], ignored. "
                f"Valid names: {', '.join(known)}.",
                title="Keymap",
                severity="warning",
                markup=False,
                timeout=15,
            )
        keymap = {name: keys for name, keys in keymap.items() if name in known}
        self.set_keymap(keymap)
        app_keys = [
            key
            for binding in APP_BINDINGS
            if isinstance(binding, Binding) and binding.id in self._keymap
            for key in keys_of(binding, self._keymap)
        ]
        self.main.query_one(InputPane).yield_keys(app_keys)
        self._predict_key = predict = keys_of(app_binding("predict"), self._keymap)[0]
        self.main.query_one("#input").border_subtitle = f"{predict} predict"

    async def on_unmount(self) -> None:
        self.save_session()
        if self.connection is not None:
            await self.connection.aclose()

    def save_session(self) -> None:
        """Remember history, theme and decoding options for the next run (see core.session)."""
        options = self.view_options
        session = Session(
            history=tuple(
                SavedEntry(e.text, e.model, e.entities, e.tokens, e.when) for e in self.history
            ),
            theme=self.theme,
            aggregation=options.decode.aggregation,
            mode=options.decode.mode,
            threshold=options.decode.threshold,
            show_labels=options.show_labels,
            hidden_types=tuple(sorted(options.hidden_types)),
        )
        try:
            save_session(session)
        except OSError as error:  # the app is closing: log it, never fail the exit
            log.warning("could not save the session: %s", error)

    # ------------------------------------------------------------------ state helpers

    @property
    def main(self) -> Screen[object]:
        """The main view's screen (the app's own queries go there, whatever screen is on top)."""
        return self.screen_stack[0] if self.screen_stack else self.screen

    @property
    def decode_options(self) -> DecodeOptions:
        return self.view_options.decode

    @property
    def predicting(self) -> bool:
        return any(w.group == "predict" and not w.is_finished for w in self.workers)

    @property
    def _status(self) -> StatusInfo:
        """What the status line shows now (it keeps it; no copy here)."""
        return self.main.query_one(StatusLine).info

    def _show_status(self, **changes: object) -> None:
        line = self.main.query_one(StatusLine)
        line.show(replace(line.info, **changes))  # type: ignore[arg-type]

    def _set_options(self, options: ViewOptions, *, redecode: bool = True) -> None:
        self.view_options = options
        self.main.query_one(OptionsBar).show(options)
        if redecode and self.scored is not None:
            self.redecode()
        if redecode and self.corpus_scored and not self.corpus_running:
            self.rescore_corpus()

    def _set_decode(self, **changes: object) -> None:
        decode = replace(self.decode_options, **changes)  # type: ignore[arg-type]
        self._set_options(replace(self.view_options, decode=decode))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self.predicting
        if action in ("export", "copy_entities"):
            return True if self.prediction is not None else None
        return True

    # ------------------------------------------------------------------ connection

    @work(exclusive=True, group="connect", exit_on_error=False)
    async def connect_backend(self, kind: Kind, *, fallback: bool = False) -> None:
        """Connect to ``kind``; with ``fallback``, use the local engine when no server answers."""
        self._connecting = self._last_attempt = kind
        where = self.settings.base_url if kind == "server" else "local engine"
        self._show_status(state="connecting", source=f"connecting to {where}…")
        try:
            connection = await connect(
                self.settings,
                kind,
                discover_timeout=SERVER_DISCOVER_TIMEOUT,
                model_dir=self._current_model_dir(),
                nice=ENGINE_NICE,
            )
        except NerTuiError as error:
            if (
                kind == "server"
                and fallback
                and isinstance(error, ServerUnreachable | RequestTimeout)
            ):
                url = self.settings.base_url
                note = f"No server at {url}: using the local engine (ctrl+l retries)."
                self._show_status(state="connecting", source="starting the local engine…")
                self._last_attempt = "local"
                try:
                    connection = await connect(
                        self.settings, "local", model_dir=None, nice=ENGINE_NICE
                    )
                except NerTuiError as local_error:
                    self.post_message(ConnectionFailed("local", local_error))
                    return
                self.post_message(Connected(connection, note))
                return
            self.post_message(ConnectionFailed(kind, error))
            return
        self.post_message(Connected(connection))

    def _current_model_dir(self) -> str | None:
        """The loaded model's directory, so the local engine can run the server's model."""
        if self.connection is None:
            return None
        return self.connection.card.root or self.connection.info.name_or_path

    @on(Connected)
    async def _on_connected(self, message: Connected) -> None:
        old, self.connection = self.connection, message.connection
        self._connecting = None
        was_predicting = self.predicting
        if old is not None and old is not message.connection:
            # A request in flight on the old backend is superseded: the text is re-run below.
            self.workers.cancel_group(self, "predict")
            await old.aclose()
        conn = message.connection
        self.palette = EntityPalette(entity_types(conn.info.id2label))
        self.main.query_one(Legend).show_palette(self.palette)
        self.sub_title = short_model(conn.model)
        self._show_status(
            state="ready",
            source=conn.source,
            model=conn.model,
            max_model_len=conn.max_model_len,
            note="",
        )
        if message.note:
            self.notify(message.note, title="Local engine", markup=False)
        for warning in conn.warnings:
            self.notify(warning, severity="warning", markup=False)
        text = self._pending_text
        self._pending_text = None
        if text is None and (self.prediction is not None or self.initial_text or was_predicting):
            text = self.main.query_one(InputPane).text  # re-run with the new backend / first launch
        if text and text.strip():
            self.run_prediction(text)
        if self.corpus_path is not None and not self.corpus_docs:
            self.open_corpus(self.corpus_path)
        if self._compare_at_start and self.corpus_path is None:
            self._compare_at_start = False
            self.action_compare()
        self.refresh_bindings()

    @on(ConnectionFailed)
    def _on_connection_failed(self, message: ConnectionFailed) -> None:
        self._connecting = None
        error = message.error
        other = "the local engine" if message.kind == "server" else "a server"
        if self.connection is None:
            self._show_status(state="error", source="not connected", note=f"ctrl+l tries {other}")
        else:
            self._show_status(state="ready", source=self.connection.source)
        self._report(
            error,
            title="Could not connect"
            if message.kind == "server"
            else "Could not start the local engine",
            extra=f"Press ctrl+l to try {other}.",
        )

    def action_switch_backend(self) -> None:
        # The other side of what is connected, being connected, or last tried.
        current = self._connecting or (self.connection.kind if self.connection else None)
        current = current or self._last_attempt
        target: Kind = "local" if current == "server" else "server"
        self.notify(
            f"Switching to the {'local engine' if target == 'local' else 'server'}…",
            markup=False,
            timeout=2,
        )
        self.connect_backend(target, fallback=False)

    # ------------------------------------------------------------------ predicting

    def action_predict(self) -> None:
        # The text as shown once the keys typed or pasted before ctrl+s are in (see InputPane).
        self.main.query_one(InputPane).request_text()

    @on(InputPane.TextRequested)
    def _predict_text(self, message: InputPane.TextRequested) -> None:
        text = message.text
        if not text.strip():
            self.notify("Type or paste some text first.", severity="warning", markup=False)
            return
        if self.connection is None:
            self._pending_text = text
            if self._connecting is None:
                self.notify(
                    "Not connected: press ctrl+l to switch between server and local engine.",
                    severity="warning",
                    markup=False,
                )
            else:
                self.notify(
                    "Still connecting; the text is predicted as soon as it is ready.", markup=False
                )
            return
        self.run_prediction(text)

    @work(exclusive=True, group="predict", exit_on_error=False)
    async def run_prediction(self, text: str, *, live: bool = False) -> None:
        """Score ``text`` (tokenize in a thread, one pooling call), then decode and lay out in a
        thread; post the result. Cancelled by a newer submit or Escape."""
        connection = self.connection
        if connection is None:
            return
        self._cancelled_by_user = False
        self._busy(True, live=live)
        try:
            scored = await connection.score(text)
            prediction, document = await self._decode_and_layout(scored)
        except NerTuiError as error:
            self.post_message(PredictionFailed(error, text))
            return
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as error:  # a bug, but the app keeps running and says what happened
            log.exception("prediction failed")
            wrapped = NerTuiError(
                f"Unexpected {type(error).__name__}: {error}",
                hint="This is a bug in ner-tui; the details can be copied.",
            )
            wrapped.__cause__ = error
            self.post_message(PredictionFailed(wrapped, text))
            return
        self.post_message(PredictionReady(prediction, document, rescored=True))

    @work(exclusive=True, group="decode", exit_on_error=False)
    async def redecode(self) -> None:
        """Decode the kept scores again under the current options (no request)."""
        scored = self.scored
        if scored is None:
            return
        prediction, document = await self._decode_and_layout(scored)
        self.post_message(PredictionReady(prediction, document, rescored=False))

    async def _decode_and_layout(self, scored: ScoredText) -> tuple[Prediction, LaidOut]:
        """Decode and lay out ``scored`` in a thread, under the options set now."""
        return await asyncio.to_thread(
            decode_and_layout,
            scored,
            self.decode_options,
            self.palette,
            self.view_options.show_labels,
            self.view_options.hidden_types,
        )

    def _busy(self, busy: bool, *, live: bool = False) -> None:
        view = self.main.query_one(EntityText)
        if busy:
            view.border_subtitle = "predicting… esc to cancel"
            if not live:
                view.loading = True
            if self.connection is not None:
                self._show_status(state="busy")
        else:
            view.border_subtitle = ""
            view.loading = False
            self._mark_out_of_date()
            if self._status.state == "busy":
                self._show_status(state="ready")
        self.refresh_bindings()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place for worker endings the workers do not report themselves (bugs)."""
        worker = event.worker
        if not worker.is_finished:
            return
        if event.state == WorkerState.ERROR and worker.error is not None:
            titles = {
                "predict": "Prediction failed",
                "connect": "Could not connect",
                "corpus": "The corpus run failed",
                "corpus-score": "Scoring the corpus failed",
            }
            self._report(worker.error, title=titles.get(worker.group, "Something failed"))
        if worker.group == "corpus" and event.state == WorkerState.CANCELLED:
            if self._corpus_cancelled:
                self._corpus_cancelled = False
                done = sum(s is not None for s in self.corpus_scored)
                self.notify(
                    f"Corpus run cancelled: {done:,} of {len(self.corpus_docs):,} documents "
                    "scored; the scores are theirs.",
                    markup=False,
                    timeout=5,
                )
            if self.corpus_docs and not self.corpus_running:
                self.rescore_corpus()
        if worker.group != "predict":
            return
        if not self.predicting:
            self._busy(False)
        if event.state == WorkerState.CANCELLED and self._cancelled_by_user:
            self._cancelled_by_user = False
            self.notify("Prediction cancelled; the text is still there.", markup=False, timeout=3)

    def action_cancel(self) -> None:
        if self.predicting:
            self._cancelled_by_user = True
            self.workers.cancel_group(self, "predict")

    @on(PredictionReady)
    def _on_prediction(self, message: PredictionReady) -> None:
        prediction = message.prediction
        if (
            prediction.options != self.decode_options
            or message.document.show_labels != self.view_options.show_labels
            or message.document.hidden_types != self.view_options.hidden_types
        ):
            # Options changed while this was computed: decode the new scores again.
            self.scored = prediction.scored
            self.redecode()
            return
        first = self.prediction is None
        self.scored = prediction.scored
        self.prediction = prediction
        self.show_prediction(prediction, message.document.document)
        if message.rescored:
            conn_model = prediction.scored.model
            self.history.add(
                prediction.text,
                model=conn_model,
                entities=len(prediction.entities),
                tokens=len(prediction.tokens),
            )
            for warning in prediction.warnings:
                self.notify(warning, severity="warning", markup=False)
        if first:  # export and copy become available (the footer rebuilds: not every time)
            self.refresh_bindings()

    def show_prediction(self, prediction: Prediction, document: EntityDocument) -> None:
        """Set every result widget from one prediction (attributes down)."""
        self._entity_index = None
        self.main.query_one(EntityText).set_document(document)
        self._mark_out_of_date()
        self.main.query_one(TokenTable).set_prediction(prediction, self.palette)
        self.main.query_one(EntitySidebar).set_prediction(prediction, self.palette)
        scored = prediction.scored
        self.main.query_one("#tokens").border_title = f"Tokens · {len(prediction.tokens):,}"
        self.main.query_one("#sidebar").border_title = f"Entities · {len(prediction.entities):,}"
        self._show_status(
            state="ready",
            source=scored.source,
            model=scored.model,
            elapsed_ms=scored.elapsed_ms,
            tokens=len(scored),
            entities=len(prediction.entities),
            chunks=len(scored.chunks),
            max_model_len=scored.max_model_len,
            note="",
        )

    @on(PredictionFailed)
    def _on_prediction_failed(self, message: PredictionFailed) -> None:
        error = message.error
        if isinstance(error, ServerUnreachable) and self.connection is not None:
            self._show_status(state="error", note="server gone: ctrl+l for the local engine")
            self._report(error, title="Server gone", extra="Press ctrl+l to use the local engine.")
            return
        self._show_status(state="error" if self.connection is None else "ready")
        self._report(error, title="Prediction failed")

    def _report(self, error: BaseException, *, title: str, extra: str = "") -> None:
        """A notification saying what to do, or a copyable dialog for diagnostic errors."""
        if isinstance(error, DIAGNOSTIC_ERRORS) or not isinstance(error, NerTuiError):
            self.push_screen(ErrorScreen(title, error))
            return
        parts = [error.message or type(error).__name__]
        if error.hint:
            parts.append(error.hint)
        if extra:
            parts.append(extra)
        self.notify("\n".join(parts), title=title, severity="error", markup=False, timeout=8)

    # ------------------------------------------------------------------ selection

    @on(TokenTable.TokenHighlighted)
    def _on_token(self, message: TokenTable.TokenHighlighted) -> None:
        if self.prediction is None:
            return
        token = self.prediction.tokens[message.index]
        self.main.query_one(EntityText).highlight_original(token.start, token.end)

    def action_step_entity(self, step: int) -> None:
        """Select the next (``step`` 1) or previous (-1) entity, wrapping at the ends."""
        prediction = self.prediction
        if prediction is None or not prediction.entities:
            self.notify("No entities to step through.", severity="warning", markup=False)
            return
        count = len(prediction.entities)
        current = self._entity_index
        index = (0 if step > 0 else count - 1) if current is None else (current + step) % count
        self._entity_index = index
        entity = prediction.entities[index]
        self.main.query_one(EntityText).highlight_original(entity.start, entity.end)
        self.main.query_one(TokenTable).mark_members(entity.token_start, entity.token_end)
        self.main.query_one(
            EntityText
        ).border_subtitle = f"entity {index + 1} of {count} · {entity.label} {entity.score:.2f}"

    def action_search(self) -> None:
        def chosen(query: str | None) -> None:
            if query is not None:
                self.find(query)

        self.push_screen(SearchScreen(self._search_query), chosen)

    def find(self, query: str) -> None:
        """Highlight the next match of ``query`` (case-insensitive) in the text shown."""
        view = self.main.query_one(EntityText)
        document = view.document
        if document is None:
            self.notify("Nothing predicted to search yet.", severity="warning", markup=False)
            return
        text, needle = document.text.casefold(), query.casefold()
        if len(text) != len(document.text):  # casefold changed lengths (ß): search exactly
            text, needle = document.text, query
        starts = []
        at = text.find(needle)
        while at >= 0 and needle:
            starts.append(at)
            at = text.find(needle, at + 1)
        if not starts:
            self.notify(f"{query!r} is not in the text.", severity="warning", markup=False)
            return
        after = self._search_at + 1 if query == self._search_query else 0
        start = next((s for s in starts if s >= after), starts[0])
        self._search_query, self._search_at = query, start
        view.highlight_original(start, start + len(needle))
        number = starts.index(start) + 1
        view.border_subtitle = f"match {number} of {len(starts)} · ctrl+f again for the next"

    @on(TokenTable.TokenChosen)
    def _on_token_chosen(self, message: TokenTable.TokenChosen) -> None:
        if self.prediction is not None and message.index < len(self.prediction.tokens):
            self.push_screen(DistributionScreen(self.prediction, message.index, self.palette))

    @on(EntitySidebar.EntitySelected)
    def _on_entity(self, message: EntitySidebar.EntitySelected) -> None:
        entity = message.entity
        self.main.query_one(EntityText).highlight_original(entity.start, entity.end)
        self.main.query_one(TokenTable).mark_members(entity.token_start, entity.token_end)

    async def on_event(self, event: events.Event) -> None:
        """A paste while the token table, text view or sidebar has focus goes to the input
        (Textual gives it to the focused widget, which would drop it)."""
        if (
            isinstance(event, events.Paste)
            and not event.is_forwarded
            and self.screen is self.main
            and not isinstance(self.focused, TextArea | Input)
        ):
            pane = self.main.query_one(InputPane)
            pane.focus()
            pane._forward_event(event)
            return
        await super().on_event(event)

    @on(TextArea.Changed, "#input")
    def _on_input_changed(self) -> None:
        self._mark_out_of_date()
        if not self.view_options.live:
            return
        if self._live_timer is not None:
            self._live_timer.stop()
        self._live_timer = self.set_timer(self.live_delay, self._live_predict)

    def _mark_out_of_date(self) -> None:
        """Say so on the results when the input no longer holds the text they are for."""
        if self.predicting:
            return  # the subtitle says "predicting…"
        view = self.main.query_one(EntityText)
        stale = self.prediction is not None and (
            self.main.query_one(InputPane).text != self.prediction.text
        )
        note = f"out of date: the text changed · {self._predict_key} predicts it"
        view.border_subtitle = note if stale else ""
        view.set_class(stale, "-stale")

    def _live_predict(self) -> None:
        text = self.main.query_one(InputPane).text
        if text.strip() and self.connection is not None:
            self.run_prediction(text, live=True)

    # ------------------------------------------------------------------ options

    def action_cycle_aggregation(self) -> None:
        self.set_aggregation(self._next_aggregation.aggregation)

    @property
    def _next_aggregation(self) -> DecodeOptions:
        """The decode options after f2: the next aggregation, the rest the same."""
        options = self.decode_options
        current = AGGREGATIONS.index(options.aggregation)
        return replace(options, aggregation=AGGREGATIONS[(current + 1) % len(AGGREGATIONS)])

    def set_aggregation(self, aggregation: Aggregation) -> None:
        self._set_decode(aggregation=aggregation)

    def action_toggle_mode(self) -> None:
        self.set_mode("lenient" if self.decode_options.mode == "strict" else "strict")

    def set_mode(self, mode: DecodeMode) -> None:
        self._set_decode(mode=mode)

    def action_threshold(self, step: int) -> None:
        """Step the threshold by :data:`THRESHOLD_STEP`; it stops at 0.00 and 0.99."""
        value = self.decode_options.threshold + step * THRESHOLD_STEP
        # Snap to the step's grid, so 0.30 + 0.05 is 0.35 and not 0.35000000000000003.
        value = round(round(value / THRESHOLD_STEP) * THRESHOLD_STEP, 2)
        self.set_threshold(value)

    def set_threshold(self, threshold: float) -> None:
        clamped = round(max(0.0, min(THRESHOLD_MAX, threshold)), 2)
        if clamped != self.decode_options.threshold:
            self._set_decode(threshold=clamped)

    def action_toggle_labels(self) -> None:
        options = replace(self.view_options, show_labels=not self.view_options.show_labels)
        self._set_options(options)

    def action_hide_types(self) -> None:
        """Choose which entity types the view shows."""

        def chosen(hidden: frozenset[str] | None) -> None:
            if hidden is not None:
                self.set_hidden_types(hidden)

        types = self.palette.types
        self.push_screen(TypesScreen(types, self.view_options.hidden_types, self.palette), chosen)

    def toggle_type(self, entity_type: str) -> None:
        """Hide ``entity_type`` if it is shown, show it if it is hidden."""
        self.set_hidden_types(self.view_options.hidden_types ^ {entity_type})

    def set_hidden_types(self, hidden: frozenset[str]) -> None:
        self._set_options(replace(self.view_options, hidden_types=frozenset(hidden)))

    def action_toggle_live(self) -> None:
        self._set_options(
            replace(self.view_options, live=not self.view_options.live), redecode=False
        )
        state = "on: predicting as you type" if self.view_options.live else "off"
        self.notify(f"Live mode {state}.", markup=False, timeout=2)

    # ------------------------------------------------------------------ inputs

    def set_input(self, text: str, *, predict: bool = True) -> None:
        """Replace the input (keeping what was typed in the history) and predict it."""
        pane = self.main.query_one(InputPane)
        current = pane.text
        if current.strip() and current != text and not any(e.text == current for e in self.history):
            self.history.add(current, model="(not predicted)")
        pane.load_text(text)
        if predict and text.strip():
            self.action_predict()

    def action_next_sample(self) -> None:
        names = list(SAMPLES)
        self._sample_index = (self._sample_index + 1) % len(names)
        self.load_sample(names[self._sample_index])

    def load_sample(self, name: str) -> None:
        self._sample_index = list(SAMPLES).index(name)
        self.set_input(SAMPLES[name])

    def action_history(self) -> None:
        def chosen(text: str | None) -> None:
            if text is not None:
                self.set_input(text)

        self.push_screen(HistoryScreen(self.history), chosen)

    def action_open_file(self) -> None:
        def chosen(path: Path | None) -> None:
            if path is not None:
                self.load_file(path)

        self.push_screen(OpenFileScreen(), chosen)

    @work(group="file", exit_on_error=False)
    async def load_file(self, path: Path) -> None:
        try:
            text = await asyncio.to_thread(read_text_file, path)
        except NerTuiError as error:
            self._report(error, title="Could not load the file")
            return
        self.set_input(text)
        self.notify(f"Loaded {path.name} ({len(text):,} characters).", markup=False, timeout=3)

    # ------------------------------------------------------------------ output

    def action_export(self, fmt: str = "json") -> None:
        if self.prediction is None:
            self.notify("Nothing to export yet: predict first.", severity="warning", markup=False)
            return

        def chosen(request: ExportRequest | None) -> None:
            if request is not None:
                self.export_to(request)

        self.push_screen(ExportScreen(fmt), chosen)

    @work(group="export", exit_on_error=False)
    async def export_to(self, request: ExportRequest) -> None:
        from ner_tui.core.export import write_export

        prediction = self.prediction
        if prediction is None:
            return
        try:
            path = await asyncio.to_thread(write_export, request.path, [prediction], request.fmt)  # type: ignore[arg-type]
        except OSError as error:
            self.notify(
                f"Could not write {request.path}: {error.strerror or error}",
                title="Export failed",
                severity="error",
                markup=False,
            )
            return
        self.notify(
            f"Exported {len(prediction.entities)} entities and {len(prediction.tokens)} "
            f"tokens to {path} ({request.fmt}).",
            title="Exported",
            markup=False,
        )

    def action_copy_entities(self) -> None:
        if self.prediction is None:
            self.notify("No entities to copy yet.", severity="warning", markup=False)
            return
        self.copy_entities(self.prediction)

    @work(group="copy", exit_on_error=False)
    async def copy_entities(self, prediction: Prediction) -> None:
        """Copy the entity list; a clipboard tool runs off the event loop."""
        from ner_tui.core.export import entity_lines

        how = await copy_text(self, entity_lines(prediction))
        self.notify(f"{len(prediction.entities)} entities {how}", markup=False, timeout=5)

    def action_copy_json(self) -> None:
        if self.prediction is None:
            self.notify("No result to copy yet.", severity="warning", markup=False)
            return
        self.copy_json(self.prediction)

    @work(group="copy", exit_on_error=False)
    async def copy_json(self, prediction: Prediction) -> None:
        """Copy the whole result as the JSON export writes it (text, options, entities, tokens)."""
        from ner_tui.core.export import to_json

        text = await asyncio.to_thread(to_json, prediction)
        how = await copy_text(self, text)
        self.notify(f"The result as JSON ({len(text):,} characters) {how}", markup=False, timeout=5)

    def action_help(self) -> None:
        keys = []
        for binding in self.BINDINGS:
            assert isinstance(binding, Binding)
            shown = keys_of(binding, self._keymap)
            display = " ".join(self.get_key_display(Binding(k, binding.action)) for k in shown)
            keys.append((display, binding.description, binding.tooltip))
        keys.append(("ctrl+a", "Select all", "In the input: select the whole text."))
        keys.append(("←/→", "Scroll tokens", "In the token table: scroll wide rows sideways."))
        keys.append(("ctrl+p", "Command palette", "Every command, themes included."))
        keys.append(("tab", "Next pane", "Move between input, text, tokens and entities."))
        keys.append(("ctrl+q", "Quit", "Leave ner-tui."))
        self.push_screen(HelpScreen(keys))

    # ------------------------------------------------------------------ corpus

    @property
    def corpus_running(self) -> bool:
        return any(w.group == "corpus" and not w.is_finished for w in self.workers)

    def action_open_corpus(self) -> None:
        def chosen(path: Path | None) -> None:
            if path is not None:
                self.open_corpus(path)

        self.push_screen(OpenFileScreen(title="Open a corpus (CoNLL, JSONL or text)"), chosen)

    def action_show_corpus(self) -> None:
        if self.corpus_screen is None:
            self.action_open_corpus()
        elif self.screen is not self.corpus_screen:
            self.push_screen(self.corpus_screen)

    def open_corpus(self, path: Path) -> None:
        """Show the corpus screen and run ``path`` through the current backend."""
        self.corpus_path = path
        if self.connection is None:
            self.notify(
                "Not connected yet: the corpus opens once the model is ready.", markup=False
            )
            return
        self.corpus_docs, self.corpus_scored, self.corpus_scores = [], [], None
        self._corpus_decoder = None
        gc.unfreeze()  # what the last corpus froze goes back to the collector
        self.push_screen(self.new_corpus_screen(path.name))
        self.run_corpus(path)

    def new_corpus_screen(self, name: str) -> CorpusScreen:
        """A corpus screen for a new corpus, in place of the previous one.

        The screen is installed: leaving it (escape) keeps it mounted and up to date, so coming
        back shows it at once. (A screen Textual removed on pop and then pushed again never
        repaints by itself: its update timer died with it.)"""
        old = self.corpus_screen
        if old is not None:
            shown = old in self.screen_stack
            while shown and self.screen is not self.main:
                self.pop_screen()  # removed by Textual once popped, being uninstalled below
            self.uninstall_screen(old)
            if not shown and old.is_attached:
                old.remove()
        self.corpus_screen = CorpusScreen(name)
        self.install_screen(self.corpus_screen, name=f"corpus-{id(self.corpus_screen)}")
        return self.corpus_screen

    @work(exclusive=True, group="corpus", exit_on_error=False)
    async def run_corpus(self, path: Path) -> None:
        """Read the corpus in a thread, then score every document through the backend,
        ``max_concurrency`` in flight, keeping each ScoredText; scores come last."""
        from ner_tui.core.aio import map_ordered
        from ner_tui.core.corpus import open_corpus, read_corpus

        connection = self.connection
        if connection is None:
            return
        settings = self.settings

        def read() -> list[CorpusDocument]:
            with open_corpus(str(path)) as stream:
                return list(
                    read_corpus(stream, "auto", mode=settings.mode, label_map=settings.label_map)
                )

        try:
            docs = await asyncio.to_thread(read)
        except (NerTuiError, OSError) as error:
            message = error.message if isinstance(error, NerTuiError) else str(error)
            self.notify(message, title="Could not read the corpus", severity="error", markup=False)
            return
        self.post_message(CorpusLoaded(path.name, docs))
        self.corpus_docs = docs
        self.corpus_scored = [None] * len(docs)
        failures: list[str] = []

        async def one(doc: CorpusDocument) -> ScoredText | NerTuiError | None:
            if doc.error is not None:
                return None
            try:
                return await connection.score(doc.text)
            except NerTuiError as error:
                return error

        self.post_message(CorpusProgress(0, len(docs)))
        done = 0
        async for result in map_ordered(one, docs, limit=settings.max_concurrency):
            doc = docs[done]
            if isinstance(result, NerTuiError):
                failures.append(f"line {doc.line}: {result.message}")
            else:
                self.corpus_scored[done] = result
            done += 1
            self.post_message(CorpusProgress(done, len(docs)))
        if failures:
            self.notify(
                _first_lines(failures),
                title=f"{len(failures)} documents could not be predicted",
                severity="warning",
                markup=False,
                timeout=10,
            )
        self.rescore_corpus()

    def cancel_corpus(self) -> None:
        if self.corpus_running:
            self._corpus_cancelled = True
            self.workers.cancel_group(self, "corpus")

    @work(exclusive=True, group="corpus-score", exit_on_error=False)
    async def rescore_corpus(self) -> None:
        """Decode the kept scores (all texts in one pass, each aggregation and mode once) and
        score again the documents whose entities changed, in a thread: no request."""
        docs, scored, options = self.corpus_docs, list(self.corpus_scored), self.decode_options
        previous = self.corpus_scores
        if self._prefetch_timer is not None:
            self._prefetch_timer.stop()
        decoder = self._corpus_decoder
        if decoder is not None and not decoder.matches(scored):
            decoder = None  # other kept scores: packed anew in the thread
        if decoder is not None:
            seen = decoder.recall(options, len(docs))
            if seen is not None:
                self.post_message(CorpusScored(seen))  # a setting seen before: no thread
                return

        def work() -> CorpusScores:
            packed = decoder
            if packed is None:
                packed = self._corpus_decoder = CorpusDecoder(scored)
            return packed.score(docs, options, previous=previous)

        # Marked "re-scoring…" only when it takes long enough to be seen: a mark drawn and
        # replaced a few frames later is one more screen paint before the scores.
        mark = self.set_timer(0.15, self._show_rescoring)
        ahead = self._prefetching
        try:
            if ahead is not None and ahead[0] == options and not ahead[1].done():
                scores = await asyncio.shield(ahead[1])  # already being scored: wait for it
            else:
                scores = await asyncio.to_thread(work)
        finally:
            mark.stop()
        self.post_message(CorpusScored(scores))

    def _freeze_corpus(self) -> None:
        """Leave the corpus's results out of the cyclic GC's full passes, and tidy up later.

        A corpus's results are hundreds of thousands of long-lived objects, none in a cycle:
        left in the collector's care, every full collection walked them all, 70-160 ms at
        10,000 sentences, stalling the interface at random (bench/corpus_view.py). Frozen, they
        are still freed by reference counting when replaced. But whatever else was alive at the
        freeze and dies in a cycle later (Textual's events and messages of the moment: about
        900 objects a key press) is never collected while frozen, so once no new scores have
        come for :data:`GC_TIDY_AFTER` seconds, one full collection runs and everything is
        frozen again."""
        gc.freeze()
        if self._gc_tidy_timer is not None:
            self._gc_tidy_timer.stop()
        self._gc_tidy_timer = self.set_timer(GC_TIDY_AFTER, self._tidy_gc)

    def _tidy_gc(self) -> None:
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self.gc_tidied += 1

    def _prefetch_next(self) -> None:
        """Score the corpus ahead under the aggregation f2 goes to next, in a thread, once the
        scores have been on screen a moment (a key in the meantime stops it): f2 then shows
        them at once. Only f2 is guessed: it is the change that re-scores every document
        (threshold steps re-score only the few that change), and the guess costs one re-score
        of CPU, which a key pressed meanwhile shares."""
        decoder, docs, current = self._corpus_decoder, self.corpus_docs, self.corpus_scores
        if decoder is None or current is None or self.corpus_running:
            return
        if not decoder.matches(self.corpus_scored):
            return
        options = self._next_aggregation
        if decoder.recall(options, len(docs)) is not None:
            return
        future = asyncio.ensure_future(
            asyncio.to_thread(decoder.score, docs, options, previous=current)
        )
        future.add_done_callback(_log_prefetch_failure)
        self._prefetching = (options, future)

    def _show_rescoring(self) -> None:
        if self.corpus_screen is not None:
            self.corpus_screen.show_rescoring()

    @on(CorpusLoaded)
    def _on_corpus_loaded(self, message: CorpusLoaded) -> None:
        broken = [d for d in message.documents if d.error is not None]
        if not message.documents:
            self.notify(f"{message.name} has no documents.", severity="warning", markup=False)
        if broken:
            self.notify(
                _first_lines([f"line {d.line}: {d.error.message}" for d in broken if d.error]),
                title=f"{len(broken)} documents of {message.name} skipped",
                severity="warning",
                markup=False,
                timeout=10,
            )

    @on(CorpusProgress)
    def _on_corpus_progress(self, message: CorpusProgress) -> None:
        self.corpus_done = message.done
        if self.corpus_screen is not None:
            self.corpus_screen.show_progress(message.done, message.total)

    @on(CorpusScored)
    def _on_corpus_scored(self, message: CorpusScored) -> None:
        if message.scores.options != self.decode_options:
            self.rescore_corpus()  # the options changed meanwhile
            return
        self.corpus_scores = message.scores
        if self.corpus_screen is not None:
            self.corpus_screen.show_progress(1, 1)
            self.corpus_screen.show_scores(message.scores)
        if self._prefetch_timer is not None:
            self._prefetch_timer.stop()
        self._prefetch_timer = self.set_timer(PREFETCH_AFTER, self._prefetch_next)
        self._freeze_corpus()
        if self._compare_at_start:  # `ner-tui --corpus FILE --compare-*`
            self._compare_at_start = False
            show_corpus_compare(self)

    def show_corpus_document(self, index: int) -> None:
        """Put a corpus document in the main view, from its kept scores (no request)."""
        scored = self.corpus_scored[index] if index < len(self.corpus_scored) else None
        if scored is None:
            self.notify("This document has no prediction.", severity="warning", markup=False)
            return
        while self.screen is not self.main:
            self.pop_screen()
        self.workers.cancel_group(self, "predict")
        self.main.query_one(InputPane).load_text(scored.text)
        self.scored = scored
        self.redecode()

    # ------------------------------------------------------------------ compare

    def action_compare(self) -> None:
        """Compare mode on the input's text: model B from ``--compare-*``, else model A with
        the other BIO decoder (``a``/``s`` there change B's settings)."""
        if self.corpus_screen is not None and self.screen is self.corpus_screen:
            show_corpus_compare(self)  # on the corpus view: the whole corpus compared
            return
        text = self.main.query_one(InputPane).text
        if self.connection is None or not text.strip():
            why = "not connected yet" if self.connection is None else "type some text first"
            self.notify(f"Nothing to compare: {why}.", severity="warning", markup=False)
            return
        other: DecodeMode = "lenient" if self.decode_options.mode == "strict" else "strict"
        target = self.compare_target or CompareTarget(mode=other)
        self.push_screen(CompareScreen(target, text))

    # ------------------------------------------------------------------ palette

    def palette_commands(self) -> list[PaletteCommand]:
        """The commands that apply now (the palette provider asks each time it opens)."""
        return app_commands(self)

    def clear_history(self) -> None:
        self.history.clear()
        self.notify("History cleared.", markup=False)


def _restored_options(settings: Settings, session: Session) -> ViewOptions:
    """The decoding options to start with: the config's, env's or flags' where they differ
    from the defaults, else the last session's, else the defaults."""
    defaults = Settings()
    aggregation = settings.aggregation
    if aggregation == defaults.aggregation and session.aggregation in AGGREGATIONS:
        aggregation = session.aggregation  # type: ignore[assignment]
    mode = settings.mode
    if mode == defaults.mode and session.mode in ("lenient", "strict"):
        mode = session.mode  # type: ignore[assignment]
    threshold = settings.threshold
    if threshold == defaults.threshold and session.threshold is not None:
        threshold = session.threshold
    return ViewOptions(
        decode=DecodeOptions(aggregation=aggregation, mode=mode, threshold=threshold),
        show_labels=True if session.show_labels is None else session.show_labels,
        hidden_types=frozenset(session.hidden_types),
    )


def _first_lines(lines: list[str], shown: int = 8) -> str:
    """The first ``shown`` lines, and how many more there are, for a notification."""
    more = [f"… and {len(lines) - shown} more"] if len(lines) > shown else []
    return "\n".join(lines[:shown] + more)


def run_app(
    settings: Settings | None = None,
    *,
    corpus: Path | None = None,
    compare: CompareTarget | None = None,
) -> int:
    """Run the app until the user quits (``corpus``: opened once connected; ``compare``: model
    B, compare mode once connected); the exit code."""
    result = NerTuiApp(settings, corpus=corpus, compare=compare).run()
    return int(result or 0)
