"""Pick a file: a text to load into the input, or a corpus to score."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Input


class OpenFileScreen(ModalScreen[Path | None]):
    BINDINGS = [  # noqa: RUF012
        Binding("escape", "dismiss(None)", "Cancel", id="open.cancel", tooltip="Close."),
    ]

    def __init__(self, directory: Path | None = None, *, title: str = "Load a text file") -> None:
        super().__init__()
        self.directory = directory or Path.cwd()
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="open-dialog", classes="dialog") as box:
            box.border_title = self.title_text
            box.border_subtitle = "type a path + enter, or pick one · esc cancel"
            yield Input(placeholder="path/to/file.txt", id="open-path")
            yield DirectoryTree(self.directory, id="open-tree")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(Path(event.value.strip()).expanduser())

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        self.dismiss(event.path)
