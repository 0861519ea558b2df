"""Past inputs: bounded, newest first, a re-submitted text moves to the top."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    text: str
    model: str
    entities: int
    tokens: int
    when: float  # time.time()

    @property
    def title(self) -> str:
        """The first line of the text, for a list."""
        first = self.text.strip().split("\n", 1)[0]
        return first or "(blank)"


class History:
    """At most ``limit`` entries; the same text twice keeps only the newest."""

    def __init__(self, limit: int = 50) -> None:
        self.limit = max(1, limit)
        self._entries: deque[HistoryEntry] = deque()

    def add(self, text: str, *, model: str = "", entities: int = 0, tokens: int = 0) -> None:
        self._entries = deque(e for e in self._entries if e.text != text)
        self._entries.appendleft(HistoryEntry(text, model, entities, tokens, time.time()))
        while len(self._entries) > self.limit:
            self._entries.pop()

    def restore(self, entries: list[HistoryEntry]) -> None:
        """Put back saved entries (newest first), as many as the limit allows."""
        self._entries = deque(entries[: self.limit])

    def remove(self, index: int) -> None:
        del self._entries[index]

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[HistoryEntry]:
        return iter(self._entries)

    def __getitem__(self, index: int) -> HistoryEntry:
        return self._entries[index]
