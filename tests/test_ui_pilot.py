"""Pilot tests: drive the app by keys against the local engine and real loopback servers.

The model is the tiny real BERT fixture (random-ish labels), so the tests assert that every
widget agrees with the prediction the app received, not on particular entities.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from servers import free_port, serve_process
from textual import events
from textual.message import Message
from textual.pilot import Pilot

from ner_tui.core.connect import Connection
from ner_tui.core.errors import RequestTimeout, ServerUnreachable
from ner_tui.core.settings import Settings
from ner_tui.models import bundled_model_path
from ner_tui.ui.app import NerTuiApp
from ner_tui.ui.messages import Connected, PredictionFailed, PredictionReady
from ner_tui.ui.screens.error import ErrorScreen
from ner_tui.ui.screens.export import ExportScreen
from ner_tui.ui.screens.help import HelpScreen
from ner_tui.ui.screens.history import HistoryScreen
from ner_tui.ui.screens.types import TypesScreen
from ner_tui.ui.widgets.entity_sidebar import EntitySidebar
from ner_tui.ui.widgets.entity_text import EntityText
from ner_tui.ui.widgets.input_pane import InputPane
from ner_tui.ui.widgets.token_table import TokenTable

TINY = Path(__file__).parent / "fixtures" / "tiny-bert-ner"
SIZE = (120, 36)
TEXT = "Barack Obama met Angela Merkel in Berlin on Tuesday."
OTHER = "Apple and Microsoft shares rose in New York."


def local_settings(**changes: object) -> Settings:
    return Settings(local=True, model=str(TINY), **changes)  # type: ignore[arg-type]


async def settle(pilot: Pilot[int], until: Callable[[], bool], rounds: int = 400) -> None:
    """Let workers finish and messages be handled until ``until()`` holds."""
    app = pilot.app
    for _ in range(rounds):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if until():
            return
    raise AssertionError("the app never reached the expected state")


def notes(app: NerTuiApp, severity: str | None = None) -> list[str]:
    """Every notification the app raised so far (toasts expire; this log does not)."""
    log: list[tuple[str, str]] | None = getattr(app, "notified", None)
    if log is None:
        log = []
        original = app.notify

        def notify(message: str, **kwargs: object) -> None:
            log.append((message, str(kwargs.get("severity", "information"))))
            original(message, **kwargs)  # type: ignore[arg-type]

        app.notified = log  # type: ignore[attr-defined]
        app.notify = notify  # type: ignore[method-assign]
    return [m for m, s in log if severity in (None, s)]


def make(settings: Settings, **kwargs: object) -> NerTuiApp:
    app = NerTuiApp(settings, **kwargs)  # type: ignore[arg-type]
    notes(app)  # start recording notifications
    return app


def of(messages: list[Message], kind: type) -> list:
    """Messages of one kind, once each (the hook sees a message at every node it bubbles to)."""
    seen: dict[int, Message] = {}
    for m in messages:
        if isinstance(m, kind):
            seen.setdefault(id(m), m)
    return list(seen.values())


def assert_widgets_match(app: NerTuiApp) -> None:
    """Every result widget shows the app's current prediction."""
    prediction = app.prediction
    assert prediction is not None
    table = app.query_one(TokenTable)
    assert table.prediction is prediction
    assert table.row_count == len(prediction.tokens) == len(prediction.scored)
    view = app.query_one(EntityText)
    assert view.document is not None
    plain = view.document.content.plain
    offsets = view.document.offsets
    for entity, (start, end) in zip(prediction.entities, view.document.entity_spans, strict=True):
        assert prediction.text[entity.start : entity.end] == entity.text
        if end > start:  # drawn from the span itself: the display text is the entity text
            assert offsets.start(entity.start) <= start and end <= offsets.end(entity.end) + 1
            assert plain[start:end].strip() != ""
    sidebar = app.query_one(EntitySidebar)
    firsts = [int(o.id[7:]) for o in sidebar.options if o.id and o.id.startswith("entity-")]
    listed = [i for first in firsts for i in sidebar.occurrences(first)]
    hidden = sum(sidebar.hidden_counts.values())
    assert len(set(listed)) == len(listed)
    assert len(listed) + hidden == len(prediction.entities)
    for first in firsts:  # one line per type and surface form
        forms = {
            (prediction.entities[i].label, prediction.entities[i].text)
            for i in sidebar.occurrences(first)
        }
        assert len(forms) == 1
    status = app.query_one("#status").info  # type: ignore[attr-defined]
    assert status.tokens == len(prediction.scored)
    assert status.entities == len(prediction.entities)


