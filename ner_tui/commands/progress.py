"""The progress bar of the headless commands: count, rate, time left and failures, on stderr."""

from __future__ import annotations

from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class _Rate(ProgressColumn):
    """Documents per second, once there is a rate to show."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.1f} docs/s" if speed else "", style="progress.data.speed")


def progress_bar(err: IO[str]) -> Progress:
    """A bar on ``err`` with count, rate, time left and failures, redrawn ten times a second."""
    return Progress(
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[failures]}", markup=False),
        console=Console(file=err, highlight=False),
        refresh_per_second=10,
    )
