"""``ner-tui serve`` under a hostile mix, against a steady stream of one-sentence requests.

Loopback only, bounded in time (each phase ``--seconds``)::

    python bench/soak.py [--model DIR] [--threads 2] [--seconds 20] [--abandoned 1000]

Phases, one server process (the bundled model by default):

1. **idle**: the server's RSS after start-up and a warm-up.
2. **alone**: the steady stream (``--stream-clients`` clients, one sentence per request, back
   to back) on its own: p50/p99 latency, and /health latency polled alongside.
3. **hostile**: the same stream, while a max-size request (512 prompts of 512 token ids, the
   most ``--max-request-tokens`` accepts) runs, a request of 10,000 short strings, and
   ``--slow`` clients dripping headers a byte at a time; the max-size request's client gives
   up at the end of the phase. Same figures, plus the server's peak RSS.
4. **abandoned**: ``--abandoned`` requests of 8 prompts of 64 tokens are queued on raw
   connections, which then close: the forward-pass seconds spent after they left
   (``ner_tui_forward_seconds_total``), and how many of their prompts never ran.
5. **settled**: RSS a few seconds after the load, against the idle figure.
6. **throughput**: 32 clients, one sentence per request, this server vs a baseline server
   started the same way with batching off (``--max-num-seqs 1``), or with
   ``--baseline-pythonpath DIR`` the code in DIR (e.g. a checkout of the old batcher), best
   of ``--rounds`` taking turns.

Goals from #13: one-sentence p99 < 500 ms while a max-size request runs; /health < 50 ms;
peak RSS < 1 GB; settled within 100 MB of idle; 1,000 abandoned requests < 1 s of compute.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SENTENCE = "Angela Merkel met Emmanuel Macron in Paris to discuss the European Union budget."


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    model: str | None, threads: int, flags: list[str], pythonpath: str | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [pythonpath or str(ROOT), os.environ.get("PYTHONPATH")])
        ),
    }
    cmd = [sys.executable, "-m", "ner_tui.server", "--port", str(port), "--log-level", "error"]
    cmd += ["--threads", str(threads), *flags]
    if model:
        cmd += ["--model", model]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}: {' '.join(cmd)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return proc, port
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class RssSampler:
    """Samples the server's RSS every 50 ms; ``peak`` since the last reset."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self.peak = max(self.peak, rss_mb(self.pid))
            except OSError:
                return

    def reset(self) -> None:
        self.peak = rss_mb(self.pid)

    def stop(self) -> None:
        self._stop.set()