# --------------------------------------------------------------------------- local engine


async def test_first_launch_predicts_the_sample_on_the_local_engine() -> None:
    messages: list[Message] = []
    app = make(local_settings())
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        connected = of(messages, Connected)
        assert len(connected) == 1 and connected[0].connection.kind == "local"
        assert of(messages, PredictionReady)[0].rescored
        assert app.prediction is not None
        assert app.prediction.text == app.query_one(InputPane).text
        assert_widgets_match(app)
        assert "local engine" in app.query_one("#status").info.source  # type: ignore[attr-defined]
        assert not notes(app, "error")


async def test_submit_with_ctrl_s_and_blank_input_warns() -> None:
    messages: list[Message] = []
    app = make(local_settings(), initial_text="")
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await settle(pilot, lambda: app.connection is not None)
        await pilot.press("ctrl+s")
        assert any("Type or paste" in n for n in notes(app, "warning"))
        assert app.prediction is None
        app.query_one(InputPane).insert(TEXT)
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: app.prediction is not None)
        assert app.prediction is not None and app.prediction.text == TEXT
        assert_widgets_match(app)
        assert len(app.history) == 1 and app.history[0].text == TEXT


async def test_markup_and_control_characters_are_shown_literally() -> None:
    text = "[bold]Obama[/bold] met [link=x]Lee[/] \x1b[31mTim\x1b[0m\tin [SEP] Seoul"
    app = make(local_settings(), initial_text=text)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        view = app.query_one(EntityText)
        shown = "".join(view.lines_plain)
        for piece in ("[bold]", "[/bold]", "[link=x]", "[SEP]", "␛[31m", "→"):
            assert piece in shown
        assert "\x1b" not in shown and "\t" not in shown
        assert_widgets_match(app)


async def test_switching_strategy_redecodes_the_same_scores() -> None:
    messages: list[Message] = []
    app = make(local_settings(), initial_text=TEXT)
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        scored = app.scored
        await pilot.press("f2")  # first (the default) -> average
        await settle(pilot, lambda: app.prediction.options.aggregation == "average")  # type: ignore[union-attr]
        await pilot.press("f3")  # lenient -> strict
        await settle(pilot, lambda: app.prediction.options.mode == "strict")  # type: ignore[union-attr]
        await pilot.press("f4", "f4", "f4", "f4", "f4", "f4")  # threshold 0.0 -> 0.3 by 0.05
        await settle(pilot, lambda: app.prediction.options.threshold == 0.3)  # type: ignore[union-attr]
        ready = of(messages, PredictionReady)
        assert [m.rescored for m in ready][:1] == [True] and len(ready) >= 4
        assert not any(m.rescored for m in ready[1:])  # re-decoded, never re-requested
        assert app.prediction is not None and app.prediction.scored is scored  # no new request
        assert all(e.score >= 0.3 for e in app.prediction.entities)
        assert_widgets_match(app)
        assert "average" in str(app.query_one("#options").render())


async def test_selecting_an_entity_highlights_text_and_table() -> None:
    app = make(local_settings(), initial_text=" ".join([TEXT, OTHER] * 3))
    messages: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        assert app.prediction is not None and app.prediction.entities, "fixture finds entities"
        sidebar = app.query_one(EntitySidebar)
        sidebar.focus()
        await settle(pilot, lambda: sidebar.has_focus)
        await pilot.press("down")
        await settle(pilot, lambda: bool(of(messages, EntitySidebar.EntitySelected)))
        selected = of(messages, EntitySidebar.EntitySelected)[-1]
        entity = app.prediction.entities[selected.index]
        view = app.query_one(EntityText)
        assert view.document is not None
        offsets = view.document.offsets
        assert view._highlight == (offsets.start(entity.start), offsets.end(entity.end))
        table = app.query_one(TokenTable)
        assert table._members == (entity.token_start, entity.token_end)


