"""Pilot tests for issue 14: whole words by default, keys, paste, types, threshold, persistence."""

from __future__ import annotations

import re
from pathlib import Path

from test_ui_pilot import SIZE, TEXT, local_settings, make, notes, settle

from ner_tui.core.settings import Settings
from ner_tui.ui.bindings import app_binding
from ner_tui.ui.screens.export import ExportRequest

SPLIT = "Chancellor Scholz visited the Élysée with Zoë Kravitz-Bloomberg."
WORDS = re.findall(r"\w+|[^\w\s]", SPLIT)


async def test_whole_words_by_default_and_conll_is_word_level(tmp_path: Path) -> None:
    assert Settings().aggregation == "first"
    app = make(local_settings(), initial_text=SPLIT)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        assert app.prediction is not None
        assert app.prediction.options.aggregation == "first"
        app.set_aggregation("simple")
        await settle(pilot, lambda: app.prediction.options.aggregation == "simple")  # type: ignore[union-attr]
        content = [t for t in app.prediction.tokens if not t.special]
        assert len(content) > len(WORDS), "the tokenizer splits some words into pieces"
        target = tmp_path / "out.conll"
        app.export_to(ExportRequest(target, "conll"))
        await settle(pilot, target.exists)
        rows = [line.split(" ") for line in target.read_text(encoding="utf-8").split("\n") if line]
        assert [surface for surface, _ in rows] == WORDS
        assert any("Exported" in n for n in notes(app))


async def test_keymap_shows_in_help_and_border_and_works_in_the_input() -> None:
    from ner_tui.ui.screens.export import ExportScreen
    from ner_tui.ui.screens.help import HelpScreen
    from ner_tui.ui.widgets.input_pane import InputPane

    app = make(local_settings(keymap={"predict": "f10", "export": "ctrl+e"}), initial_text=TEXT)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        pane = app.query_one(InputPane)
        assert str(pane.border_subtitle) == "f10 predict"
        pane.focus()
        pane.move_cursor((0, 0))
        await pilot.press("ctrl+e")  # the editor's "line end" gives way to the user's export key
        await settle(pilot, lambda: isinstance(app.screen, ExportScreen))
        assert pane.cursor_location == (0, 0)
        await pilot.press("escape")
        await settle(pilot, lambda: not isinstance(app.screen, ExportScreen))
        await pilot.press("f1")
        await settle(pilot, lambda: isinstance(app.screen, HelpScreen))
        keys = {desc: key for key, desc, _ in app.screen.keys}  # type: ignore[attr-defined]
        assert keys["Predict"] == "f10"
        assert "^s" not in keys["Predict"] and "ctrl+s" not in keys["Predict"]
        assert keys["Export"] == app.get_key_display(app_binding("export").with_key("ctrl+e"))
        assert not notes(app, "warning")


async def test_misspelt_keymap_name_is_named_with_the_valid_ones() -> None:
    app = make(local_settings(keymap={"exprot": "ctrl+e", "predict": "f10"}), initial_text="")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.connection is not None)
        warnings = notes(app, "warning")
        assert len(warnings) == 1
        assert "'exprot'" in warnings[0]
        for valid in ("predict", "export", "help", "history"):
            assert valid in warnings[0]
        assert app._keymap == {"predict": "f10"}
    from ner_tui.ui.bindings import known_binding_ids

    known = known_binding_ids()  # screens' and widgets' ids too, each once
    assert {"types.done", "search.close", "input.select_all", "help.close"} <= set(known)
    assert len(known) == len(set(known))


async def test_threshold_steps_finely_and_never_wraps() -> None:
    app = make(local_settings(), initial_text=TEXT)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        await pilot.press("shift+f4")  # at 0.00: stays there (it used to jump to 0.90)
        await pilot.pause()
        assert app.decode_options.threshold == 0.0
        await pilot.press("f4")
        await settle(pilot, lambda: app.prediction.options.threshold == 0.05)  # type: ignore[union-attr]
        await pilot.press(*["f4"] * 25)
        await settle(pilot, lambda: app.prediction.options.threshold == 0.99)  # type: ignore[union-attr]
        await pilot.press("f4")
        await pilot.pause()
        assert app.decode_options.threshold == 0.99
        await pilot.press("shift+f4")
        await settle(pilot, lambda: app.prediction.options.threshold == 0.95)  # type: ignore[union-attr]
        assert all(e.score >= 0.95 for e in app.prediction.entities)  # type: ignore[union-attr]


