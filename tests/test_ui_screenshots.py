"""SVG screenshots of the view: saved in the downloads folder (created), else the current one,
and named in full, as plain text, in a notification."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ner_tui.core.settings import Settings
from ner_tui.ui.app import NerTuiApp

FIXTURES = Path(__file__).parent / "fixtures"


def _app() -> tuple[NerTuiApp, list[tuple[str, dict[str, Any]]]]:
    app = NerTuiApp(Settings(local=True, model=str(FIXTURES / "tiny-bert-ner")), initial_text="")
    told: list[tuple[str, dict[str, Any]]] = []
    original = app.notify

    def notify(message: str, **kwargs: Any) -> None:
        told.append((message, kwargs))
        original(message, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    return app, told


async def _screenshot(app: NerTuiApp, told: list[tuple[str, dict[str, Any]]]) -> str:
    async with app.run_test(size=(100, 30)) as pilot:
        await app.workers.wait_for_complete()
        app.action_screenshot()  # what Textual's "Screenshot" command runs, after a timer
        for _ in range(200):
            await pilot.pause(0.02)
            shots = [(m, k) for m, k in told if k.get("title") == "Screenshot"]
            if shots:
                message, kwargs = shots[0]
                assert kwargs.get("markup") is False
                return message
    raise AssertionError(f"no screenshot notification: {told}")


@pytest.mark.parametrize("folder", ["Downloads", "shots [bold]x[/bold]/new"])
async def test_screenshot_goes_to_the_downloads_folder_created_and_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str
) -> None:
    downloads = tmp_path / folder
    monkeypatch.setenv("XDG_DOWNLOAD_DIR", str(downloads))
    app, told = _app()
    message = await _screenshot(app, told)
    saved = list(downloads.glob("*.svg"))
    assert len(saved) == 1, message
    assert message == f"Saved the view as {saved[0]}"
    assert saved[0].read_text(encoding="utf-8").startswith("<svg")


async def test_screenshot_falls_back_to_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the downloads folder should be")
    monkeypatch.setenv("XDG_DOWNLOAD_DIR", str(blocked / "Downloads"))
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    app, told = _app()
    message = await _screenshot(app, told)
    saved = list(here.glob("*.svg"))
    assert len(saved) == 1 and message == f"Saved the view as {saved[0]}"
