"""Export the current prediction to a file (JSON, JSONL, CoNLL, token table, HTML)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
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

    def compose(self) -> ComposeResult:
        with Vertical(id="export-dialog", classes="dialog") as box:
            box.border_title = "Export prediction"
            box.border_subtitle = "enter export · esc cancel"
            with RadioSet(id="export-format"):
                for name, description in FORMATS:
                    yield RadioButton(description, value=name == self.fmt, name=name)
            yield Label("File")
            yield Input(str(self.directory / f"ner-tui-export{SUFFIX[self.fmt]}"), id="export-path")
            with Horizontal(classes="buttons"):
                yield Button("Export", id="export", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        name = event.pressed.name or "json"
        path_input = self.query_one("#export-path", Input)
        old = Path(path_input.value)
        if old.suffix in SUFFIX.values():
            path_input.value = str(old.with_suffix(SUFFIX[name]))
        self.fmt = name

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
        self.dismiss(ExportRequest(Path(value).expanduser(), self.fmt))
