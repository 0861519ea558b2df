"""Entities grouped by type with counts and scores; highlighting one posts EntitySelected."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from textual import on
from textual.content import Content
from textual.message import Message
from textual.style import Style
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ner_tui.core.types import Entity, Prediction
from ner_tui.ui.palette import EntityPalette
from ner_tui.ui.visible import visible_text

MAX_PER_TYPE = 300  # an OptionList entry per entity; beyond this the export has them all
_NAME_WIDTH = 22


class EntitySidebar(OptionList):
    """Entity types as headings, each entity under its type (best score first within a type)."""

    DEFAULT_CSS = """
    EntitySidebar { background: $surface; border: none; padding: 0 0; }
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

    @property
    def hidden_counts(self) -> dict[str, int]:
        """Entities per type left out of the list because of :data:`MAX_PER_TYPE`."""
        return dict(self._hidden)

    def set_prediction(self, prediction: Prediction | None, palette: EntityPalette) -> None:
        self._prediction = prediction
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
            ranked = sorted(members, key=lambda i: -prediction.entities[i].score)
            for i in ranked[:MAX_PER_TYPE]:
                entity = prediction.entities[i]
                name = visible_text(entity.text)
                if len(name) > _NAME_WIDTH:
                    name = name[: _NAME_WIDTH - 1] + "…"
                score_style = Style(dim=True) if entity.score >= 0.5 else Style(bold=True)
                line = Content.assemble(
                    ("  ▌", colour.label_style),
                    name.ljust(_NAME_WIDTH),
                    (f" {entity.score:.2f}", score_style),
                )
                options.append(Option(line, id=f"entity-{i}"))
            if len(members) > MAX_PER_TYPE:
                self._hidden[label] = len(members) - MAX_PER_TYPE
                more = f"  … {len(members) - MAX_PER_TYPE} more (export has all)"
                options.append(Option(Content.styled(more, Style(dim=True)), disabled=True))
        self.add_options(options)

    def select_entity(self, index: int) -> None:
        """Move the highlight to an entity (posts :class:`EntitySelected`)."""
        try:
            self.highlighted = self.get_option_index(f"entity-{index}")
        except Exception:
            return

    @on(OptionList.OptionHighlighted)
    def _on_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        option_id = event.option.id or ""
        if self._prediction is None or not option_id.startswith("entity-"):
            return
        index = int(option_id.removeprefix("entity-"))
        self.post_message(self.EntitySelected(self, index, self._prediction.entities[index]))
