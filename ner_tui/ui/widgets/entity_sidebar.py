"""Entities grouped by type with counts and scores; highlighting one posts EntitySelected."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from rich.cells import cell_len
from textual import on
from textual.content import Content
from textual.message import Message
from textual.style import Style
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ner_tui.core.types import Entity, Prediction
from ner_tui.core.visible import visible_text
from ner_tui.ui.palette import EntityPalette, on_dark_theme

MAX_PER_TYPE = 300  # an OptionList entry per entity; beyond this the export has them all
_NAME_WIDTH = 22


class EntitySidebar(OptionList):
    """Entity types as headings, each entity under its type (best score first within a type)."""

    DEFAULT_CSS = """
    EntitySidebar, EntitySidebar:focus { background: $surface; border: none; padding: 0 0; }
    EntitySidebar > .option-list--option-disabled { color: $text; }
    """

    @dataclass
    class EntitySelected(Message):
        """An entity was highlighted: ``index`` into ``Prediction.entities``."""

        sidebar: EntitySidebar
        index: int
        entity: Entity

        @property
        def control(self) -> EntitySidebar:
            return self.sidebar

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._prediction: Prediction | None = None
        self._hidden: dict[str, int] = {}
        self._occurrences: dict[int, list[int]] = {}
        self._cycle: dict[int, int] = {}
        self._built_width = 0
        self._palette = EntityPalette()

    @property
    def hidden_counts(self) -> dict[str, int]:
        """Entities per type left out of the list because of :data:`MAX_PER_TYPE`."""
        return dict(self._hidden)

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self._on_theme_changed)

    def _on_theme_changed(self, theme: object) -> None:
        """Type marks are drawn on the theme's background: a shade for dark or light themes."""
        if self._prediction is not None:
            self.set_prediction(self._prediction, self._palette)

    def on_resize(self) -> None:
        if self._prediction is not None and self.scrollable_content_region.width != (
            self._built_width
        ):
            self.set_prediction(self._prediction, self._palette)

    def set_prediction(self, prediction: Prediction | None, palette: EntityPalette) -> None:
        self._prediction = prediction
        self._palette = palette
        self.clear_options()
        self._hidden = {}
        if prediction is None or not prediction.entities:
            message = (
                "No entities yet." if prediction is None else "No entities found in this text."
            )
            self.add_option(
                Option(Content.styled(message, Style(dim=True, italic=True)), disabled=True)
            )
            return
        groups: dict[str, list[int]] = defaultdict(list)
        for i, entity in enumerate(prediction.entities):
            groups[entity.label].append(i)
        options: list[Option | None] = []
        self._occurrences = {}
        self._built_width = self.scrollable_content_region.width
        # "  ▌" + name + " " + score (4) + scrollbar/padding (2).
        name_width = max(8, self._built_width - 10) if self._built_width else _NAME_WIDTH
        dark = on_dark_theme(self)
        for label in sorted(groups, key=lambda k: (-len(groups[k]), k)):
            members = groups[label]
            colour = palette.colour(label)
            mean = sum(prediction.entities[i].score for i in members) / len(members)
            heading = Content.assemble(
                (f" {label} ", colour.chip_style),
                (f"  {len(members)}", Style(bold=True)),
                (f"  avg {mean:.2f}", Style(dim=True)),
            )
            if options:
                options.append(None)
            options.append(Option(heading, disabled=True, id=f"type-{label}"))
            # One line per surface form ("Apple ×3"), best score first.
            forms: dict[str, list[int]] = defaultdict(list)
            for i in members:
                forms[prediction.entities[i].text].append(i)
            ranked = sorted(
                forms.values(), key=lambda ids: -max(prediction.entities[i].score for i in ids)
            )
            for ids in ranked[:MAX_PER_TYPE]:
                first = prediction.entities[ids[0]]
                best = max(prediction.entities[i].score for i in ids)
                name = visible_text(first.text)
                count = f" ×{len(ids)}" if len(ids) > 1 else ""
                room = name_width - len(count)
                name = _fit_cells(name, room)
                score_style = Style(dim=True) if best >= 0.5 else Style(bold=True)
                line = Content.assemble(
                    ("  ▌", colour.label_for(dark)),
                    name,
                    (count, Style(dim=True)),
                    # Cells, not characters: combining marks and joiners take none.
                    " " * max(1, room - cell_len(name) + 1),
                    (f"{best:.2f}", score_style),
                )
                self._occurrences[ids[0]] = ids
                options.append(Option(line, id=f"entity-{ids[0]}"))
            if len(ranked) > MAX_PER_TYPE:
                hidden = sum(len(ids) for ids in ranked[MAX_PER_TYPE:])
                self._hidden[label] = hidden
                more = f"  … {hidden} more (export has all)"
                options.append(Option(Content.styled(more, Style(dim=True)), disabled=True))
        self.add_options(options)

    def occurrences(self, index: int) -> list[int]:
        """Every entity with the same type and text as entity ``index`` (its list line)."""
        for ids in self._occurrences.values():
            if index in ids:
                return list(ids)
        return [index]

    def _select(self, index: int) -> None:
        assert self._prediction is not None
        self.post_message(self.EntitySelected(self, index, self._prediction.entities[index]))

    def _entity_of(self, option: Option) -> int | None:
        """The entity index of an entity line (its first occurrence); None for other lines."""
        option_id = option.id or ""
        if self._prediction is None or not option_id.startswith("entity-"):
            return None
        return int(option_id.removeprefix("entity-"))

    @on(OptionList.OptionHighlighted)
    def _on_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        index = self._entity_of(event.option)
        if index is None:
            return
        self._cycle[index] = 0
        self._select(index)

    @on(OptionList.OptionSelected)
    def _on_selected(self, event: OptionList.OptionSelected) -> None:
        """Enter on a repeated form steps to its next occurrence in the text."""
        event.stop()
        first = self._entity_of(event.option)
        if first is None:
            return
        ids = self._occurrences.get(first, [first])
        step = (self._cycle.get(first, 0) + 1) % len(ids)
        self._cycle[first] = step
        self._select(ids[step])


def _fit_cells(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells with "…" (never inside a grapheme's marks)."""
    if cell_len(text) <= width:
        return text
    out = ""
    for char in text:
        if cell_len(out + char) > width - 1:
            break
        out += char
    return out + "…"
