"""The decoding options in one line, each with the key that changes it."""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.content import Content
from textual.style import Style
from textual.widgets import Static

from ner_tui.core.types import DecodeOptions


@dataclass(frozen=True, slots=True)
class ViewOptions:
    """What the options bar shows: decoding options plus display switches."""

    decode: DecodeOptions = field(default_factory=DecodeOptions)
    show_labels: bool = True
    live: bool = False
    hidden_types: frozenset[str] = frozenset()  # entity types left out of the view (f10)


class OptionsBar(Static):
    DEFAULT_CSS = """
    OptionsBar { height: 1; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.options = ViewOptions()

    def on_resize(self) -> None:
        self.show(self.options)

    def show(self, options: ViewOptions) -> None:
        self.options = options
        width = self.size.width if self.is_attached else 0
        compact = 0 < width < 100
        tiny = 0 < width < 68  # 60-column terminals: values and keys only
        key = Style(dim=True)
        value = Style(bold=True)
        sep = ("  " if tiny else " · " if compact else "  ·  ", Style(dim=True))
        d = options.decode
        names = (
            ("", "", "≥", "lbl ", "live ")
            if tiny
            else ("agg ", "decoder ", "thr ", "labels ", "live ")
            if compact
            else ("aggregation ", "decoder ", "threshold ", "labels ", "live ")
        )
        self.update(
            Content.assemble(
                names[0],
                (d.aggregation, value),
                (" f2", key),
                sep,
                names[1],
                (d.mode, value),
                (" f3", key),
                sep,
                names[2],
                (f"{d.threshold:.2f}", value),
                (" f4" if compact else " f4/⇧f4", key),
                sep,
                names[3],
                ("on" if options.show_labels else "off", value),
                (" f5", key),
                sep,
                names[4],
                ("on" if options.live else "off", value),
                (" f9", key),
                *(
                    [sep, ("hidden ", Style()), (" ".join(sorted(options.hidden_types)), value)]
                    if options.hidden_types
                    else []
                ),
            )
        )