async def test_selecting_a_token_row_highlights_it_in_the_text() -> None:
    app = make(local_settings(), initial_text=TEXT)
    messages: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        table = app.query_one(TokenTable)
        table.focus()
        await settle(pilot, lambda: table.has_focus)
        await pilot.press("down", "down", "down")
        await settle(pilot, lambda: table.cursor == 2)
        assert [m.index for m in of(messages, TokenTable.TokenHighlighted)] == [0, 1, 2]
        token = app.prediction.tokens[2]  # type: ignore[union-attr]
        view = app.query_one(EntityText)
        offsets = view.document.offsets  # type: ignore[union-attr]
        assert view._highlight == (offsets.start(token.start), offsets.end(token.end))
        await pilot.press("end")
        assert table.cursor == table.row_count - 1


async def test_export_json_through_the_dialog(tmp_path: Path) -> None:
    app = make(local_settings(), initial_text=TEXT)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        await pilot.press("f8")
        assert isinstance(app.screen, ExportScreen)
        target = tmp_path / "out.json"
        app.screen.query_one("#export-path").value = str(target)  # type: ignore[attr-defined]
        app.screen.query_one("#export-path").focus()
        await pilot.press("enter")
        await settle(pilot, target.exists)
        doc = json.loads(target.read_text(encoding="utf-8"))
        assert doc["text"] == TEXT
        assert len(doc["entities"]) == len(app.prediction.entities)  # type: ignore[union-attr]
        assert any("Exported" in n for n in notes(app))


async def test_export_is_disabled_until_there_is_a_prediction() -> None:
    app = make(local_settings(), initial_text="")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.connection is not None)
        assert app.check_action("export", ()) is None
        await pilot.press("f8")
        assert not isinstance(app.screen, ExportScreen)


async def test_history_reruns_an_earlier_text() -> None:
    app = make(local_settings(), initial_text=TEXT)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        pane = app.query_one(InputPane)
        pane.load_text(OTHER)
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: app.prediction.text == OTHER)  # type: ignore[union-attr]
        assert [e.text for e in app.history] == [OTHER, TEXT]
        await pilot.press("ctrl+r")
        assert isinstance(app.screen, HistoryScreen)
        await pilot.press("down", "enter")
        await settle(pilot, lambda: app.prediction.text == TEXT)  # type: ignore[union-attr]
        assert pane.text == TEXT
        assert [e.text for e in app.history] == [TEXT, OTHER]
        await pilot.press("ctrl+r", "ctrl+l", "escape")
        assert len(app.history) == 0


async def test_copy_entities_reports_how() -> None:
    app = make(local_settings(), initial_text=" ".join([TEXT, OTHER]))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        await pilot.press("ctrl+t")
        await app.workers.wait_for_complete()
        await pilot.pause()
        prediction = app.prediction
        assert prediction is not None
        for entity in prediction.entities:
            assert entity.label in app.clipboard
        assert any("entities" in n and ("OSC 52" in n) for n in notes(app))


async def test_help_screen_lists_every_binding() -> None:
    app = make(local_settings(), initial_text="")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        described = {desc for _, desc, _ in app.screen.keys}
        assert {"Predict", "Cancel", "Aggregation", "Export", "History"} <= described
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_live_mode_predicts_after_typing() -> None:
    app = make(local_settings(), initial_text="")
    app.live_delay = 0.01
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.connection is not None)
        await pilot.press("f9")
        assert app.view_options.live
        app.query_one(InputPane).focus()
        await pilot.press(*"Obama")
        await settle(pilot, lambda: app.prediction is not None and app.prediction.text == "Obama")


