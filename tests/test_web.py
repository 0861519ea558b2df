"""``ner-tui web`` in a real headless browser, and the exported HTML page rendered by it.

The browser is the system's Chromium (Debian's ``chromium`` package; ``.ci/run`` installs it),
driven by Playwright for Python; Playwright's own browser download is never used. Everything
stays on 127.0.0.1: every request the pages make elsewhere (textual-serve's page asks Google for
a font) is aborted, and the exported page is checked to make none at all.

What the page shows is read from the terminal the page draws: textual-serve's xterm.js buffer,
cell by cell, text and colours (xterm paints with WebGL or a canvas, so there is no DOM text). To
reach it the test serves textual-serve's own script with one statement added that keeps the
terminal object in ``window.__nerTerminals``; nothing else about the page changes.

Screenshots (web-app.png, web-export-light.png, web-export-dark.png) land in ``screenshots/``
when ``UPDATE_SCREENSHOTS=1``, else in a temporary folder, so a test run leaves the tree clean.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ner_tui.cli import _app_flags, build_parser
from ner_tui.commands.web import app_command, exposure_warning, is_loopback
from ner_tui.core import colours

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = (
    ROOT / "screenshots"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.mkdtemp(prefix="ner-tui-web-screenshots-"))
)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SENTENCE = "Ada Lovelace met Charles Babbage in London."
NBSP = "\u00a0"  # the app joins a label chip to its entity with no-break spaces
# Start Chromium so that it makes no connection of its own on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The one statement added to textual-serve's script: keep each terminal object reachable.
_TERMINAL_CREATED = re.compile(r"(const (\w)=new \w\(\w,\{ping:\w\}\);)")
READ_SCREEN = """() => {
  const term = window.__nerTerminals[0].terminal;
  const buffer = term.buffer.active;
  const lines = [];
  for (let y = 0; y < term.rows; y++) lines.push(buffer.getLine(y).translateToString(true));
  return lines.join("\\n");
}"""
# Background and foreground (as #rrggbb, or null when not a true colour) of the cell where
# ``needle`` starts on screen, plus ``offset`` cells.
CELL_COLOURS = """([needle, offset]) => {
  const term = window.__nerTerminals[0].terminal;
  const buffer = term.buffer.active;
  const hex = (isRgb, value) => isRgb ? "#" + value.toString(16).padStart(6, "0") : null;
  for (let y = 0; y < term.rows; y++) {
    const line = buffer.getLine(y);
    let text = "";
    const cells = [];
    for (let x = 0; x < term.cols; x++) {
      const cell = line.getCell(x);
      if (cell.getWidth() === 0) continue;
      text += cell.getChars() || " ";
      cells.push(x);
    }
    const at = text.indexOf(needle);
    if (at >= 0) {
      const cell = line.getCell(cells[at + offset]);
      return {bg: hex(cell.isBgRGB(), cell.getBgColor()),
              fg: hex(cell.isFgRGB(), cell.getFgColor())};
    }
  }
  return null;
}"""


# --------------------------------------------------------------------------- the command


def test_web_passes_every_app_flag_and_listens_on_loopback_by_default() -> None:
    args = build_parser().parse_args(
        ["web", "--local", "--model", "my dir", "--strict", "--threshold", "0.5", "--theme", "nord"]
    )
    assert (args.web_host, args.web_port) == ("127.0.0.1", 8080)
    flags = _app_flags(args)
    assert flags == [
        "--model",
        "my dir",
        "--local",
        "--strict",
        "--threshold",
        "0.5",
        "--theme",
        "nord",
    ]
    command = app_command(flags)
    assert command.endswith(
        "-m ner_tui.cli --model 'my dir' --local --strict --threshold 0.5 --theme nord"
    )


def test_web_host_and_port_are_where_it_listens_and_the_api_key_stays_off_the_command() -> None:
    args = build_parser().parse_args(
        [
            "--host",
            "gpu-box",
            "web",
            "--url",
            "http://x:1",
            "--api-key",
            "s3cret",
            "--host",
            "0.0.0.0",
            "--port",
            "9000",
        ]
    )
    assert (args.web_host, args.web_port) == ("0.0.0.0", 9000)
    flags = _app_flags(args)
    assert flags == ["--host", "gpu-box", "--url", "http://x:1"]
    assert "s3cret" not in app_command(flags)


def test_a_hostile_flag_value_stays_one_argument() -> None:
    command = app_command(["--model", "x; touch /tmp/pwned $(id)"])
    assert command.endswith("--model 'x; touch /tmp/pwned $(id)'")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("127.0.1.1", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("gpu-box", False),
    ],
)
def test_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_listening_beyond_loopback_warns_loudly() -> None:
    warning = exposure_warning("0.0.0.0", 8080)
    assert "WARNING" in warning and "every network interface" in warning
    assert "Anyone who can reach this port" in warning
    result = subprocess.run(
        [sys.executable, "-m", "ner_tui.cli", "web", "--local", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "NER_TUI_CONFIG_FILE": "/nonexistent"},
    )
    assert result.returncode == 2, result.stderr  # port 0 is refused before listening
    assert "WARNING" in result.stderr and "0.0.0.0" in result.stderr
    assert "not a TCP port" in result.stderr


# --------------------------------------------------------------------------- the browser


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"ner-tui web exited: {process.stdout.read() if process.stdout else ''}"
            )
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"ner-tui web did not listen on {port} within {timeout}s")


@pytest.fixture
def web_app(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``ner-tui web --local`` on a free port; its working directory is ``tmp_path``."""
    port = _free_port()
    env = {**os.environ, "NER_TUI_CONFIG_FILE": str(tmp_path / "no-config.toml")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    process = subprocess.Popen(
        [sys.executable, "-m", "ner_tui.cli", "web", "--local", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}", tmp_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("no system Chromium: apt-get install chromium")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def _wait_for(page: Any, predicate: Any, timeout: float = 90) -> str:
    """The screen's text once ``predicate(text)`` holds (or an assertion with the screen)."""
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = page.evaluate(READ_SCREEN)
        if predicate(screen):
            return screen
        time.sleep(0.25)
    raise AssertionError(f"timed out; the page shows:\n{screen}")


def test_web_app_in_a_browser_predicts_and_exports_a_page_that_renders(
    web_app: tuple[str, Path], browser: Any
) -> None:
    url, workdir = web_app
    context = browser.new_context(viewport={"width": 1400, "height": 860})
    page = context.new_page()
    outside: list[str] = []

    def route(route: Any) -> None:
        request_url = route.request.url
        if request_url.startswith("file://"):
            route.continue_()
        elif not request_url.startswith(url + "/"):
            outside.append(request_url)
            route.abort()
        elif request_url.endswith("/static/js/textual.js"):
            response = route.fetch()
            script, count = _TERMINAL_CREATED.subn(
                lambda m: (
                    m.group(1)
                    + f"window.__nerTerminals=(window.__nerTerminals||[]).concat({m.group(2)});"
                ),
                response.text(),
            )
            assert count == 1, "textual-serve's script changed: update _TERMINAL_CREATED"
            route.fulfill(response=response, body=script)
        else:
            route.continue_()

    page.route("**/*", route)
    page.goto(url + "/")
    page.wait_for_function("window.__nerTerminals && window.__nerTerminals.length > 0")

    # The app opens on the first sample and predicts it; wait for that before typing.
    _wait_for(page, lambda s: "Entities · " in s and "local engine" in s)
    page.focus(".xterm-helper-textarea")  # keys to the terminal, no click on the app
    page.keyboard.press("F7")  # the input's select-all
    # Keys typed in the same instant as F7's escape sequence can be taken as part of it.
    time.sleep(0.5)
    page.keyboard.type(SENTENCE, delay=5)
    _wait_for(page, lambda s: f"│ {SENTENCE} " in s)
    page.keyboard.press("Control+s")
    screen = _wait_for(page, lambda s: "Entities · 3" in s and f"London{NBSP}LOC" in s)

    # What the page shows: the entities highlighted in the text with their labels, and listed.
    assert f"Ada Lovelace{NBSP}PER" in screen, screen
    assert f"Charles Babbage{NBSP}PER" in screen
    assert f"London{NBSP}LOC" in screen
    assert "Obama" not in screen
    slots = colours.ColourSlots(["PER", "ORG", "LOC", "MISC", "DATE"])  # the model's types
    per, loc = slots.slot("PER"), slots.slot("LOC")
    assert page.evaluate(CELL_COLOURS, [f"Ada Lovelace{NBSP}PER", 0])["bg"] == colours.hue(per)
    assert page.evaluate(CELL_COLOURS, [f"Ada Lovelace{NBSP}PER", 13])["bg"] == colours.chip(per)
    assert page.evaluate(CELL_COLOURS, [f"London{NBSP}LOC", 0])["bg"] == colours.hue(loc)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "web-app.png"))

    # Export it as HTML from the command palette, into the app's working directory.
    page.keyboard.press("Control+p")
    _wait_for(page, lambda s: "🔎" in s)
    page.keyboard.type("Export HTML page", delay=5)
    _wait_for(page, lambda s: "Write the prediction to a file" in s)
    page.keyboard.press("Enter")
    _wait_for(page, lambda s: "Export prediction" in s)
    page.keyboard.press("Tab")  # from the format choice to the file name
    page.keyboard.press("Enter")
    exported = workdir / "ner-tui-export.html"
    _wait_for(page, lambda s: "Exported 3 entities" in s)
    assert exported.exists()

    # The exported page in the same browser: its entities, their colours, light and dark.
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(exported.as_uri())
    assert requests == [exported.as_uri()], "the exported page fetched something"
    marks = page.locator("mark.ent")
    assert marks.all_inner_texts() == ["Ada Lovelace", "Charles Babbage", "London"]
    assert [marks.nth(i).get_attribute("data-label") for i in range(3)] == ["PER", "PER", "LOC"]
    spans = [
        (int(m.get_attribute("data-start")), int(m.get_attribute("data-end"))) for m in marks.all()
    ]
    assert [SENTENCE[a:b] for a, b in spans] == ["Ada Lovelace", "Charles Babbage", "London"]
    style = """([el, pseudo, prop]) => getComputedStyle(el, pseudo)[prop]"""

    def rgb(colour: str) -> str:
        r, g, b = colours.parse_hex(colour)
        return f"rgb({r}, {g}, {b})"

    first = marks.first.element_handle()
    assert page.evaluate(style, [first, None, "backgroundColor"]) == rgb(colours.hue(per))
    assert page.evaluate(style, [first, "::after", "content"]) == '"PER"'
    assert page.evaluate(style, [first, "::after", "backgroundColor"]) == rgb(colours.chip(per))
    london = marks.nth(2).element_handle()
    assert page.evaluate(style, [london, None, "backgroundColor"]) == rgb(colours.hue(loc))
    body = page.locator("body").element_handle()
    light_background = page.evaluate(style, [body, None, "backgroundColor"])
    page.screenshot(path=str(SCREENSHOTS / "web-export-light.png"))
    page.emulate_media(color_scheme="dark")
    dark_background = page.evaluate(style, [body, None, "backgroundColor"])
    assert light_background == "rgb(255, 255, 255)"
    assert dark_background == "rgb(21, 23, 28)"
    # The entity colours are the app's in both schemes.
    assert page.evaluate(style, [first, None, "backgroundColor"]) == rgb(colours.hue(per))
    page.screenshot(path=str(SCREENSHOTS / "web-export-dark.png"))
    context.close()
