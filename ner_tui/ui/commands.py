"""The command palette's ner-tui commands; only those that apply right now are offered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from ner_tui.ui.app import NerTuiApp


@dataclass(frozen=True, slots=True)
class PaletteCommand:
    name: str
    help: str
    callback: Callable[[], object]


class NerCommands(Provider):
    """Asks the app for its current commands (export only with a prediction, and so on)."""

    def _commands(self) -> list[PaletteCommand]:
        app = cast("NerTuiApp", self.app)
        return app.palette_commands()

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(command.name, command.callback, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.name)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(command.name), command.callback, help=command.help
                )