async def test_load_text_file_and_reject_binary(tmp_path: Path) -> None:
    good = tmp_path / "article.txt"
    good.write_text(OTHER, encoding="utf-8")
    bad = tmp_path / "blob.bin"
    bad.write_bytes(b"\xff\xfe\x00\x81 not utf-8")
    app = make(local_settings(), initial_text=TEXT)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        await pilot.press("ctrl+o")
        app.screen.query_one("#open-path").value = str(good)  # type: ignore[attr-defined]
        app.screen.query_one("#open-path").focus()
        await pilot.press("enter")
        await settle(pilot, lambda: app.prediction.text == OTHER)  # type: ignore[union-attr]
        assert any(e.text == TEXT for e in app.history)  # what was there before is kept
        app.load_file(bad)
        await settle(pilot, lambda: bool(notes(app, "error")))
        assert "not UTF-8" in notes(app, "error")[-1]
        assert app.query_one(InputPane).text == OTHER


# --------------------------------------------------------------------------- servers


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """``python -m ner_tui.server`` over the tiny fixture, on a loopback port."""
    with serve_process("--model", str(TINY), "--threads", "1") as server:
        yield server.url


async def test_server_is_discovered_and_agrees_with_the_local_engine(server_url: str) -> None:
    messages: list[Message] = []
    app = make(Settings(url=server_url), initial_text=TEXT)
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        assert app.connection is not None and app.connection.kind == "server"
        assert server_url in app.query_one("#status").info.source  # type: ignore[attr-defined]
        served = app.prediction
        assert served is not None
        assert_widgets_match(app)
        # ctrl+l switches to the local engine without restarting; same model, same entities.
        await pilot.press("ctrl+l")
        await settle(
            pilot,
            lambda: (
                app.connection is not None
                and app.connection.kind == "local"
                and app.prediction is not served
            ),
        )
        local = app.prediction
        assert local is not None
        assert [(e.label, e.start, e.end) for e in local.entities] == [
            (e.label, e.start, e.end) for e in served.entities
        ]


async def test_no_server_says_so_and_uses_the_local_engine() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    app = make(Settings(url=url, model=str(TINY)), initial_text=TEXT)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        assert app.connection is not None and app.connection.kind == "local"
        said = [n for n in notes(app) if "No server at" in n]
        assert len(said) == 1 and url in said[0] and "\n" not in said[0]


async def test_wrong_model_name_is_reported_and_nothing_is_lost(server_url: str) -> None:
    messages: list[Message] = []
    app = make(Settings(url=server_url, model="no-such-model"), initial_text=TEXT)
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await settle(pilot, lambda: bool(notes(app, "error")))
        assert app.connection is None
        assert "no-such-model" in notes(app, "error")[0]
        await pilot.press("ctrl+s")  # no backend: a warning, not a crash
        assert any("Not connected" in n for n in notes(app, "warning"))
        assert app.query_one(InputPane).text == TEXT
        status = app.query_one("#status").info  # type: ignore[attr-defined]
        assert status.state == "error"


