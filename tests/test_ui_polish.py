"""Pilot tests for issue 14: whole words by default, keys, paste, types, threshold, persistence."""

from __future__ import annotations

import re
from pathlib import Path

from test_ui_pilot import SIZE, local_settings, make, notes, settle

from ner_tui.core.settings import Settings
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
