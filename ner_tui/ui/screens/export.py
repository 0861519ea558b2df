"""Export the current prediction to a file (JSON, JSONL, CoNLL, token table, HTML).

The suggested name is one that does not exist yet (``ner-tui-export-2.json``...), and a file that
exists is only replaced after a second Enter, with the dialog saying so in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet

FORMATS: tuple[tuple[str, str], ...] = (
    ("json", "JSON: one document with tokens and entities"),
    ("jsonl", "JSONL: one line per document"),
    ("conll", "CoNLL: token label per line"),
    ("table", "Token table: token → label, like vLLM's example"),
    ("html", "HTML: the text with highlighted entities, one self-contained page"),
)
SUFFIX = {"json": ".json", "jsonl": ".jsonl", "conll": ".conll", "table": ".tsv", "html": ".html"}


@dataclass(frozen=True)
class ExportRequest:
    path: Path
    fmt: str


class ExportScreen(ModalScreen[ExportRequest | None]):
    BINDINGS = [  # noqa: RUF012
        Binding("escape", "dismiss(None)", "Cancel", id="export.cancel", tooltip="Close."),
    ]

    def __init__(self, fmt: str = "json", directory: Path | None = None) -> None:
        super().__init__()
        self.fmt = fmt if fmt in SUFFIX else "json"
        self.directory = directory or Path.cwd()
        self._confirmed: Path | None = None  # an existing file Enter was pressed on once

    def compose(self) -> ComposeResult:
        with Vertical(id="export-dialog", classes="dialog") as box:
            box.border_title = "Export prediction"
            box.border_subtitle = "enter export · esc cancel"
            with RadioSet(id="export-format"):
                for name, description in FORMATS:
                    yield RadioButton(description, value=name == self.fmt, name=name)
            yield Label("File")
            yield Input(str(free_name(self.directory, SUFFIX[self.fmt])), id="export-path")
            yield Label("", id="export-warning")
            with Horizontal(classes="buttons"):
                yield Button("Export", id="export", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        name = event.pressed.name or "json"
        path_input = self.query_one("#export-path", Input)
        old = Path(path_input.value)
        if old.suffix in SUFFIX.values():
            new = old.with_suffix(SUFFIX[name])
            if old.stem.startswith("ner-tui-export") and new.exists():
                new = free_name(old.parent, SUFFIX[name])
            path_input.value = str(new)
        self.fmt = name

    def on_input_changed(self) -> None:
        self._confirmed = None
        self.query_one("#export-warning", Label).update("")

    def on_input_submitted(self) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "export":
            self._submit()
        else:
            self.dismiss(None)

    def _submit(self) -> None:
        value = self.query_one("#export-path", Input).value.strip()
        if not value:
            self.notify("Give a file name to export to.", severity="warning", markup=False)
            return
        path = Path(value).expanduser()
        if path.exists() and self._confirmed != path:
            self._confirmed = path
            self.query_one("#export-warning", Label).update(
                Content(f"{path.name} exists: press Enter again to replace it, or change the name.")
            )
            return
        self.dismiss(ExportRequest(path, self.fmt))


def free_name(directory: Path, suffix: str) -> Path:
    """``ner-tui-export<suffix>`` in ``directory``, or ``-2``, ``-3``... when taken."""
    path = directory / f"ner-tui-export{suffix}"
    n = 2
    while path.exists():
        path = directory / f"ner-tui-export-{n}{suffix}"
        n += 1
    return path