class _SilentServer:
    """Accepts connections on loopback and never answers (a hung server)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.conns:
            conn.close()


async def _with_client(app: NerTuiApp, url: str, timeout: float) -> None:
    """Point the connected app at ``url`` with the model it already has loaded."""
    from ner_tui.core.client import PoolingClient

    assert app.connection is not None
    app.connection = Connection(
        kind="server",
        backend=PoolingClient(url, timeout=timeout),
        card=app.connection.card,
        info=app.connection.info,
    )


async def test_escape_cancels_a_hung_request_and_keeps_the_text() -> None:
    silent = _SilentServer()
    messages: list[Message] = []
    app = make(local_settings(), initial_text=TEXT)
    try:
        async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
            await settle(pilot, lambda: app.prediction is not None)
            before = app.prediction
            await _with_client(app, silent.url, timeout=60)
            app.query_one(InputPane).load_text(OTHER)
            await pilot.press("ctrl+s")
            for _ in range(200):
                await pilot.pause()
                if app.predicting and app.query_one(EntityText).loading:
                    break
            assert app.predicting and app.check_action("cancel", ())
            await pilot.press("escape")
            await settle(pilot, lambda: not app.predicting)
            assert any("cancelled" in n for n in notes(app))
            assert app.prediction is before
            assert app.query_one(InputPane).text == OTHER
            assert not app.query_one(EntityText).loading
    finally:
        silent.close()


async def test_timeout_is_a_notification_with_a_hint() -> None:
    silent = _SilentServer()
    messages: list[Message] = []
    app = make(local_settings(), initial_text=TEXT)
    try:
        async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
            await settle(pilot, lambda: app.prediction is not None)
            await _with_client(app, silent.url, timeout=0.3)
            await pilot.press("ctrl+s")
            await settle(pilot, lambda: bool(of(messages, PredictionFailed)))
            error = of(messages, PredictionFailed)[0].error
            assert isinstance(error, RequestTimeout), repr(error)
            assert any(error.hint in n for n in notes(app, "error")), notes(app)
            assert app.query_one(InputPane).text == TEXT
    finally:
        silent.close()


async def test_server_gone_mid_session(server_url: str) -> None:
    # Its own server process, so stopping it does not disturb the module's.
    with serve_process("--model", str(TINY), "--threads", "1") as server:
        url, proc = server.url, server.process
        messages: list[Message] = []
        app = make(Settings(url=url), initial_text=TEXT)
        async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
            await settle(pilot, lambda: app.prediction is not None)
            proc.terminate()
            proc.wait(timeout=10)
            app.query_one(InputPane).load_text(OTHER)
            await pilot.press("ctrl+s")
            await settle(pilot, lambda: bool(of(messages, PredictionFailed)))
            assert isinstance(of(messages, PredictionFailed)[0].error, ServerUnreachable)
            assert any("ctrl+l" in n for n in notes(app, "error"))
            assert app.query_one(InputPane).text == OTHER
            await pilot.press("ctrl+l")  # the local engine takes over and predicts the text
            await settle(pilot, lambda: app.prediction.text == OTHER)  # type: ignore[union-attr]
            assert app.connection is not None and app.connection.kind == "local"


# --------------------------------------------------------------------------- misbehaving server


def _bad_server(rows_delta: int, malformed: bool) -> tuple[str, Callable[[], None]]:
    """A small ASGI server on loopback that serves the tiny model's card but answers /pooling
    with one row too few (``rows_delta``) or a body that is not the pooling protocol."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def models(request: Request) -> JSONResponse:
        card = {"id": "tiny", "object": "model", "root": str(TINY), "max_model_len": 128}
        return JSONResponse({"object": "list", "data": [card]})

    async def pooling(request: Request) -> JSONResponse:
        body = await request.json()
        if malformed:
            return JSONResponse({"object": "list", "data": "nope"})
        data = []
        for i, prompt in enumerate(
            body["input"] if isinstance(body["input"][0], list) else [body["input"]]
        ):
            n = len(prompt) + rows_delta
            data.append({"index": i, "object": "pooling", "data": [[0.9] + [0.0125] * 8] * n})
        return JSONResponse(
            {
                "id": "x",
                "object": "list",
                "created": 0,
                "model": "tiny",
                "data": data,
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }
        )

    app = Starlette(
        routes=[Route("/v1/models", models), Route("/pooling", pooling, methods=["POST"])]
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.02)  # polling for readiness

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)

    return f"http://127.0.0.1:{port}", stop


@pytest.mark.parametrize(
    ("rows_delta", "malformed", "kind"),
    [
        (-1, False, "RowMismatch"),
        (0, True, "MalformedResponse"),
    ],
)
async def test_diagnostic_errors_open_a_copyable_dialog(
    rows_delta: int, malformed: bool, kind: str
) -> None:
    url, stop = _bad_server(rows_delta, malformed)
    try:
        app = make(Settings(url=url), initial_text=TEXT)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, lambda: isinstance(app.screen, ErrorScreen))
            screen = app.screen
            assert isinstance(screen, ErrorScreen)
            assert type(screen.error).__name__ == kind
            assert kind in screen.details
            await pilot.press("ctrl+c")
            await screen.workers.wait_for_complete()
            await pilot.pause()
            assert app.clipboard == screen.details
            assert any(n.startswith("Error details") and "OSC 52" in n for n in notes(app))
            await pilot.press("escape")
            assert not isinstance(app.screen, ErrorScreen)
            assert app.query_one(InputPane).text == TEXT
            assert app.is_running
    finally:
        stop()