async def test_hiding_a_type_removes_it_from_the_view_and_back() -> None:
    from ner_tui.ui.screens.types import TypesScreen
    from ner_tui.ui.widgets.entity_sidebar import EntitySidebar
    from ner_tui.ui.widgets.entity_text import EntityText

    app = make(local_settings(), initial_text=TEXT)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        assert app.prediction is not None
        labels = {e.label for e in app.prediction.entities}
        assert "PER" in labels
        await pilot.press("f10")
        await settle(pilot, lambda: isinstance(app.screen, TypesScreen))
        types_list = app.screen.query_one("#types-list")
        types_list.deselect("PER")  # type: ignore[attr-defined]
        await pilot.press("escape")
        await settle(pilot, lambda: app.view_options.hidden_types == {"PER"})
        await settle(pilot, lambda: all(e.label != "PER" for e in app.prediction.entities))  # type: ignore[union-attr]
        sidebar = app.query_one(EntitySidebar)
        assert not any(o.id == "type-PER" for o in sidebar.options)
        document = app.query_one(EntityText).document
        assert document is not None and " PER " not in document.content.plain
        assert "hidden PER" in str(app.query_one("#options").render())
        names = [c.name for c in app.palette_commands()]
        assert "Show type: PER" in names and "Hide type: LOC" in names
        app.toggle_type("PER")
        await settle(pilot, lambda: any(e.label == "PER" for e in app.prediction.entities))  # type: ignore[union-attr]


async def test_history_theme_and_decoding_options_survive_a_restart(
    _session_in_a_temporary_dir: Path,
) -> None:
    state = _session_in_a_temporary_dir
    app = make(local_settings(), initial_text=TEXT)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        app.theme = "nord"
        for change in (
            lambda: app.set_aggregation("average"),
            lambda: app.set_mode("strict"),
            lambda: app.set_threshold(0.35),
            lambda: app.set_hidden_types(frozenset({"MISC"})),
        ):
            change()
            await settle(pilot, lambda: not any(w.group == "decode" for w in app.workers))
        await settle(pilot, lambda: app.prediction.options.threshold == 0.35)  # type: ignore[union-attr]
    assert (state / "session.json").is_file()

    again = make(local_settings(), initial_text="")
    async with again.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: again.connection is not None)
        assert again.theme == "nord"
        decode = again.decode_options
        assert (decode.aggregation, decode.mode, decode.threshold) == ("average", "strict", 0.35)
        assert again.view_options.hidden_types == {"MISC"}
        assert [e.text for e in again.history] == [TEXT]
        assert not notes(again, "warning")

    # What the config, env or flags set still wins over the last session.
    flagged = make(local_settings(aggregation="simple", theme="textual-light"), initial_text="")
    async with flagged.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: flagged.connection is not None)
        assert flagged.decode_options.aggregation == "simple"
        assert flagged.decode_options.mode == "strict"  # not given: the session's
        assert flagged.theme == "textual-light"


async def test_a_broken_session_file_is_a_warning_not_a_crash(
    _session_in_a_temporary_dir: Path,
) -> None:
    (_session_in_a_temporary_dir / "session.json").write_text("{not json", encoding="utf-8")
    app = make(local_settings(), initial_text="")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.connection is not None)
        assert any("saved session" in n for n in notes(app, "warning"))
        assert app.decode_options.aggregation == "first"
    assert (
        (_session_in_a_temporary_dir / "session.json").read_text(encoding="utf-8").startswith("{")
    )


async def test_results_say_they_are_out_of_date_when_the_text_changes() -> None:
    from ner_tui.ui.widgets.entity_text import EntityText
    from ner_tui.ui.widgets.input_pane import InputPane

    app = make(local_settings(), initial_text=TEXT)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        view = app.query_one(EntityText)
        assert not view.border_subtitle and not view.has_class("-stale")
        pane = app.query_one(InputPane)
        pane.focus()
        pane.move_cursor(pane.document.end)
        await pilot.press("x")
        await pilot.pause()
        assert "out of date" in str(view.border_subtitle) and view.has_class("-stale")
        await pilot.press("backspace")  # the same text again: up to date
        await pilot.pause()
        assert not view.border_subtitle
        await pilot.press("x", "ctrl+s")
        await settle(pilot, lambda: app.prediction.text == TEXT + "x")  # type: ignore[union-attr]
        assert not view.border_subtitle and not view.has_class("-stale")


