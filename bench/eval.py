"""``ner-tui eval`` at corpus scale: throughput through real backends, and memory that does not
grow with the corpus.

Two measurements, each against a baseline run in the same process (these machines are noisy):

1. **Throughput** over a CoNLL corpus of ``--sentences`` sentences (the hand-labelled news
   fixture's sentences, varied so no two are alike): ``ner-tui eval`` through the local engine
   and through a real ``ner-tui serve`` on loopback, next to ``ner-tui predict`` over the same
   texts on the same backend (the model's share of the work: what eval adds is reading the gold
   and scoring).
2. **Peak RSS** of an ``ner-tui eval -o json`` process over ``--big`` sentences and over
   ``--small`` sentences, against a real ``ner-tui serve`` on loopback with the bundled model
   (``--server real``, the default; the server's own peak RSS is printed after each run), or a
   loopback server that answers every ``/pooling`` call at once with fixed rows (``--server
   instant``: the client's work only: reading, tokenizing, decoding, scoring, spooling errors;
   ~110 sentences/s on 2 shared cores, so 100,000 take ~15 min), and
   with ``--predictions`` (no model: reading both files, scoring, and an error or two in every
   sentence spooled and written to the report). The goal is the same peak for both sizes:
   memory bounded by the documents in flight, not by the file.

    .venv/bin/python bench/eval.py [--sentences 10000] [--small 1000] [--big 100000]
        [--skip throughput] [--server real|instant|none]

The scoring step alone against seqeval + nervaluate is ``bench/eval_scoring.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

FIXTURE = ROOT / "tests" / "fixtures" / "eval" / "news.conll"
NAMES = ["Smith", "Jones", "Garcia", "Nguyen", "Okafor", "Schmidt", "Rossi", "Tanaka"]


def _sentences(path: Path = FIXTURE) -> list[list[tuple[str, str]]]:
    """The ``(token, tag)`` sentences of a CoNLL file."""
    out: list[list[tuple[str, str]]] = [[]]
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("-DOCSTART-"):
            if out[-1]:
                out.append([])
            continue
        token, *_, tag = line.split()
        out[-1].append((token, tag))
    return [s for s in out if s]


def write_corpus(path: Path, n: int, *, wrong: bool = False) -> None:
    """``n`` CoNLL sentences: the fixture's, each with a varying person appended (``wrong``:
    that person tagged as an organisation and its last name missed, so a predictions file
    with an error or two in every sentence)."""
    base = _sentences()
    first, rest = ("B-ORG", "O") if wrong else ("B-PER", "I-PER")
    with path.open("w") as out:
        for i in range(n):
            sentence = list(base[i % len(base)])
            sentence[-1:-1] = [
                ("says", "O"),
                ("Dr", "O"),
                (NAMES[i % len(NAMES)], first),
                (NAMES[(i // len(NAMES)) % len(NAMES)] + str(i % 97), rest),
            ]
            out.write("\n".join(f"{t} _ _ {g}" for t, g in sentence) + "\n\n")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_of(argv: list[str]) -> tuple[float, int]:
    """Seconds and peak RSS (kB) of one process, measured by its own wait4."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "ner_tui.cli", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stderr is not None
    err = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 3):
        raise SystemExit(f"ner-tui {' '.join(argv[:2])} failed ({code}): {err[-500:]!r}")
    return time.perf_counter() - started, int(usage.ru_maxrss)


def throughput(sentences: int, work: Path) -> None:
    from servers import serve_process

    corpus = work / "corpus.conll"
    write_corpus(corpus, sentences)
    texts = work / "texts.txt"
    texts.write_text("\n".join(" ".join(t for t, _ in s) for s in _sentences(corpus)) + "\n")
    print(f"1. {sentences:,} sentences, bundled model, aggregation first; seconds (sentences/s)")
    print(f"{'backend':>22} {'predict':>16} {'eval':>16} {'eval / predict':>15}")
    rows = [("local engine", ["--local"])]
    with serve_process() as server:
        rows.append(("ner-tui serve loopback", ["--url", server.url]))
        for name, flags in rows:
            common = [*flags, "--aggregation", "first", "--concurrency", "16", "--no-progress"]
            p_s, _ = _rss_of(["predict", "-f", str(texts), "-o", "jsonl", *common])
            e_s, _ = _rss_of(["eval", str(corpus), "-o", "json", *common])
            print(
                f"{name:>22} {p_s:>7.1f} ({sentences / p_s:>6.0f}) "
                f"{e_s:>7.1f} ({sentences / e_s:>6.0f}) {e_s / p_s:>14.2f}x"
            )


