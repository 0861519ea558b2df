"""Pastes that contain ESC (issue 14, item 4): one paste, in order, nothing lost, ␛ on screen."""

from __future__ import annotations

from test_ui_pilot import SIZE, local_settings, make, settle
from textual import events
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

from ner_tui.ui.paste import PasteSafeParser, paste_safe_driver
from ner_tui.ui.widgets.input_pane import InputPane
from ner_tui.ui.widgets.token_table import TokenTable

PASTED = (
    "Start Paris \x1b[31mBerlin\x1b[0m end London. Zo\u00eb \U0001f469\u200d\U0001f52c done\x1b"
)
WIRE = "x\x1b[200~" + PASTED + "\x1b[201~y"


def events_of(parser: XTermParser, chunks: list[str]) -> list[object]:
    return [token for chunk in chunks for token in parser.feed(chunk)]


def summary(tokens: list[object]) -> list[str]:
    return [
        f"paste:{t.text}" if isinstance(t, events.Paste) else f"key:{t.character}"
        for t in tokens
        if isinstance(t, events.Paste | events.Key)
    ]


def test_textual_alone_scrambles_such_a_paste() -> None:
    """What the issue saw: the keys after ESC arrive as keys, before a truncated paste."""
    got = summary(events_of(XTermParser(), [WIRE]))
    assert "paste:" + PASTED not in got


def test_a_paste_with_escapes_is_one_paste_however_the_bytes_are_split() -> None:
    expected = ["key:x", "paste:" + PASTED, "key:y"]
    assert summary(events_of(PasteSafeParser(), [WIRE])) == expected
    for cut in range(1, len(WIRE)):
        chunks = [WIRE[:cut], WIRE[cut:]]
        assert summary(events_of(PasteSafeParser(), chunks)) == expected, cut
    one_by_one = list(WIRE)
    assert summary(events_of(PasteSafeParser(), one_by_one)) == expected


def test_escape_key_outside_a_paste_is_still_a_key() -> None:
    parser = PasteSafeParser()
    tokens = events_of(parser, ["\x1b[200~a\x1b[201~", "\x1b[A"])
    assert summary(tokens) == ["paste:a", "key:None"]
    assert [t.key for t in tokens if isinstance(t, events.Key)] == ["up"]


def test_the_app_drivers_read_with_the_paste_safe_parser() -> None:
    driver = paste_safe_driver(LinuxDriver)
    assert issubclass(driver, LinuxDriver) and driver is not LinuxDriver
    assert driver.run_input_thread.__globals__["XTermParser"] is PasteSafeParser
    assert LinuxDriver.run_input_thread.__globals__["XTermParser"] is XTermParser  # untouched


async def test_pasted_escapes_are_text_shown_as_control_pictures() -> None:
    app = make(local_settings(), initial_text="")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.connection is not None)
        pane = app.query_one(InputPane)
        pane.focus()
        app.post_message(events.Paste(PASTED))  # as the driver sends it
        await settle(pilot, lambda: pane.text == PASTED)
        assert "\u200d" in pane.text
        shown = pane.document.lines[0]
        assert "\x1b" not in shown and shown.count("\u241b") == PASTED.count("\x1b")
        assert len(shown) == len(PASTED)


async def test_a_paste_while_the_token_table_has_focus_goes_to_the_input() -> None:
    app = make(local_settings(), initial_text="")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.connection is not None)
        app.query_one(TokenTable).focus()
        await pilot.pause()
        app.post_message(events.Paste("Angela Merkel"))  # as the driver sends it
        pane = app.query_one(InputPane)
        await settle(pilot, lambda: pane.text == "Angela Merkel")
        assert app.focused is pane