async def request(
    port: int, method: str, path: str, body: bytes = b"", *, conn: list | None = None
) -> tuple[int, bytes]:
    """One HTTP/1.1 request; ``conn`` ([reader, writer] or []) keeps a connection alive."""
    if conn:
        reader, writer = conn
    else:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        if conn is not None:
            conn[:] = [reader, writer]
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    writer.write(head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    payload = await reader.readexactly(length)
    if conn is None:
        writer.close()
    return status, payload


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def stream(port: int, seconds: float, clients: int) -> tuple[list[float], list[float]]:
    """One-sentence requests back to back from ``clients`` clients, and /health every 100 ms,
    for ``seconds``: (request latencies, health latencies) in ms."""
    body = json.dumps({"input": SENTENCE}).encode()
    stop = time.monotonic() + seconds
    lat: list[float] = []
    health: list[float] = []

    async def client() -> None:
        conn: list = []
        while time.monotonic() < stop:
            t = time.perf_counter()
            status, _ = await request(port, "POST", "/pooling", body, conn=conn)
            assert status == 200, status
            lat.append((time.perf_counter() - t) * 1000)

    async def poll_health() -> None:
        conn: list = []
        while time.monotonic() < stop:
            t = time.perf_counter()
            await request(port, "GET", "/health", conn=conn)
            health.append((time.perf_counter() - t) * 1000)
            await asyncio.sleep(0.1)

    await asyncio.gather(*(client() for _ in range(clients)), poll_health())
    return lat, health


async def slow_client(port: int, stop: float) -> str:
    """Drip a request's headers a byte every 0.5 s until the server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = b"POST /pooling HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 10_000
    try:
        for byte in data:
            if time.monotonic() > stop:
                return "still open at the end"
            writer.write(bytes([byte]))
            await writer.drain()
            try:
                if await asyncio.wait_for(reader.read(1), 0.5) == b"":
                    return "closed by the server"
            except asyncio.TimeoutError:
                pass
        return "sent everything"
    except (ConnectionError, OSError):
        return "closed by the server"
    finally:
        writer.close()


async def hostile(port: int, seconds: float, clients: int, slow: int) -> dict[str, object]:
    stop = time.monotonic() + seconds
    max_size = json.dumps({"input": [[101] + [7592] * 510 + [102]] * 512}).encode()
    many = json.dumps({"input": [f"word {i}" for i in range(10_000)]}).encode()

    async def big() -> str:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = "POST /pooling HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        writer.write(head.encode() + f"Content-Length: {len(max_size)}\r\n\r\n".encode())
        writer.write(max_size)
        await writer.drain()
        try:
            line = await asyncio.wait_for(reader.readline(), max(0.1, stop - time.monotonic()))
            return f"answered {line.decode().strip()}"
        except asyncio.TimeoutError:
            return "still running at the end (client gave up)"
        finally:
            writer.close()

    async def ten_k() -> str:
        t = time.perf_counter()
        conn: list = []
        try:
            status, _ = await request(port, "POST", "/pooling", many, conn=conn)
        finally:
            if conn:
                conn[1].close()  # also when cancelled: the client gives up
        return f"{status} after {time.perf_counter() - t:.1f} s"

    big_task = asyncio.create_task(big())
    await asyncio.sleep(0.5)  # let the max-size request start
    tenk_task = asyncio.create_task(ten_k())
    slow_tasks = [asyncio.create_task(slow_client(port, stop)) for _ in range(slow)]
    lat, health = await stream(port, max(0.5, stop - time.monotonic()), clients)
    slow_results = await asyncio.gather(*slow_tasks)
    out: dict[str, object] = {
        "lat": lat,
        "health": health,
        "max-size request": await big_task,
        "10k strings": await tenk_task if tenk_task.done() else "still running (client gave up)",
        "slow clients": {r: slow_results.count(r) for r in set(slow_results)},
    }
    if not tenk_task.done():
        tenk_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tenk_task
    return out


def metrics(port: int) -> dict[str, float]:
    _status, text = asyncio.run(request(port, "GET", "/metrics"))
    out: dict[str, float] = {}
    for line in text.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name.split("{", 1)[0].removeprefix("ner_tui_")] = float(value)
    return out


def abandoned(port: int, n: int) -> dict[str, float]:
    """Queue ``n`` requests on raw connections, close them, and measure the compute spent
    after they left."""
    body = json.dumps({"input": [[101] + [7592] * 62 + [102]] * 8}).encode()
    head = (
        b"POST /pooling HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
    )
    socks = []
    for _ in range(n):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(head + body)
        socks.append(sock)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # until (nearly) all are queued
        m = metrics(port)
        if m.get("vllm:num_requests_waiting", 0) + m.get("vllm:num_requests_running", 0) >= n * 0.9:
            break
        time.sleep(0.05)
    before = metrics(port)
    t = time.perf_counter()
    for sock in socks:
        sock.close()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        m = metrics(port)
        if m.get("vllm:num_requests_waiting", 0) + m.get("vllm:num_requests_running", 0) == 0:
            break
        time.sleep(0.02)
    after = metrics(port)
    return {
        "queue drained after (s)": time.perf_counter() - t,
        "forward seconds after close": after["forward_seconds_total"]
        - before["forward_seconds_total"],
        "prompts run after close": after["batched_prompts_total"] - before["batched_prompts_total"],
        "prompts dropped": after["dropped_prompts_total"] - before["dropped_prompts_total"],
        "requests abandoned": after["abandoned_requests_total"]
        - before["abandoned_requests_total"],
    }


async def throughput(port: int, clients: int, total: int) -> float:
    body = json.dumps({"input": SENTENCE}).encode()
    per = [total // clients + (1 if i < total % clients else 0) for i in range(clients)]

    async def client(k: int) -> None:
        conn: list = []
        for _ in range(k):
            await request(port, "POST", "/pooling", body, conn=conn)

    t = time.perf_counter()
    await asyncio.gather(*(client(k) for k in per))
    return total / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model directory (default: the bundled model)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of phases 2 and 3")
    parser.add_argument("--stream-clients", type=int, default=1)
    parser.add_argument("--slow", type=int, default=50, help="slow clients in phase 3")
    parser.add_argument("--abandoned", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=256, help="requests per throughput run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--baseline-pythonpath",
        help="run the throughput baseline from this checkout instead of --max-num-seqs 1",
    )
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()

    proc, port = start_server(args.model, args.threads, [])
    sampler = RssSampler(proc.pid)
    try:
        asyncio.run(stream(port, 1.0, 1))  # warm-up
        idle = rss_mb(proc.pid)
        print(f"server: ner-tui serve --threads {args.threads} (defaults), pid {proc.pid}")
        print(f"idle RSS: {idle:.0f} MB")
        lat, health = asyncio.run(stream(port, args.seconds, args.stream_clients))
        print(
            f"alone ({args.seconds:g} s, {args.stream_clients} client(s)): {len(lat)} requests, "
            f"p50 {pct(lat, 0.5):.1f} ms, p99 {pct(lat, 0.99):.1f} ms; /health p50 "
            f"{pct(health, 0.5):.1f} ms, p99 {pct(health, 0.99):.1f} ms, max {max(health):.1f} ms"
        )
        sampler.reset()
        out = asyncio.run(hostile(port, args.seconds, args.stream_clients, args.slow))
        lat, health = out.pop("lat"), out.pop("health")  # type: ignore[assignment]
        print(
            f"hostile ({args.seconds:g} s): {len(lat)} requests, p50 {pct(lat, 0.5):.1f} ms, "
            f"p99 {pct(lat, 0.99):.1f} ms, max {max(lat):.1f} ms; /health p50 "
            f"{pct(health, 0.5):.1f} ms, p99 {pct(health, 0.99):.1f} ms, max {max(health):.1f} ms"
        )
        for key, value in out.items():
            print(f"  {key}: {value}")
        print(f"  peak RSS during the hostile phase: {sampler.peak:.0f} MB")
        result = abandoned(port, args.abandoned)
        print(f"abandoned: {args.abandoned} requests of 8 x 64 tokens, clients closed:")
        for key, value in result.items():
            print(f"  {key}: {value:.3f}" if isinstance(value, float) else f"  {key}: {value}")
        time.sleep(5)
        settled = rss_mb(proc.pid)
        print(
            f"settled RSS 5 s after the load: {settled:.0f} MB ({settled - idle:+.0f} MB vs idle); "
            f"peak RSS over the run: {sampler.peak:.0f} MB"
        )
        m = metrics(port)
        print(
            f"scheduler: {m['forward_batches_total']:.0f} passes, largest "
            f"{m['largest_pass_tokens']:.0f} padded tokens / {m['largest_batch_prompts']:.0f} "
            "prompts"
        )
    finally:
        sampler.stop()
        proc.terminate()
        proc.wait(timeout=20)

    if args.skip_throughput:
        return
    flags = [] if args.baseline_pythonpath else ["--max-num-seqs", "1"]
    label = (
        f"code in {args.baseline_pythonpath}"
        if args.baseline_pythonpath
        else "batching off (--max-num-seqs 1)"
    )
    new, new_port = start_server(args.model, args.threads, [])
    old, old_port = start_server(args.model, args.threads, flags, args.baseline_pythonpath)
    try:
        best = {"this": 0.0, "baseline": 0.0}
        for _ in range(args.rounds):
            best["this"] = max(best["this"], asyncio.run(throughput(new_port, 32, args.requests)))
            best["baseline"] = max(
                best["baseline"], asyncio.run(throughput(old_port, 32, args.requests))
            )
        print(
            f"throughput at 32 clients, best of {args.rounds}: this server "
            f"{best['this']:.1f} req/s, baseline ({label}) {best['baseline']:.1f} req/s, "
            f"ratio {best['this'] / best['baseline']:.2f}x"
        )
    finally:
        for p in (new, old):
            p.terminate()
            p.wait(timeout=20)


if __name__ == "__main__":
    main()
