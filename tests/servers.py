"""Start real servers for tests: ``ner-tui serve`` processes on free loopback ports."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest

SERVER_MODULE = (sys.executable, "-m", "ner_tui.server")  # python -m ner_tui.server ...
SERVE_COMMAND = (sys.executable, "-m", "ner_tui.cli", "serve")  # the same via `ner-tui serve`


def free_port() -> int:
    """A loopback port nothing listens on (bound and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class ServeProcess:
    url: str
    port: int
    process: subprocess.Popen[str]


@contextmanager
def serve_process(
    *flags: str,
    command: Sequence[str] = SERVER_MODULE,
    env: dict[str, str] | None = None,
    startup_timeout: float = 60.0,
) -> Iterator[ServeProcess]:
    """Run ``COMMAND --port N --log-level warning FLAGS...`` until the block ends.

    Waits for ``/health`` to answer 200 (polling the real readiness signal); fails the test
    with the server's output if it exits or never becomes healthy; terminates it afterwards.
    """
    port = free_port()
    process = subprocess.Popen(
        [*command, "--port", str(port), "--log-level", "warning", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else ""
                pytest.fail(f"server exited with {process.returncode}:\n{output}")
            try:
                if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server did not answer /health within {startup_timeout:.0f} s")
            time.sleep(0.05)
        yield ServeProcess(url=url, port=port, process=process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
