"""A copyable error dialog for diagnostic errors (bad response shape, token/row mismatch)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.style import Style
from textual.widgets import Button, Static, TextArea

from ner_tui.core.errors import NerTuiError
from ner_tui.ui.clipboard import copy_text


def error_report(error: BaseException) -> str:
    """The plain-text details a person would paste into a bug report."""
    kind = type(error).__name__
    lines = [f"{kind}: {error}"]
    hint = getattr(error, "hint", "")
    if hint:
        lines.append(f"hint: {hint}")
    status = getattr(error, "status", None)
    if status is not None:
        lines.append(f"HTTP status: {status}")
    cause = error.__cause__
    if cause is not None:
        lines.append(f"caused by {type(cause).__name__}: {cause}")
    return "\n".join(lines)


class ErrorScreen(ModalScreen[None]):
    """Shows an error's message, hint and details; ctrl+c / the button copies the details."""

    BINDINGS = [  # noqa: RUF012
        Binding("escape", "dismiss", "Close", id="error.close", tooltip="Close this dialog."),
        Binding(
            "ctrl+c",
            "copy",
            "Copy details",
            id="error.copy",
            tooltip="Copy the error details to the clipboard (OSC 52 and a system tool).",
            priority=True,
        ),
    ]

    def __init__(self, title: str, error: BaseException) -> None:
        super().__init__()
        self.error_title = title
        self.error = error
        self.details = error_report(error)

    def compose(self) -> ComposeResult:
        hint = error.hint if isinstance(error := self.error, NerTuiError) else ""
        with Vertical(id="error-dialog", classes="dialog") as box:
            box.border_title = self.error_title
            box.border_subtitle = "esc close · ctrl+c copy"
            yield Static(Content(str(self.error) or type(self.error).__name__), id="error-message")
            if hint:
                yield Static(Content.styled(hint, Style(italic=True)), id="error-hint")
            yield TextArea(self.details, read_only=True, id="error-details", soft_wrap=True)
            with Horizontal(classes="buttons"):
                yield Button("Copy details", id="copy", variant="primary")
                yield Button("Close", id="close")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "copy":
            self.action_copy()
        else:
            self.dismiss(None)

    def action_copy(self) -> None:
        self.run_worker(self._copy(), group="copy", exclusive=True)

    async def _copy(self) -> None:
        """OSC 52 plus a system clipboard tool if there is one (a tool runs off the event loop),
        as ctrl+t does for entities: OSC 52 alone is silently dropped by many terminals."""
        how = await copy_text(
            self.app, self.details, fallback="select the details with shift+drag and copy them"
        )
        self.notify(f"Error details {how}", markup=False, timeout=5)
