"""The ``ner-tui`` command: instant help, real subprocess runs, and one message and exit code
per failure kind against servers on loopback.

Failures a real server produces on purpose (nothing listening, unknown model, wrong key) are
provoked on a real ``ner-tui serve`` process in ``test_cli_serve.py``; the ones no correct
server produces (a malformed body, a 500 on one document, a stall) come from the small
Starlette app below, run by uvicorn in a thread on a loopback port.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ner_tui.cli import main
from ner_tui.core import errors
from ner_tui.core.errors import EXIT_PARTIAL

FIXTURE = Path(__file__).parent / "fixtures" / "tiny-bert-ner"
LABELS = 9
UNK_ID = 1  # the fixture tokenizer's [UNK]: a snowman in the text makes the stub fail
HEAVY = ("transformers", "onnxruntime", "torch", "textual", "numpy", "tokenizers", "httpx")


def _console_script() -> list[str]:
    script = Path(sys.executable).parent / "ner-tui"
    return [str(script)] if script.exists() else [sys.executable, "-m", "ner_tui.cli"]


def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_console_script(), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# --------------------------------------------------------------------------- help


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["predict", "--help"], ["serve", "--help"], ["web", "--help"], ["--version"]],
)
def test_help_imports_nothing_heavy(argv: list[str]) -> None:
    code = (
        "import sys\n"
        "from ner_tui.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "usage: ner-tui" in result.stdout or "ner-tui 0." in result.stdout
    assert result.stdout.strip().endswith("HEAVY="), result.stdout[-300:]


def test_every_error_kind_has_its_own_exit_code() -> None:
    codes = [kind.exit_code for kind in errors.EXIT_KINDS]
    assert len(set(codes)) == len(codes)
    assert errors.EXIT_PARTIAL not in codes
    assert errors.ConfigError("bad").exit_code == 2
    assert errors.AuthenticationFailed("no", status=401).exit_code == 13
    assert errors.ServerError("no", status=500).exit_code == 14
    assert errors.NerTuiError("other").exit_code == 1


# --------------------------------------------------------------------------- subprocess


def test_subprocess_predict_local_engine() -> None:
    result = _run("predict", "--local", "--model", str(FIXTURE), "-o", "entities", "Barack Obama")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["PER", "0-12", result.stdout.split()[2], "Barack", "Obama"]
    assert result.stderr == ""  # no library notices on a clean run


def test_subprocess_unreachable_server_message_and_code() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connection refused
        result = _run("predict", "--host", "127.0.0.1", "--port", str(port), "Obama")
        with_dir = _run(
            "predict", "--host", "127.0.0.1", "--port", str(port), "--model", str(FIXTURE), "Obama"
        )
    assert result.returncode == 10
    assert f"127.0.0.1:{port}" in result.stderr
    assert "hint: " in result.stderr and "`ner-tui predict --local`" in result.stderr
    assert "Traceback" not in result.stderr
    # --model names a directory here: the hint gives the commands that run it without a server.
    assert with_dir.returncode == 10
    assert f"`ner-tui predict --local --model {FIXTURE}`" in with_dir.stderr
    assert f"`ner-tui serve --model {FIXTURE}`" in with_dir.stderr


def test_subprocess_bad_config_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("port = 'x'\n", encoding="utf-8")
    result = subprocess.run(
        [*_console_script(), "predict", "hi"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**_env(), "NER_TUI_CONFIG_FILE": str(config)},
    )
    assert result.returncode == 2
    assert result.stderr.splitlines()[0].endswith(
        f"config file {config}: `port` must be int, not 'x'"
    )


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


# --------------------------------------------------------------------------- stub server


@dataclass
class Stub:
    """A loopback server whose /pooling misbehaves on demand."""

    url: str
    behaviour: dict[str, object] = field(default_factory=dict)
    requests: list[object] = field(default_factory=list)


def _stub_app(stub: Stub):
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    def _answer(body: dict[str, Any]) -> bytes:
        ids = body["input"]
        data = [
            {"index": 0, "object": "pooling", "data": [[0.92] + [0.01] * (LABELS - 1)] * len(ids)}
        ]
        usage = {"prompt_tokens": len(ids), "total_tokens": len(ids), "completion_tokens": 0}
        doc = {"id": "pool-1", "object": "list", "model": "tiny", "data": data, "usage": usage}
        return json.dumps(doc).encode()

    async def models(request: Request) -> Response:
        if stub.behaviour.get("mode") == "no-models":
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        card = {"id": "tiny", "object": "model", "root": str(FIXTURE), "max_model_len": 128}
        card.update(stub.behaviour.get("card", {}))  # type: ignore[call-overload]
        return JSONResponse({"object": "list", "data": [card]})

    async def pooling(request: Request) -> Response:
        body = await request.json()
        stub.requests.append(body)
        mode = stub.behaviour.get("mode", "ok")
        if mode == "stall":
            await asyncio.sleep(5)
        if mode == "drip":  # a valid answer, a few bytes every 0.1 s: each read is quick

            async def drip() -> AsyncIterator[bytes]:
                for i in range(0, len(answer := _answer(body)), 4):
                    yield answer[i : i + 4]
                    await asyncio.sleep(0.1)

            return StreamingResponse(drip(), media_type="application/json")
        if mode == "malformed":
            return JSONResponse({"object": "list", "nothing": "here"})
        prompts = body["input"]
        if prompts and isinstance(prompts[0], int):
            prompts = [prompts]
        if any(UNK_ID in p for p in prompts):
            error = {"message": "boom on this one", "type": "InternalServerError", "code": 500}
            return JSONResponse({"error": error}, status_code=500)
        short = 1 if mode == "short" else 0
        row = [0.92] + [0.01] * (LABELS - 1)
        data = [
            {"index": i, "object": "pooling", "data": [row] * (len(p) - short)}
            for i, p in enumerate(prompts)
        ]
        total = sum(len(p) for p in prompts)
        usage = {"prompt_tokens": total, "total_tokens": total, "completion_tokens": 0}
        return JSONResponse(
            {"id": "pool-1", "object": "list", "model": "tiny", "data": data, "usage": usage}
        )

    return Starlette(
        routes=[Route("/v1/models", models), Route("/pooling", pooling, methods=["POST"])]
    )


@pytest.fixture(scope="module")
def stub() -> Iterator[Stub]:
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server_stub = Stub(url=f"http://127.0.0.1:{port}")
    config = uvicorn.Config(_stub_app(server_stub), log_level="error", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    started = threading.Event()
    while not started.wait(0.01):  # uvicorn has no startup callback; poll its flag
        if server.started or not thread.is_alive():
            started.set()
    assert server.started, "stub server did not start"
    yield server_stub
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def fresh(stub: Stub) -> Stub:
    stub.behaviour.clear()
    stub.requests.clear()
    return stub


def test_discovers_model_and_tokenizer_from_the_server(fresh: Stub, capsys) -> None:
    assert main(["predict", "--url", fresh.url, "-o", "json", "Obama"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["model"] == "tiny"
    assert [t["label"] for t in document["tokens"]] == ["O"]
    assert fresh.requests[0]["model"] == "tiny"  # discovered, then sent


def test_timeout_is_a_deadline_for_the_whole_answer(fresh: Stub, capsys) -> None:
    """A server dripping a valid answer never makes one read wait long; --timeout still ends
    the wait for the answer."""
    import time

    fresh.behaviour["mode"] = "drip"
    started = time.monotonic()
    assert main(["predict", "--url", fresh.url, "--timeout", "1", "Obama"]) == 11
    assert time.monotonic() - started < 10
    assert "no complete answer within 1 s" in capsys.readouterr().err


def test_interrupted_json_output_is_still_valid_json(fresh: Stub, tmp_path: Path) -> None:
    import signal
    import time

    stub = fresh
    stub.behaviour["mode"] = "stall"
    try:
        path = tmp_path / "docs.txt"
        path.write_text("Obama\nMerkel\n")
        process = subprocess.Popen(
            [*_console_script(), "predict", "--url", stub.url, "-f", str(path), "-o", "json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not stub.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        stub.behaviour.clear()
        stub.requests.clear()
    assert process.returncode == 130, err
    assert json.loads(out) == []  # the array is closed: what was written is valid JSON


def test_unknown_model(fresh: Stub, capsys) -> None:
    assert main(["predict", "--url", fresh.url, "--model", "nope", "Obama"]) == 12
    err = capsys.readouterr().err
    assert "`nope`" in err and "tiny" in err
    assert fresh.requests == []


def test_malformed_response(fresh: Stub, capsys) -> None:
    fresh.behaviour["mode"] = "malformed"
    assert main(["predict", "--url", fresh.url, "Obama"]) == 15
    err = capsys.readouterr().err
    assert "data" in err and "hint:" in err


def test_row_mismatch(fresh: Stub, capsys) -> None:
    fresh.behaviour["mode"] = "short"
    assert main(["predict", "--url", fresh.url, "Obama"]) == 16
    assert "hint:" in capsys.readouterr().err


def test_timeout(fresh: Stub, capsys) -> None:
    fresh.behaviour["mode"] = "stall"
    assert main(["predict", "--url", fresh.url, "--timeout", "0.3", "Obama"]) == 11
    assert "--timeout" in capsys.readouterr().err


def test_a_failing_document_does_not_lose_the_others(fresh: Stub, tmp_path: Path, capsys) -> None:
    path = tmp_path / "docs.txt"
    path.write_text("Obama\nsnow \u2603 man\nMerkel\n", encoding="utf-8")
    assert main(["predict", "--url", fresh.url, "-f", str(path), "-o", "jsonl"]) == EXIT_PARTIAL
    out, err = capsys.readouterr()
    assert [json.loads(line)["text"] for line in out.splitlines()] == ["Obama", "Merkel"]
    assert "line 2: " in err and "boom on this one" in err
    assert "1 of 3 documents failed" in err


def test_every_document_failing_the_same_way_exits_with_that_kind(
    fresh: Stub, tmp_path: Path, capsys
) -> None:
    path = tmp_path / "docs.txt"
    path.write_text("\u2603 one\n\u2603 two\n", encoding="utf-8")
    assert main(["predict", "--url", fresh.url, "-f", str(path)]) == 14
    err = capsys.readouterr().err
    assert "line 1: " in err and "line 2: " in err
    assert err.count("hint:") == 1  # the same advice is given once


def test_hub_model_without_hub_or_cache_says_pass_tokenizer(fresh: Stub, capsys) -> None:
    fresh.behaviour["card"] = {"id": "boltuix/NeuroBERT-NER", "root": "/srv/models/ner"}
    assert main(["predict", "--url", fresh.url, "Obama"]) == 18
    err = capsys.readouterr().err
    assert "boltuix/NeuroBERT-NER" in err and "/srv/models/ner" in err
    assert "--tokenizer DIR" in err
    assert fresh.requests == []  # nothing was sent with a tokenizer that is not there


def test_hub_model_with_tokenizer_flag(fresh: Stub, capsys) -> None:
    fresh.behaviour["card"] = {"id": "boltuix/NeuroBERT-NER", "root": "/srv/models/ner"}
    assert main(["predict", "--url", fresh.url, "--tokenizer", str(FIXTURE), "Obama"]) == 0
    assert capsys.readouterr().out.split()[:2] == ["Obama", "→"]
    assert fresh.requests[0]["model"] == "boltuix/NeuroBERT-NER"


def test_hub_model_found_in_the_local_cache(tmp_path: Path) -> None:
    import shutil

    from ner_tui.core.hub import cached_snapshot

    repo = tmp_path / "models--org--tiny"
    snapshot = repo / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    assert cached_snapshot("org/tiny", cache_dir=tmp_path) is None  # files missing
    for name in ("config.json", "tokenizer.json"):
        shutil.copy(FIXTURE / name, snapshot / name)
    assert cached_snapshot("org/tiny", cache_dir=tmp_path) == snapshot
    assert cached_snapshot("not a repo id!", cache_dir=tmp_path) is None


def test_no_command_opens_the_app_with_merged_settings(monkeypatch, tmp_path: Path) -> None:
    import ner_tui.ui.app

    config = tmp_path / "config.toml"
    config.write_text('theme = "nord"\ntimeout = 9\n[keymap]\nsubmit = "ctrl+s"\n')
    monkeypatch.setenv("NER_TUI_CONFIG_FILE", str(config))
    monkeypatch.setenv("NER_TUI_TIMEOUT", "12")
    seen = []
    monkeypatch.setattr(ner_tui.ui.app, "run_app", lambda settings: seen.append(settings) or 0)
    assert main(["--url", "http://gpu-box:9000", "--aggregation", "max"]) == 0
    (settings,) = seen
    assert settings.base_url == "http://gpu-box:9000"
    assert settings.aggregation == "max"
    assert settings.timeout == 12.0  # env beats the file
    assert settings.theme == "nord"
    assert settings.keymap == {"submit": "ctrl+s"}


def test_server_without_model_list_needs_model(fresh: Stub, capsys) -> None:
    fresh.behaviour["mode"] = "no-models"
    assert main(["predict", "--url", fresh.url, "Obama"]) == 14
    assert "pass --model NAME" in capsys.readouterr().err
    argv = ["predict", "--url", fresh.url, "--model", "tiny", "--tokenizer", str(FIXTURE), "Obama"]
    assert main(argv) == 0
    assert capsys.readouterr().out.split()[:2] == ["Obama", "→"]
    assert fresh.requests[-1]["model"] == "tiny"


def test_server_path_that_is_not_here_says_pass_tokenizer(fresh: Stub, capsys) -> None:
    fresh.behaviour["card"] = {"id": "/srv/models/ner", "root": "/srv/models/ner"}
    assert main(["predict", "--url", fresh.url, "Obama"]) == 18
    err = capsys.readouterr().err
    assert "`/srv/models/ner` is not a directory on this machine" in err
    assert "--tokenizer DIR" in err


def test_looks_like_hub_id() -> None:
    from ner_tui.core.hub import looks_like_hub_id

    assert looks_like_hub_id("boltuix/NeuroBERT-NER")
    assert not looks_like_hub_id("/srv/models/ner")
    assert not looks_like_hub_id("./model")
    assert not looks_like_hub_id(str(FIXTURE))