# --------------------------------------------------------------------------- marks, palette, keys


async def test_rejected_and_low_confidence_tokens_are_marked() -> None:
    from ner_tui.ui.samples import SAMPLES

    app = make(local_settings(mode="strict"), initial_text=SAMPLES["Sports"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        prediction = app.prediction
        assert prediction is not None and prediction.options.mode == "strict"
        table = app.query_one(TokenTable)
        rows = {t.index: table._row(t).plain for t in prediction.tokens}
        rejected = [t for t in prediction.tokens if t.rejected]
        low = [t for t in prediction.tokens if t.score < 0.5 and not t.special and not t.rejected]
        assert rejected and low, "the fixture model gives both kinds of mark on this text"
        for token in rejected:
            assert rows[token.index].startswith("✗")
        for token in low:
            assert rows[token.index].startswith("!")
        for token in prediction.tokens:
            if not token.rejected and (token.score >= 0.5 or token.special):
                assert rows[token.index].startswith("  ")


def first_palette_hit(app: NerTuiApp) -> str:
    """The prompt of the command palette's highlighted hit ("" while it is still searching)."""
    from textual.command import CommandList

    lists = app.screen.query(CommandList)
    if not lists or not lists.first().option_count:
        return ""
    return str(lists.first().get_option_at_index(0).prompt)


async def test_command_palette_offers_what_applies_and_runs_it() -> None:
    app = make(local_settings(), initial_text="")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.connection is not None)
        names = [c.name for c in app.palette_commands()]
        assert "Aggregation: simple" in names and "Aggregation: first" not in names
        assert not any(n.startswith("Export") for n in names)  # nothing to export yet
        app.query_one(InputPane).load_text(TEXT)
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: app.prediction is not None)
        names = [c.name for c in app.palette_commands()]
        assert {"Export JSON", "Export CoNLL", "Copy entities"} <= set(names)
        await pilot.press("ctrl+p")
        await pilot.press(*"Aggregation: max")
        await settle(pilot, lambda: "Aggregation: max" in first_palette_hit(app))
        await pilot.press("enter")
        await settle(pilot, lambda: app.prediction.options.aggregation == "max")  # type: ignore[union-attr]


async def test_keymap_from_settings_rebinds_by_id() -> None:
    app = make(local_settings(keymap={"predict": "f10"}), initial_text="")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.connection is not None)
        app.query_one(InputPane).load_text(TEXT)
        await pilot.press("f10")
        await settle(pilot, lambda: app.prediction is not None)
        assert app.prediction is not None and app.prediction.text == TEXT


async def test_long_text_is_chunked_and_the_status_says_so() -> None:
    from ner_tui.ui.samples import long_document

    app = make(local_settings(), initial_text=long_document(8))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        prediction = app.prediction
        assert prediction is not None and len(prediction.scored.chunks) > 1
        status = app.query_one("#status")
        assert f"split into {len(prediction.scored.chunks)} windows" in str(status.render())
        view = app.query_one(EntityText)
        assert "┆" in "".join(view.lines_plain)
        assert_widgets_match(app)


# --------------------------------------------------------------------------- the bundled model

BUNDLED_READY = (bundled_model_path() / "config.json").is_file()


@pytest.mark.skipif(not BUNDLED_READY, reason="bundled model not built")
async def test_newcomer_without_a_server_sees_real_entities() -> None:
    """`ner-tui` with no flags and no server: one line saying so, then the bundled model on the
    first sample, with the entities a person expects."""
    url = f"http://127.0.0.1:{free_port()}"
    app = make(Settings(url=url))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        assert app.connection is not None and app.connection.kind == "local"
        assert len([n for n in notes(app) if "No server at" in n]) == 1
        found = {(e.label, e.text) for e in app.prediction.entities}  # type: ignore[union-attr]
        assert {("PER", "Barack Obama"), ("PER", "Angela Merkel"), ("LOC", "Berlin")} <= found
        assert_widgets_match(app)
        await pilot.press("f2")  # first -> average: same scores, same people
        await settle(pilot, lambda: app.prediction.options.aggregation == "average")  # type: ignore[union-attr]
        found = {(e.label, e.text) for e in app.prediction.entities}  # type: ignore[union-attr]
        assert ("PER", "Barack Obama") in found


