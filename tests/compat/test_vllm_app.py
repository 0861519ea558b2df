"""The app, driven through Textual's Pilot, against the real vLLM.

It is given only the URL, as a new user would: it discovers the model from ``/v1/models``,
loads the tokenizer and labels from the served directory, predicts, and shows the entities a
person expects (these are the bundled model's weights). ctrl+l then switches to the local engine
on the fp32 ONNX export of the same weights, which must find the same entities.
"""

from __future__ import annotations

import pytest
from real_vllm import RealVllm, skip_module_unless_configured
from test_ui_pilot import SIZE, assert_widgets_match, make, notes, settle
from textual.message import Message

from ner_tui.core.settings import Settings
from ner_tui.ui.messages import Connected
from ner_tui.ui.widgets.input_pane import InputPane

skip_module_unless_configured()

TEXT = "Barack Obama met Angela Merkel in Berlin on Tuesday."


def _of(messages: list[Message], kind: type) -> list:
    return list({id(m): m for m in messages if isinstance(m, kind)}.values())


async def test_app_discovers_vllm_predicts_and_agrees_with_the_local_engine(
    vllm: RealVllm,
) -> None:
    messages: list[Message] = []
    app = make(Settings(url=vllm.url), initial_text=TEXT)
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        assert app.connection is not None and app.connection.kind == "server"
        assert app.connection.card.id == vllm.model  # type: ignore[union-attr]
        assert vllm.url in app.query_one("#status").info.source  # type: ignore[attr-defined]
        served = app.prediction
        assert served is not None
        found = {(e.label, e.text) for e in served.entities}
        assert {("PER", "Barack Obama"), ("PER", "Angela Merkel"), ("LOC", "Berlin")} <= found
        assert_widgets_match(app)
        assert not notes(app, "error")

        app.query_one(InputPane).load_text("Apple and Microsoft shares rose in New York.")
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: app.prediction is not served)
        assert ("LOC", "New York") in {(e.label, e.text) for e in app.prediction.entities}  # type: ignore[union-attr]
        assert_widgets_match(app)

        app.query_one(InputPane).load_text(TEXT)
        await pilot.press("ctrl+s")
        await settle(
            pilot,
            lambda: (
                app.prediction is not None
                and app.prediction.text == TEXT
                and app.prediction is not served
            ),
        )
        served = app.prediction
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
        assert local is not None and served is not None
        assert [(e.label, e.start, e.end) for e in local.entities] == [
            (e.label, e.start, e.end) for e in served.entities
        ]
    assert len(_of(messages, Connected)) >= 2


async def test_app_with_unknown_model_on_vllm_says_so(vllm: RealVllm) -> None:
    app = make(Settings(url=vllm.url, model="no-such-model"), initial_text=TEXT)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: bool(notes(app, "error")))
        assert app.connection is None
        assert "no-such-model" in notes(app, "error")[0]
        assert app.query_one(InputPane).text == TEXT


@pytest.mark.parametrize("encoding", ["base64", "bytes"])
async def test_app_in_binary_encodings(vllm: RealVllm, encoding: str) -> None:
    app = make(Settings(url=vllm.url, encoding=encoding), initial_text=TEXT)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        found = {(e.label, e.text) for e in app.prediction.entities}  # type: ignore[union-attr]
        assert ("PER", "Barack Obama") in found
        assert_widgets_match(app)
