"""``ner-tui web``: the app in a browser, served by textual-serve.

textual-serve runs one *command* per browser tab, in a shell, and relays its terminal over a
websocket; so each tab gets its own ``python -m ner_tui.cli <the app's flags>`` process (its own
backend, history and worker threads), and closing the tab ends it. The app's flags are rebuilt
from the parsed ones and quoted with ``shlex``; an API key travels in the child's environment
(``NER_TUI_API_KEY``), never on a command line other users can read with ``ps``. Settings from
the config file and ``NER_TUI_*`` variables reach the child as they reach ``ner-tui`` itself.

Nothing here guards the page: anyone who can reach the port gets the app, the model and the
machine's CPU. It listens on 127.0.0.1 unless ``--host`` says otherwise, and says so loudly.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import shlex
import socket
import sys
from collections.abc import Sequence
from typing import TextIO

from ner_tui.core.errors import ConfigError
from ner_tui.core.settings import ENV_PREFIX

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
_WILDCARDS = {"", "0.0.0.0", "::", "*"}


def app_command(flags: Sequence[str]) -> str:
    """The shell command that opens the app with ``flags`` (what each browser tab runs)."""
    return shlex.join([sys.executable, "-m", "ner_tui.cli", *flags])


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (``localhost``, 127.0.0.0/8, ::1)."""
    name = host.strip("[]")
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a name: it may well resolve to an outside address


def page_url(host: str, port: int) -> str:
    """The address a browser opens; for a wildcard host, this machine's name."""
    name = socket.gethostname() if host in _WILDCARDS else host.strip("[]")
    if ":" in name:
        name = f"[{name}]"
    return f"http://{name}:{port}"


def exposure_warning(host: str, port: int) -> str:
    """What ``ner-tui web`` prints before listening beyond loopback."""
    where = f"{host or '*'} (every network interface)" if host in _WILDCARDS else host
    return (
        "\n"
        f"  !!! WARNING: ner-tui web is listening on {where}, port {port}: NOT only this machine.\n"
        "  !!! Anyone who can reach this port gets the app with no password: the model, this\n"
        "  !!! machine's CPU, files the app can open and export, and the server settings (its\n"
        "  !!! API key included). Use --host 127.0.0.1 (the default) unless you mean it.\n"
    )


def run_web(
    app_flags: Sequence[str],
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    public_url: str | None = None,
    api_key: str | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Serve the app on ``host:port`` until interrupted (returns the exit code)."""
    try:
        from textual_serve.server import Server
    except ImportError as error:  # pragma: no cover - textual-serve is a dependency
        raise ConfigError(
            "ner-tui web needs textual-serve, which is not installed",
            hint="pip install textual-serve (or reinstall ner-tui: pip install -e .)",
        ) from error
    if not is_loopback(host):
        err.write(exposure_warning(host, port) + "\n")
        err.flush()
    if not 0 < port < 65536:
        raise ConfigError(f"--port {port} is not a TCP port (1-65535)")
    if api_key:
        os.environ[ENV_PREFIX + "API_KEY"] = api_key  # the children inherit it; ps shows nothing
    url = public_url.rstrip("/") if public_url else page_url(host, port)
    server = Server(app_command(app_flags), host=host, port=port, title="ner-tui", public_url=url)
    out.write(f"ner-tui web: open {url} in a browser (ctrl+c stops)\n")
    out.flush()
    try:
        server.serve()
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is in use",
                hint="pick another with --port, or stop what is listening there",
            ) from error
        raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror or error}") from error
    return 0


__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "app_command", "is_loopback", "run_web"]