async def test_sidebar_type_marks_follow_a_theme_switch() -> None:
    """The sidebar's coloured marks sit on the theme's background: a light theme gets the dark
    shade of each type's colour, without a new prediction."""
    app = make(local_settings(theme="textual-dark"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        sidebar = app.query_one(EntitySidebar)

        def mark_colours() -> set[object]:
            return {
                option.prompt.spans[0].style.foreground  # type: ignore[union-attr]
                for option in sidebar.options
                if (option.id or "").startswith("entity-")
            }

        dark = mark_colours()
        app.theme = "textual-light"
        await settle(pilot, lambda: mark_colours() != dark)
        palette = app.palette
        light = {palette.colour(t).label_for(False).foreground for t in palette.types}
        assert mark_colours() <= light


async def test_theme_from_settings_and_unknown_theme_warns() -> None:
    app = make(local_settings(theme="nord"), initial_text="")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.connection is not None)
        assert app.theme == "nord"
    app = make(local_settings(theme="no-such-theme"), initial_text="")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.connection is not None)
        assert any("no-such-theme" in n for n in notes(app, "warning"))
        assert app.theme in app.available_themes


async def test_predict_uses_the_text_typed_just_before_it() -> None:
    """Issue #14, item 0: keys typed or pasted right before ctrl+s are in the prediction. The
    keys arrive at the app back to back, as from a terminal under a fast typist or tmux's
    send-keys, ctrl+s straight after them; the app's priority binding runs while the keys it
    forwarded still wait in the input's queue."""
    from textual import events

    app = NerTuiApp(Settings(local=True, model=str(TINY)), initial_text="")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, lambda: app.connection is not None)
        pane = app.query_one(InputPane)
        pane.focus()
        typed = "Contact Jane Doe in Seattle."
        for char in typed:
            app.post_message(events.Key(char if char != " " else "space", char))
        app.post_message(events.Key("ctrl+s", None))
        await settle(pilot, lambda: app.prediction is not None)
        assert pane.text == typed
        assert app.prediction is not None and app.prediction.text == typed


async def test_dialogs_open_while_a_prediction_is_in_flight() -> None:
    """F1, export, history and the types list open (are the active screen) and close while
    the engine is still on a prediction, which then lands as usual (bench/ui_dialogs.py
    times this against the same dialogs opened idle)."""
    app = make(local_settings(), initial_text=TEXT)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        assert app.connection is not None
        engine = app.connection.backend
        gate = threading.Event()
        forward = engine._forward  # type: ignore[attr-defined]

        def held(prompts: object, use_activation: object) -> object:
            gate.wait(30)  # the pass waits here until every dialog has been opened
            return forward(prompts, use_activation)

        engine._forward = held  # type: ignore[attr-defined]

        async def wait(until: Callable[[], bool]) -> None:
            for _ in range(500):
                await asyncio.sleep(0.01)
                if until():
                    return
            raise AssertionError("the expected state never came")

        async def key(name: str, until: Callable[[], bool]) -> None:
            # As the terminal driver sends keys: Pilot.press would wait for the app to idle.
            event = events.Key(name, None)
            event.set_sender(app)
            app._driver.send_message(event)  # type: ignore[union-attr]
            await wait(until)

        try:
            app.query_one(InputPane).load_text(OTHER)
            app.run_prediction(OTHER)
            await wait(lambda: app.predicting)
            dialogs = [
                ("f1", HelpScreen),
                ("f8", ExportScreen),
                ("ctrl+r", HistoryScreen),
                ("f10", TypesScreen),
            ]
            for name, screen in dialogs:
                await key(name, lambda screen=screen: isinstance(app.screen, screen))  # type: ignore[misc]
                assert app.predicting
                await key("escape", lambda: len(app.screen_stack) == 1)
                assert app.predicting
        finally:
            gate.set()
        await settle(pilot, lambda: app.prediction.text == OTHER)  # type: ignore[union-attr]
        assert_widgets_match(app)
