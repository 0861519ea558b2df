"""SVG screenshots of the current view, saved where a person finds them and named when saved.

Textual's own screenshot (``ctrl+p`` → "Screenshot", or the app's "Save screenshot (SVG)"
command) writes to the downloads folder without checking it exists, and names the file in a
notification built as markup, so a ``[`` in a path is taken for a style. Here the folder is the
user's downloads folder (platformdirs, as Textual), created when missing, else the current
directory; the notification names the full path as plain text. In a browser (``ner-tui web``)
Textual hands the SVG to the browser instead, and the browser saves it as a download.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events

if TYPE_CHECKING:
    from textual.app import App

    _Base = App[int]
else:
    _Base = object


def screenshot_directory() -> Path:
    """The downloads folder (created if missing) when it is writable, else the current one."""
    from platformdirs import user_downloads_path

    try:
        folder = user_downloads_path()
        folder.mkdir(parents=True, exist_ok=True)
        if os.access(folder, os.W_OK):
            return folder
    except OSError:
        pass
    return Path.cwd()


class ScreenshotsMixin(_Base):
    """Mixed into the App before ``App``: where screenshots go and how their saving is told."""

    def deliver_screenshot(
        self,
        filename: str | None = None,
        path: str | None = None,
        time_format: str | None = None,
    ) -> str | None:
        folder = path if path is not None else str(screenshot_directory())
        return super().deliver_screenshot(filename, folder, time_format)

    def _on_delivery_complete(self, event: events.DeliveryComplete) -> None:
        if event.name != "screenshot":
            return
        event.prevent_default()  # Textual's own notice builds markup from the path
        if event.path is None:  # in a browser: the browser saves it
            self.notify("Screenshot sent to the browser.", title="Screenshot", markup=False)
        else:
            self.notify(
                f"Saved the view as {event.path}", title="Screenshot", markup=False, timeout=8
            )

    def _on_delivery_failed(self, event: events.DeliveryFailed) -> None:  # type: ignore[override]
        if event.name != "screenshot":
            return
        event.prevent_default()
        self.notify(
            f"Could not save the screenshot: {event.exception}",
            title="Screenshot",
            severity="error",
            markup=False,
        )


__all__ = ["ScreenshotsMixin", "screenshot_directory"]
