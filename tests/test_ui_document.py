"""The TUI's pure pieces: visible control characters, offset mapping, the highlighted document,
line layout, history and the entity palette (no terminal needed)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from textual.color import Color
from textual.content import Content, Span
from textual.theme import BUILTIN_THEMES

from ner_tui.core.types import Chunk, DecodeOptions, Entity, Prediction, ScoredText
from ner_tui.core.visible import SPECIAL_RE, grapheme_bounds, visible, visible_text
from ner_tui.ui.document import NBSP, LineSlicer, build_document, wrap_lines
from ner_tui.ui.history import History
from ner_tui.ui.palette import _DARK_TEXT, _LIGHT_TEXT, EntityPalette, contrast, entity_types


def prediction_of(text: str, spans: list[tuple[str, int, int]]) -> Prediction:
    """A Prediction with the given entities (the document builder only reads text/entities)."""
    scored = ScoredText(
        text=text,
        token_ids=np.zeros(0, dtype=np.int64),
        token_strs=(),
        offsets=np.zeros((0, 2), dtype=np.int64),
        special=np.zeros(0, dtype=bool),
        word_ids=(),
        probs=np.zeros((0, 3), dtype=np.float32),
        id2label=("O", "B-PER", "I-PER"),
        chunk_of=np.zeros(0, dtype=np.int64),
        chunks=(Chunk(0, 0, 0, 0, len(text)),),
        model="m",
        source="s",
    )
    entities = tuple(Entity(label, s, e, text[s:e], 0.9, 0.8, 0, 0) for label, s, e in spans)
    return Prediction(scored, DecodeOptions(), "IOB2", (), entities)


def test_control_characters_become_visible_glyphs() -> None:
    assert visible("\x1b") == "␛"
    assert visible("\t").startswith("→")
    assert visible("\u202e") == "‹RLO›"
    assert visible("\u2028") == "⏎\n"
    assert visible_text("a\x1b[31mb\nc") == "a␛[31mb⏎c"


def test_markup_stays_literal_and_entities_are_styled_by_span() -> None:
    text = "[bold]Obama[/bold] met \x1b[31mLee\x1b[0m\tin [SEP]"
    obama = text.index("Obama")
    lee = text.index("Lee")
    doc = build_document(
        prediction_of(text, [("PER", obama, obama + 5), ("PER", lee, lee + 3)]),
        EntityPalette(["PER"]),
    )
    plain = doc.content.plain
    assert plain.startswith("[bold]Obama" + NBSP + "PER" + NBSP + "[/bold] met ␛[31mLee")
    assert "\x1b" not in plain and "\t" not in plain and "→" in plain and "[SEP]" in plain
    for (start, end), entity in zip(doc.entity_spans, ["Obama", "Lee"], strict=True):
        assert plain[start:end] == entity
        styles = [s for s in doc.content.spans if s.start == start and s.end == end]
        assert styles, "the entity has its own span"
    # Offsets map across the replaced escapes and the inserted chips.
    assert plain[doc.offsets.start(lee) : doc.offsets.end(lee + 3)] == "Lee"
    assert plain[doc.offsets.start(len(text) - 5) : doc.offsets.end(len(text))] == "[SEP]"


def test_hidden_labels_insert_nothing() -> None:
    text = "Obama met Lee"
    doc = build_document(
        prediction_of(text, [("PER", 0, 5), ("PER", 10, 13)]), EntityPalette(), show_labels=False
    )
    assert doc.content.plain == text


def test_entity_edges_never_split_a_grapheme_cluster() -> None:
    family = "👩\u200d👩\u200d👧"
    text = f"a {family} b 🇫🇷 c"
    start = text.index(family) + 2  # in the middle of the ZWJ sequence
    assert grapheme_bounds(text, start, start + 1) == (2, 2 + len(family))
    flag = text.index("🇫🇷")
    assert grapheme_bounds(text, flag + 1, flag + 2) == (flag, flag + 2)
    assert grapheme_bounds("e\u0301x", 1, 2) == (0, 2)  # combining accent stays with its base
    assert grapheme_bounds("a\r\nb", 2, 3) == (1, 3)


def test_wrap_breaks_at_spaces_only_and_keeps_chips_attached() -> None:
    chip = NBSP + "PER" + NBSP
    plain = f"Barack Obama{chip} met Angela Merkel{chip} in Berlin\n\nnext"
    lines = wrap_lines(plain, 20)
    shown = [plain[s:e] for s, e in lines]
    assert all(len(line.rstrip(" ")) <= 20 for line in shown)
    assert any(line.startswith("Obama" + chip) or ("Obama" + chip) in line for line in shown)
    assert "" in shown  # the blank line between paragraphs is kept
    assert shown[-1] == "next"
    assert wrap_lines("x" * 25, 10) == [(0, 10), (10, 20), (20, 25)]  # a long word folds


def test_line_slicer_matches_content_slicing() -> None:
    text = "one two three four five six seven"
    spans = [Span(0, 7, "bold"), Span(4, 13, "italic"), Span(20, 33, "underline")]
    content = Content(text, spans)
    slicer = LineSlicer(content)
    for start, end in [(0, 8), (8, 19), (19, 33), (5, 6)]:
        expected = content[start:end]
        got = slicer.line(start, end)
        assert got.plain == expected.plain
        assert sorted((s.start, s.end, s.style) for s in got.spans) == sorted(
            (s.start, s.end, s.style) for s in expected.spans if s.end > s.start
        )


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(min_size=0, max_size=60),
    cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=8),
)
def test_document_properties(text: str, cuts: list[int]) -> None:
    """Whatever the text and spans: entity display text is the visible form of the entity's
    grapheme-widened text, offsets are monotonic, no raw control character is drawn."""
    points = sorted({min(c, len(text)) for c in cuts})
    spans = [("X", a, b) for a, b in zip(points[0::2], points[1::2], strict=False) if b > a]
    doc = build_document(prediction_of(text, spans), EntityPalette(["X"]))
    plain = doc.content.plain
    assert not any(ch in plain for ch in "\x1b\t\r\x00\x7f\u202e")
    previous = 0
    for i in range(len(text) + 1):
        here = doc.offsets.start(i)
        assert here >= previous
        previous = here
    pos = 0
    for (start, end), (_, a, b) in zip(doc.entity_spans, spans, strict=True):
        ga, gb = grapheme_bounds(text, a, b)
        ga = max(ga, pos)
        if gb <= ga:
            assert start == end
            continue
        assert plain[start:end] == SPECIAL_RE.sub(lambda m: visible(m.group()), text[ga:gb])
        pos = gb


def test_history_is_bounded_newest_first_and_deduplicated() -> None:
    history = History(limit=3)
    for text in ["a", "b", "c", "a", "d"]:
        history.add(text)
    assert [e.text for e in history] == ["d", "a", "c"]
    history.remove(1)
    assert [e.text for e in history] == ["d", "c"]
    history.clear()
    assert len(history) == 0


def test_palette_is_stable_and_familiar_types_keep_their_colour() -> None:
    a = EntityPalette(entity_types(["O", "B-PER", "I-PER", "B-ORG", "B-ARGM-LOC"]))
    b = EntityPalette(entity_types(["O", "B-ORG", "B-PER"]))
    assert a.types == ["PER", "ORG", "ARGM-LOC"]
    assert a.colour("PER").hue == b.colour("PER").hue
    assert a.colour("ORG").hue == b.colour("ORG").hue
    assert len({a.colour(t).hue for t in [*a.types, "X1", "X2", "X3"]}) == 6


@pytest.mark.parametrize("name", sorted(BUILTIN_THEMES))
def test_entity_colours_are_legible_in_every_builtin_theme(name: str) -> None:
    theme = BUILTIN_THEMES[name]
    palette = EntityPalette([f"T{i}" for i in range(12)])
    colours = [palette.colour(t) for t in palette.types]
    for colour in colours:  # theme-independent: explicit foreground on explicit background
        assert contrast(colour.hue, _DARK_TEXT) >= 7
        assert contrast(colour.chip, _LIGHT_TEXT) >= 4.5
    surface = theme.to_color_system().generate()["surface"]
    if surface == "transparent":  # ANSI themes: the terminal's own background
        return
    background = Color.parse(surface)
    for colour in colours:
        label = colour.label_for(theme.dark).foreground
        assert label is not None
        assert contrast(label, background) >= 3, (name, label.hex)
