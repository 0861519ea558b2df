"""Pilot tests at laptop and projector sizes (issue 14, item 1): nothing that matters is lost."""

from __future__ import annotations

import pytest
from test_ui_pilot import TEXT, local_settings, make, settle

from ner_tui.ui.widgets.token_table import TokenTable


def visible_rows(table: TokenTable) -> list[str]:
    """The token table's lines as drawn (header first), as plain text."""
    height = table.scrollable_content_region.height
    return [table.render_line(y).text for y in range(height)]


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
async def test_token_table_keeps_token_label_and_confidence(size: tuple[int, int]) -> None:
    app = make(local_settings(), initial_text=TEXT)
    async with app.run_test(size=size) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        prediction = app.prediction
        assert prediction is not None
        table = app.query_one(TokenTable)
        lines = visible_rows(table)
        header = lines[0]
        assert header.index("token") < header.index("label") < header.index("conf")
        assert len(lines) >= 3, "at least two token rows are on screen"
        for line, token in zip(lines[1:], prediction.tokens, strict=False):
            if not line.strip():
                continue
            assert token.label in line.split(), (line, token.label)
            assert f"{token.score:.3f}" in line
        # The runner-ups are not cut at "ru": at least the first one is there, abbreviated.
        if size == (80, 24):
            label, score = prediction.tokens[1].alternatives[0]
            assert f"{label} {f'{score:.2f}'[1:]}" in lines[2] or f"{label} 1.0" in lines[2]


async def test_right_scrolls_the_token_table_sideways() -> None:
    app = make(local_settings(), initial_text=TEXT)
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot, lambda: app.prediction is not None)
        table = app.query_one(TokenTable)
        table.focus()
        first = visible_rows(table)[0]
        assert "word" not in first, "at 60 columns the word column starts off screen"
        for _ in range(40):
            await pilot.press("right")
        await pilot.pause()
        assert table.scroll_x > 0
        assert "word" in visible_rows(table)[0]
        for _ in range(40):
            await pilot.press("left")
        await pilot.pause()
        assert table.scroll_x == 0


async def test_sidebar_shrinks_on_small_terminals() -> None:
    widths = {}
    for size in [(120, 36), (80, 24), (60, 20)]:
        app = make(local_settings(), initial_text=TEXT)
        async with app.run_test(size=size) as pilot:
            await settle(pilot, lambda: app.prediction is not None)  # noqa: B023
            widths[size[0]] = app.query_one("#sidebar").outer_size.width
            left = app.query_one("#left").outer_size.width
            assert left >= widths[size[0]], "the text and the tokens keep most of the width"
    assert widths[120] > widths[80] > widths[60]
