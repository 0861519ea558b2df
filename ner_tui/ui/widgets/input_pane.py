"""The text input: a multi-line editor that says how to submit."""

from __future__ import annotations

from textual.widgets import TextArea


class InputPane(TextArea):
    """Where text is typed or pasted; the app binds ctrl+s / ctrl+enter to predict."""

    DEFAULT_CSS = """
    InputPane { height: 8; }
    """

    def __init__(self, text: str = "", *, id: str | None = None) -> None:
        super().__init__(
            text,
            id=id,
            soft_wrap=True,
            tab_behavior="focus",
            show_line_numbers=False,
            placeholder="Type or paste text here, then press ctrl+s to find its entities.",
        )