async def test_sidebar_scores_line_up_with_combining_marks_and_joiners() -> None:
    from dataclasses import replace

    from rich.cells import cell_len

    from ner_tui.core.types import Entity
    from ner_tui.ui.widgets.entity_sidebar import EntitySidebar

    text = "Zoe\u0308 met Sa\u0303o Paulo and a\u200db\u200dc and Barack Obama."
    names = ["Zoe\u0308", "Sa\u0303o Paulo", "a\u200db\u200dc", "Barack Obama"]
    app = make(local_settings(), initial_text=text)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        assert app.prediction is not None
        entities = tuple(
            Entity("PER", text.index(n), text.index(n) + len(n), n, 0.9 - i / 10, 0.5, 0, 1)
            for i, n in enumerate(names)
        )
        sidebar = app.query_one(EntitySidebar)
        sidebar.set_prediction(replace(app.prediction, entities=entities), app.palette)
        lines = [
            str(option.prompt)
            for option in sidebar.options
            if option.id and option.id.startswith("entity-")
        ]
        assert len(lines) == 4
        assert len({cell_len(line) for line in lines}) == 1, lines  # scores in one column


async def test_export_never_overwrites_silently_and_json_has_the_threshold(
    tmp_path: Path, monkeypatch: object
) -> None:
    import json

    from ner_tui.ui.screens.export import ExportScreen

    monkeypatch.chdir(tmp_path)  # type: ignore[attr-defined]
    (tmp_path / "ner-tui-export.json").write_text("keep me", encoding="utf-8")
    app = make(local_settings(threshold=0.25), initial_text=TEXT)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        await pilot.press("f8")
        await settle(pilot, lambda: isinstance(app.screen, ExportScreen))
        path_input = app.screen.query_one("#export-path")
        assert path_input.value == str(tmp_path / "ner-tui-export-2.json")  # type: ignore[attr-defined]
        path_input.value = str(tmp_path / "ner-tui-export.json")  # type: ignore[attr-defined]
        path_input.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ExportScreen), "an existing file needs a second Enter"
        warning = str(app.screen.query_one("#export-warning").render())
        assert "exists" in warning
        assert (tmp_path / "ner-tui-export.json").read_text(encoding="utf-8") == "keep me"
        await pilot.press("enter")
        await settle(pilot, lambda: "keep me" not in (tmp_path / "ner-tui-export.json").read_text())
        doc = json.loads((tmp_path / "ner-tui-export.json").read_text(encoding="utf-8"))
        assert doc["threshold"] == 0.25


async def test_ctrl_a_selects_the_whole_input() -> None:
    from ner_tui.ui.widgets.input_pane import InputPane

    app = make(local_settings(), initial_text="")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.connection is not None)
        pane = app.query_one(InputPane)
        pane.load_text("first line\nsecond line")
        pane.focus()
        await pilot.press("ctrl+a")
        await pilot.pause()
        assert pane.selected_text == "first line\nsecond line"
        await pilot.press("home")
        await pilot.pause()
        assert pane.selected_text == ""


async def test_enter_on_a_token_shows_its_whole_label_distribution() -> None:
    from ner_tui.ui.screens.distribution import DistributionScreen
    from ner_tui.ui.widgets.token_table import TokenTable

    app = make(local_settings(), initial_text=TEXT)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        assert app.prediction is not None
        table = app.query_one(TokenTable)
        table.focus()
        table.select(2)
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, DistributionScreen))
        bars = str(app.screen.query_one("#distribution-bars").render()).splitlines()
        labels = app.prediction.scored.id2label
        assert len(bars) == len(labels)  # every label, not only three runner-ups
        probs = [float(p) for p in app.prediction.scored.probs[2]]
        best = labels[max(range(len(labels)), key=probs.__getitem__)]
        assert bars[0].replace("◆", "").split()[0] == best and "█" in bars[0]
        assert bars[0].startswith("◆") == (app.prediction.tokens[2].label == best)
        await pilot.press("escape")
        await settle(pilot, lambda: not isinstance(app.screen, DistributionScreen))


