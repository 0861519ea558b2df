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


class OptionsBar(Static):
    DEFAULT_CSS = """
    OptionsBar { height: 1; padding: 0 1; color: $text-muted; }
    """

    def show(self, options: ViewOptions) -> None:
        key = Style(dim=True)
        value = Style(bold=True)
        sep = ("  ·  ", Style(dim=True))
        d = options.decode
        self.update(
            Content.assemble(
                "aggregation ",
                (d.aggregation, value),
                (" f2", key),
                sep,
                "decoder ",
                (d.mode, value),
                (" f3", key),
                sep,
                "threshold ",
                (f"{d.threshold:.2f}", value),
                (" f4/⇧f4", key),
                sep,
                "labels ",
                ("shown" if options.show_labels else "hidden", value),
                (" f5", key),
                sep,
                "live ",
                ("on" if options.live else "off", value),
                (" f9", key),
            )
        )
