"""The one-line status: where scores come from, which model, round trip, tokens, chunks."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace

from textual.color import Color
from textual.content import Content
from textual.style import Style
from textual.widgets import Static


def short_model(model: str) -> str:
    """A served name as is (``boltuix/NeuroBERT-NER``); a local path by its last part."""
    if model.startswith(("/", "~", ".")) or model.count("/") > 1:
        return model.rstrip("/").rsplit("/", 1)[-1]
    return model


def format_ms(ms: float) -> str:
    return f"{ms:,.0f} ms" if ms >= 10 else f"{ms:.1f} ms"


@dataclass(frozen=True, slots=True)
class StatusInfo:
    """Everything the status line shows; ``None`` fields are left out."""

    state: str = "idle"  # idle | connecting | ready | busy | error
    source: str = ""
    model: str = ""
    elapsed_ms: float | None = None
    tokens: int | None = None
    entities: int | None = None
    chunks: int = 1
    max_model_len: int | None = None
    note: str = ""


_DOTS = {
    "idle": ("○", "dim"),
    "connecting": ("◌", "warning"),
    "ready": ("●", "success"),
    "busy": ("◉", "accent"),
    "error": ("●", "error"),
}


def _theme_bold(theme: dict[str, str], name: str, default: Style) -> Style:
    """Bold in the theme's colour ``name``; ``default`` when the theme lacks a usable one."""
    if name in theme:
        with contextlib.suppress(Exception):
            return Style(foreground=Color.parse(theme[name]), bold=True)
    return default


class StatusLine(Static):
    """Renders a :class:`StatusInfo`; ``format_elapsed`` is injectable so snapshots are stable."""

    DEFAULT_CSS = """
    StatusLine { height: 1; padding: 0 1; background: $panel; color: $text; }
    """

    def __init__(
        self, *, format_elapsed: Callable[[float], str] = format_ms, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.format_elapsed = format_elapsed
        self.info = StatusInfo()

    def show(self, info: StatusInfo) -> None:
        self.info = info
        self.update(self._content(info))

    def _content(self, info: StatusInfo) -> Content:
        width = self.size.width - 2 if self.is_attached and self.size.width else 10_000
        # Too long: leave out the entity count (the sidebar title has it), then the source's
        # details ("local engine · ONNX Runtime · model.onnx" -> "local engine · ONNX Runtime").
        short = replace(info, source=" · ".join(info.source.split(" · ")[:2]))
        for candidate, entities in ((info, True), (info, False), (short, False)):
            content = self._build(candidate, with_entities=entities)
            if content.cell_length <= width:
                break
        return content

    def on_resize(self) -> None:
        self.update(self._content(self.info))

    def _build(self, info: StatusInfo, *, with_entities: bool) -> Content:
        glyph, colour = _DOTS.get(info.state, ("○", "dim"))
        theme = self.app.theme_variables if self.is_attached else {}
        dot_style = _theme_bold(theme, colour, Style(dim=True))
        sep = (" │ ", Style(dim=True))
        parts: list[Content | str | tuple[str, Style]] = [(glyph + " ", dot_style)]
        parts.append(info.source or "not connected")
        if info.model:
            parts += [sep, (short_model(info.model), Style(bold=True))]
        if info.elapsed_ms is not None:
            parts += [sep, self.format_elapsed(info.elapsed_ms)]
        if info.tokens is not None:
            parts += [sep, f"{info.tokens:,} tokens"]
        if info.chunks > 1:
            window = f" of {info.max_model_len}" if info.max_model_len else ""
            warn = _theme_bold(theme, "warning", Style(bold=True))
            parts += [sep, (f"split into {info.chunks} windows{window}", warn)]
        if info.entities is not None and with_entities:
            parts += [sep, f"{info.entities:,} entities"]
        if info.note:
            parts += [sep, (info.note, Style(italic=True))]
        return Content.assemble(*parts)