async def test_next_and_previous_entity_keys_step_through_the_text() -> None:
    from ner_tui.ui.widgets.entity_text import EntityText
    from ner_tui.ui.widgets.token_table import TokenTable

    app = make(local_settings(), initial_text=TEXT)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        assert app.prediction is not None
        entities = app.prediction.entities
        assert len(entities) >= 2
        view = app.query_one(EntityText)
        await pilot.press("ctrl+down")
        await pilot.pause()
        assert app._entity_index == 0 and f"1 of {len(entities)}" in str(view.border_subtitle)
        table = app.query_one(TokenTable)
        assert table._members == (entities[0].token_start, entities[0].token_end)
        await pilot.press("ctrl+down")
        await pilot.pause()
        assert app._entity_index == 1
        await pilot.press("ctrl+up", "ctrl+up")  # back past the first: wraps to the last
        await pilot.pause()
        assert app._entity_index == len(entities) - 1


async def test_find_highlights_each_match_in_turn() -> None:
    from ner_tui.ui.screens.search import SearchScreen
    from ner_tui.ui.widgets.entity_text import EntityText

    text = "Paris is big. paris is old. PARIS is loud."
    app = make(local_settings(), initial_text=text)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        view = app.query_one(EntityText)
        seen = []
        for _ in range(4):
            await pilot.press("ctrl+f")
            await settle(pilot, lambda: isinstance(app.screen, SearchScreen))
            search = app.screen.query_one("#search-input")
            if not search.value:  # type: ignore[attr-defined]
                search.value = "paris"  # type: ignore[attr-defined]
            await pilot.press("enter")
            await settle(pilot, lambda: not isinstance(app.screen, SearchScreen))
            seen.append(app._search_at)
        assert seen == [0, 14, 28, 0]  # case-insensitive, in order, then from the top
        assert "match 1 of 3" in str(view.border_subtitle)
        assert view._highlight is not None
        await pilot.press("ctrl+f")
        await settle(pilot, lambda: isinstance(app.screen, SearchScreen))
        app.screen.query_one("#search-input").value = "Tokyo"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await pilot.pause()
        assert any("not in the text" in n for n in notes(app, "warning"))


async def test_copy_the_result_as_json() -> None:
    import json

    app = make(local_settings(), initial_text=TEXT)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        names = [c.name for c in app.palette_commands()]
        assert "Copy result as JSON" in names
        app.action_copy_json()
        await settle(pilot, lambda: app.clipboard.startswith("{"))
        doc = json.loads(app.clipboard)
        assert doc["text"] == TEXT
        assert len(doc["entities"]) == len(app.prediction.entities)  # type: ignore[union-attr]
        assert any("as JSON" in n for n in notes(app))


def test_familiar_types_stay_apart_in_a_256_colour_terminal() -> None:
    from rich.color import Color, ColorSystem

    from ner_tui.core.colours import CHIP_DARKEN, HUES, PREFERRED, darken

    def xterm(colour: str) -> int | None:
        return Color.parse(colour).downgrade(ColorSystem.EIGHT_BIT).number

    slots = sorted({PREFERRED[t] for t in ("PER", "ORG", "LOC", "MISC", "DATE", "TIME")})
    highlights = [xterm(HUES[i]) for i in slots]
    chips = [xterm(darken(HUES[i], CHIP_DARKEN)) for i in slots]
    assert len(set(highlights)) == len(slots), highlights
    assert len(set(chips)) == len(slots), chips


async def test_notifications_leave_the_status_line_readable() -> None:
    from textual.widgets._toast import Toast, ToastRack

    from ner_tui.ui.widgets.status_line import StatusLine

    app = make(local_settings(), initial_text=TEXT)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        app.notify("A notification\nover two lines", markup=False)
        rack = app.screen.get_child_by_type(ToastRack)
        await settle(
            pilot, lambda: bool(rack.query(Toast)) and rack.query_one(Toast).region.height > 0
        )
        status = app.query_one(StatusLine)
        for toast in rack.query(Toast):
            assert not toast.region.overlaps(status.region), (toast.region, status.region)


def test_every_binding_has_an_id_and_a_tooltip() -> None:
    """The style rule behind `[keymap]` and F1: every ner-tui binding can be renamed (id) and
    explained (tooltip), including screens and widgets added later."""
    import ner_tui.ui.app  # noqa: F401 - loads every screen and widget class
    from ner_tui.ui.bindings import class_bindings

    found = list(class_bindings())
    assert {"CorpusScreen", "DocumentList"} <= {cls.__name__ for cls, _ in found}  # the walk works
    missing = [
        f"{cls.__qualname__}: {binding.key} -> {binding.action}"
        for cls, binding in found
        if not (binding.id and binding.tooltip)
    ]
    assert missing == []