def _instant_server(model_dir: Path, labels: int) -> tuple[str, object]:
    """A loopback server that answers /pooling at once with a fixed row per token."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    row = [0.9] + [0.1 / (labels - 1)] * (labels - 1)

    async def models(request: Request) -> Response:
        card = {"id": "bench", "object": "model", "root": str(model_dir), "max_model_len": 512}
        return JSONResponse({"object": "list", "data": [card]})

    async def pooling(request: Request) -> Response:
        body = await request.json()
        ids = body["input"]
        data = [{"index": 0, "object": "pooling", "data": [row] * len(ids)}]
        usage = {"prompt_tokens": len(ids), "total_tokens": len(ids), "completion_tokens": 0}
        return JSONResponse(
            {"id": "p", "object": "list", "model": "bench", "data": data, "usage": usage}
        )

    app = Starlette(
        routes=[Route("/v1/models", models), Route("/pooling", pooling, methods=["POST"])]
    )
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def _peak_kb(pid: int) -> int:
    """A running process's peak RSS so far (VmHWM), in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def memory(small: int, big: int, work: Path, *, server: str = "real") -> None:
    """``server``: ``real`` (``ner-tui serve`` with the bundled model, whose own peak RSS is
    printed too), ``instant`` (fixed rows at once: the client's work only) or ``none``."""
    from contextlib import ExitStack

    from servers import serve_process

    from ner_tui.models import bundled_model_path

    model = bundled_model_path()
    labels = len(json.loads((model / "config.json").read_text())["id2label"])
    print(f"\n2. peak RSS of `ner-tui eval -o json`, {small:,} and {big:,} sentences")
    print(f"{'':>32} {'sentences':>10} {'seconds':>8} {'sentences/s':>12} {'peak RSS MB':>12}")
    modes: dict[str, list[str]] = {}
    stack = ExitStack()
    serve_pid = None
    if server == "real":
        serving = stack.enter_context(serve_process())
        serve_pid = serving.process.pid
        modes["ner-tui serve loopback"] = ["--url", serving.url, "--concurrency", "16"]
    elif server == "instant":
        url, instant = _instant_server(model, labels)
        stack.callback(setattr, instant, "should_exit", True)
        modes["instant loopback server"] = ["--url", url, "--concurrency", "16"]
    modes["--predictions (no model)"] = ["--predictions"]
    for name, flags in modes.items():
        results = []
        for n in (small, big):
            corpus = work / f"corpus-{n}.conll"
            if not corpus.exists():
                write_corpus(corpus, n)
            argv = ["eval", str(corpus), "-o", "json", "--no-progress", *flags]
            if flags == ["--predictions"]:
                predictions = work / f"predictions-{n}.conll"
                write_corpus(predictions, n, wrong=True)
                argv.append(str(predictions))
            seconds, peak = _rss_of(argv)
            results.append(peak)
            print(f"{name:>32} {n:>10,} {seconds:>8.1f} {n / seconds:>12.0f} {peak / 1024:>12.1f}")
            if serve_pid is not None and flags[0] == "--url":
                served = _peak_kb(serve_pid) / 1024
                print(f"{'the server, peak RSS so far':>32} {'':>33} {served:>12.1f}")
        print(f"{'':>32} peak at {big:,} / peak at {small:,}: {results[1] / results[0]:.2f}x")
    stack.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--skip", nargs="*", default=[], choices=["throughput", "memory"])
    parser.add_argument(
        "--server",
        choices=["real", "instant", "none"],
        default="real",
        help="memory: against a real `ner-tui serve` (the bundled model), a server answering "
        "fixed rows at once (the client alone), or only the --predictions runs",
    )
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        if "throughput" not in args.skip:
            throughput(args.sentences, work)
        if "memory" not in args.skip:
            memory(args.small, args.big, work, server=args.server)


if __name__ == "__main__":
    main()
