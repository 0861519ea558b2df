"""Local engine vs transformers' pipeline, and ``ner-tui serve`` with dynamic batching on/off.

Run with the torch venv (torch is needed for the pipeline baseline only)::

    /work/torchenv/bin/python bench/engine.py [--model DIR] [--threads 2] [--n 256]

Part 1, same process, same model, same CPU threads: sentences/s (batches of 32) and p50/p95
single-sentence latency of LocalEngine and of ``pipeline("token-classification")``, plus
ner-tui's whole path (tokenize with offsets, engine, decode to entities); then the entities of
both, compared span by span. Part 2: a real ``ner-tui serve`` process (ONNX weights) driven by
1, 8 and 32 concurrent clients, one sentence per request, batching on vs off
(``--max-num-seqs 1``), after the engine alone at the same thread counts (one sentence per
pass vs batches: the most batching can gain before HTTP).

Part 3, only with ``--vllm URL`` (or the ``server.json`` that ``tools/vllm_cpu.py serve``
writes): the real vLLM as a peer. A ``ner-tui serve`` on the fp32 ONNX export of the weights
vLLM serves (the directory from its ``/v1/models`` root) and the vLLM take turns at 1 and 32
concurrent clients, the same requests of 10-45 words each, best of ``--rounds``::

    python tools/vllm_cpu.py serve &
    python bench/engine.py --skip-pipeline --skip-server --vllm tools/work/vllm/server.json

Default model: the bundled one when it has weights transformers can load, else the tiny test
fixture (then the figures measure overhead, not model compute: it says so).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# torch's OpenMP threads spin for a while after each op; in this one process they would take
# the cores from ONNX Runtime's turn (with 2 threads the engine measured 741 instead of 988
# sentences/s). Sleeping threads make the two sides take turns fairly.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

SENTENCES = [
    "Barack Obama visited Microsoft headquarters in Seattle on January 2025.",
    "Apple is looking at buying U.K. startup for $1 billion.",
    "Angela Merkel met Emmanuel Macron in Paris to discuss the European Union budget.",
    "Shares of Toyota fell 3 percent in Tokyo after the company cut its forecast.",
    "The World Health Organization said the outbreak in Kenya was under control.",
    "Serena Williams won her first match at Wimbledon since returning from injury.",
    "Google and Samsung signed a patent agreement covering smartphones sold in Brazil.",
    "Police in Sydney arrested two men after a robbery at a bank on George Street.",
    "The Reserve Bank of Australia left interest rates unchanged on Tuesday.",
    "Nelson Mandela was released from prison in 1990 after 27 years.",
    "Airbus delivered 50 aircraft to customers in Asia during the first quarter.",
    "Prime Minister Jacinda Ardern announced new gun laws in Wellington.",
    "The New York Times reported that Amazon plans to open a second headquarters.",
    "Heavy rain caused flooding across northern Germany and the Netherlands.",
    "Lionel Messi scored twice as Barcelona beat Real Madrid 3-1 on Sunday.",
    "The United Nations Security Council will meet in Geneva next week.",
    "Researchers at the University of Cambridge published the study in Nature.",
    "Tesla chief executive Elon Musk said production in Shanghai would double.",
    "Fires burned thousands of hectares of forest in California and Oregon.",
    "The Bank of England raised its key rate to 5.25 percent.",
    "Microsoft released a security update for Windows after researchers found a flaw.",
    "Thousands of people marched through London to protest against the war.",
    "Kofi Annan, the former Secretary-General, died in Bern at the age of 80.",
    "Volkswagen recalled 200,000 cars in China because of faulty airbags.",
    "The Olympic torch arrived in Athens before its journey to Beijing.",
    "Officials in Nairobi said the new railway line to Mombasa would open in June.",
    "A spokesman for Siemens declined to comment on the report.",
    "Reuters reported that the talks between Russia and Ukraine had stalled.",
    "It was a quiet day on the markets, with trading volumes well below average.",
    "The committee will publish its findings later this year.",
]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _timed(fns: list, repeat: int = 3) -> list[float]:  # type: ignore[type-arg]
    """Best wall time of each function over ``repeat`` rounds (after one warm-up each); the
    functions take turns within a round, so a change in the machine's load hits all alike."""
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            started = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - started)
    return best


def _latencies(fn, items: list[str]) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - started) * 1000.0)
    return out


_TORCH_FILES = ("model.safetensors", "pytorch_model.bin")


def pick_models(
    model: str | None, torch_model: str | None, *, need_torch: bool = True
) -> tuple[Path, Path, str]:
    """(engine model, pipeline model, note). The pipeline needs torch weights of the SAME
    model: ``--torch-model`` when the engine's directory has only ONNX (like the bundled one,
    whose fp32 safetensors the model build writes elsewhere). Without the pipeline
    (``need_torch=False``) the bundled model is used as it is."""
    tiny = ROOT / "tests" / "fixtures" / "tiny-bert-ner"
    if model is None:
        from ner_tui.models import bundled_model_path

        bundled = bundled_model_path()
        if (bundled / "config.json").exists() and (
            not need_torch or torch_model or any((bundled / f).exists() for f in _TORCH_FILES)
        ):
            model = str(bundled)
        else:
            return (
                tiny,
                tiny,
                "NOTE: no bundled model with torch weights (pass --torch-model), so this uses "
                "the TINY fixture (2 layers, hidden 32): figures measure overhead, not compute.",
            )
    engine_dir = Path(model)
    pipe_dir = Path(torch_model) if torch_model else engine_dir
    if need_torch and not any((pipe_dir / f).exists() for f in _TORCH_FILES):
        raise SystemExit(f"{pipe_dir} has no torch weights for the pipeline: pass --torch-model")
    return engine_dir, pipe_dir, ""


def part1(model: Path, torch_model: Path, threads: int, texts: list[str], batch: int) -> None:
    import torch
    from transformers import pipeline

    from ner_tui.core.aio import map_ordered
    from ner_tui.core.alignment import score
    from ner_tui.core.decoding import decode
    from ner_tui.core.engine import LocalEngine
    from ner_tui.core.model_info import load_model_info
    from ner_tui.core.types import DecodeOptions

    torch.set_num_threads(threads)
    engine = LocalEngine.load(model, threads=threads)
    pipe = pipeline(
        "token-classification", model=str(torch_model), aggregation_strategy="simple", device=-1
    )
    info = load_model_info(model)
    print(
        f"model {model} (pipeline: {torch_model})\nengine: {engine.describe}; pipeline: "
        "transformers + torch "
        f"{torch.__version__}, {threads} threads each; {len(texts)} sentences, batch {batch}"
    )

    async def score_all(backend: LocalEngine, items: list[str]) -> list:  # type: ignore[type-arg]
        scores = map_ordered(lambda text: score(backend, info, text), items, limit=batch)
        return [s async for s in scores]

    def engine_batches() -> None:
        for i in range(0, len(texts), batch):
            engine.score(texts[i : i + batch])

    def pipe_batches() -> list:  # type: ignore[type-arg]
        return list(pipe(texts, batch_size=batch))

    def ner_tui_path() -> list:  # type: ignore[type-arg]
        scored = asyncio.run(score_all(engine, texts))
        return [decode(s, DecodeOptions(aggregation="simple")) for s in scored]

    t_engine, t_path, t_pipe = _timed([engine_batches, ner_tui_path, pipe_batches])
    n = len(texts)
    lat_texts = texts[: min(len(texts), 100)]
    engine.score(lat_texts[:2])
    lat_engine = _latencies(lambda t: engine.score([t]), lat_texts)
    pipe(lat_texts[0])
    lat_pipe = _latencies(pipe, lat_texts)

    print("\n| | sentences/s | vs pipeline | p50 ms (1 sentence) | p95 ms |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| pipeline (torch, aggregation simple) | {n / t_pipe:.1f} | 1.00x | "
        f"{_pct(lat_pipe, 0.5):.2f} | {_pct(lat_pipe, 0.95):.2f} |"
    )
    print(
        f"| LocalEngine.score (rows) | {n / t_engine:.1f} | {t_pipe / t_engine:.2f}x | "
        f"{_pct(lat_engine, 0.5):.2f} | {_pct(lat_engine, 0.95):.2f} |"
    )
    print(
        f"| ner-tui path (offsets + engine + decode) | {n / t_path:.1f} | "
        f"{t_pipe / t_path:.2f}x | | |"
    )

    # Same entities? pipeline "simple" groups vs ner-tui decode(aggregation="simple").
    def entities_of(preds: list) -> list[list[tuple[str, int, int]]]:  # type: ignore[type-arg]
        return [sorted((e.label, e.start, e.end) for e in p.entities) for p in preds]

    ours = entities_of(ner_tui_path())
    theirs = [
        sorted((e["entity_group"], int(e["start"]), int(e["end"])) for e in ents)
        for ents in pipe_batches()
    ]
    differ = [i for i in range(n) if ours[i] != theirs[i]]
    total = sum(len(e) for e in ours)
    print(
        f"\nentities: identical in {n - len(differ)}/{n} sentences ({total} entities from ner-tui)"
    )
    shown: set[str] = set()
    for i in differ:
        if texts[i] not in shown and len(shown) < 3:
            shown.add(texts[i])
            print(f"  differs: {texts[i]!r}\n    ner-tui:  {ours[i]}\n    pipeline: {theirs[i]}")
    if differ and torch_model != model:
        # Is it the engine or the weights? Run the engine on the pipeline's own fp32 weights.
        same_weights = LocalEngine.load(torch_model, threads=threads)
        texts_d = [texts[i] for i in differ]
        scored = asyncio.run(score_all(same_weights, texts_d))
        again = entities_of([decode(s, DecodeOptions(aggregation="simple")) for s in scored])  # type: ignore[arg-type]
        fixed = sum(again[k] == theirs[i] for k, i in enumerate(differ))
        cause = (
            f"the difference comes from {engine.runtime}'s weights, not the engine"
            if fixed == len(differ)
            else f"{len(differ) - fixed} differ with the same weights too"
        )
        print(
            f"  with the pipeline's own weights ({same_weights.runtime}) the engine matches "
            f"it in {fixed}/{len(differ)} of those: {cause}"
        )
        same_weights.close()
    engine.close()


def engine_ceiling(model: Path, thread_counts: list[int], texts: list[str], batch: int) -> None:
    """What batching can gain at most, before any HTTP: the engine alone, one sentence per
    forward pass vs sorted batches of ``batch``, at each thread count (same process, taking
    turns)."""
    from ner_tui.core.engine import LocalEngine

    print(
        f"\nengine alone (no HTTP), {len(texts)} sentences: one per forward pass vs batches of "
        f"{batch}, best of 3 taking turns"
    )
    print("| threads | one at a time, sentences/s | batches, sentences/s | batch gain |")
    print("|---:|---:|---:|---:|")
    for threads in thread_counts:
        engine = LocalEngine.load(model, threads=threads)

        def single(engine: LocalEngine = engine) -> None:
            for text in texts:
                engine.score([text])

        def batched(engine: LocalEngine = engine) -> None:
            for i in range(0, len(texts), batch):
                engine.score(texts[i : i + batch])

        t_single, t_batched = _timed([single, batched])
        n = len(texts)
        print(
            f"| {threads} | {n / t_single:.1f} | {n / t_batched:.1f} | "
            f"{t_single / t_batched:.2f}x |",
            flush=True,
        )
        engine.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(
    model: Path, threads: int, window_ms: float | None, max_batch: int = 64
) -> tuple[subprocess.Popen, str]:  # type: ignore[type-arg]
    import httpx

    port = _free_port()
    # The checkout first, then whatever the caller's PYTHONPATH held (packages kept elsewhere).
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ner_tui.server",
            "--model",
            str(model),
            "--port",
            str(port),
            "--threads",
            str(threads),
            # window None: batching off (one prompt per forward pass).
            *(
                ["--max-num-seqs", "1"]
                if window_ms is None
                else ["--max-num-seqs", str(max_batch), "--batch-window-ms", str(window_ms)]
            ),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server failed: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


class _Conn:
    """A minimal HTTP/1.1 keep-alive client, so the load generator costs far less CPU than
    the server it measures (httpx would take a good share of this 2-core machine)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> bytes:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        status = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        payload = await self.reader.readexactly(length)
        if not status.split()[1].startswith(b"2"):
            raise RuntimeError(f"{status!r} {payload[:200]!r}")
        return payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _drive(
    base: str, texts: list[str], clients: int, total: int
) -> tuple[float, list[float]]:
    import json

    host, port = base.removeprefix("http://").split(":")
    bodies = [json.dumps({"input": t}).encode() for t in texts]
    latencies: list[float] = []
    conns = [_Conn(host, int(port)) for _ in range(clients)]

    async def worker(conn: _Conn, jobs: list[int]) -> None:
        for i in jobs:
            started = time.perf_counter()
            await conn.post("/pooling", bodies[i % len(bodies)])
            latencies.append((time.perf_counter() - started) * 1000.0)

    def split(n: int) -> list[list[int]]:
        return [list(range(k, n, clients)) for k in range(clients)]

    await asyncio.gather(*(worker(c, j) for c, j in zip(conns, split(2 * clients), strict=True)))
    latencies.clear()
    started = time.perf_counter()
    await asyncio.gather(*(worker(c, j) for c, j in zip(conns, split(total), strict=True)))
    elapsed = time.perf_counter() - started
    for c in conns:
        c.close()
    return total / elapsed, latencies


def part2(
    model: Path,
    thread_counts: list[int],
    texts: list[str],
    total: int,
    rounds: int,
    max_batch: int,
    windows: list[float],
    client_counts: Sequence[int] = (1, 8, 32),
) -> None:
    """One server per (threads, batching off or one ``--batch-window-ms``), all running side
    by side (an idle one costs nothing); for each client count the runs take turns ``rounds``
    times and the best of each is kept, so a change in the machine's load does not favour one
    side. Ratios: batching on vs off at the same thread count, and every row vs the first one
    (the fewest threads, batching off)."""
    print(
        f"\nserver: ner-tui serve --threads {'|'.join(map(str, thread_counts))} "
        f"--max-num-seqs {max_batch} --batch-window-ms "
        f"{'|'.join(f'{w:g}' for w in windows)} (on) or --max-num-seqs 1 (off), one sentence "
        "per request, "
        f"{total} requests per run, best of {rounds} runs taking turns"
    )
    print(
        "| clients | threads | batching | requests/s | p50 ms | p95 ms | on/off "
        "| vs fewest threads, off |"
    )
    print("|---:|---:|---|---:|---:|---:|---:|---:|")
    # window None: batching off.
    configs: list[tuple[int, float | None]] = [
        (threads, window) for threads in thread_counts for window in [None, *windows]
    ]
    servers = {
        (threads, window): _start_server(model, threads, window, max_batch)
        for threads, window in configs
    }
    try:
        for clients in client_counts:
            best: dict[tuple[int, float | None], tuple[float, list[float]]] = {}
            for _ in range(rounds):
                for config in configs:
                    rps, lat = asyncio.run(_drive(servers[config][1], texts, clients, total))
                    if config not in best or rps > best[config][0]:
                        best[config] = (rps, lat)
            for threads, window in configs:
                rps, lat = best[(threads, window)]
                ratio = f"{rps / best[(threads, None)][0]:.2f}x" if window is not None else ""
                label = (
                    "off" if window is None else f"on ({window:g} ms)" if len(windows) > 1 else "on"
                )
                print(
                    f"| {clients} | {threads} | {label} | {rps:.1f} | "
                    f"{_pct(lat, 0.5):.1f} | {_pct(lat, 0.95):.1f} | {ratio} | "
                    f"{rps / best[configs[0]][0]:.2f}x |",
                    flush=True,
                )
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=10)


def _peer_texts(n: int) -> list[str]:
    """``n`` requests of one to three of the sentences above (10-45 words), in a fixed order."""
    return [
        " ".join(SENTENCES[(i + k) % len(SENTENCES)] for k in range(1 + i % 3)) for i in range(n)
    ]


def vllm_peer(
    where: str,
    thread_counts: Sequence[int],
    total: int,
    rounds: int,
    client_counts: Sequence[int] = (1, 32),
) -> None:
    """The real vLLM vs ``ner-tui serve`` (one per thread count) on the same weights,
    requests/s side by side; the servers take turns, best of ``rounds`` kept."""
    import json

    import httpx

    url = where
    if "://" not in where:
        url = json.loads(Path(where).read_text())["url"]
    url = url.rstrip("/")
    card = httpx.get(f"{url}/v1/models", timeout=10).json()["data"][0]
    version = httpx.get(f"{url}/version", timeout=10).json()["version"]
    model_dir = Path(card["root"])
    if not (model_dir / "onnx" / "model.onnx").is_file():
        raise SystemExit(f"{model_dir} has no onnx/model.onnx (tools/vllm_cpu.py model)")
    texts = _peer_texts(total)
    words = [len(t.split()) for t in texts]
    ours = {f"ner-tui serve --threads {n}": _start_server(model_dir, n, 5.0) for n in thread_counts}
    peers = {"vLLM": url, **{name: base for name, (_, base) in ours.items()}}
    print(
        f"\nvLLM {version} at {url} vs ner-tui serve (fp32 ONNX, batching on) on the same "
        f"weights ({model_dir}); {total} requests of {min(words)}-{max(words)} words per run, "
        f"one text per request, best of {rounds} runs taking turns; {os.cpu_count()} cores"
    )
    print("| clients | server | requests/s | p50 ms | p95 ms | vs vLLM |")
    print("|---:|---|---:|---:|---:|---:|")
    try:
        for clients in client_counts:
            best: dict[str, tuple[float, list[float]]] = {}
            for _ in range(rounds):
                for name, base in peers.items():
                    rps, lat = asyncio.run(_drive(base, texts, clients, total))
                    if name not in best or rps > best[name][0]:
                        best[name] = (rps, lat)
            for name in peers:
                rps, lat = best[name]
                ratio = f"{rps / best['vLLM'][0]:.2f}x" if name != "vLLM" else ""
                print(
                    f"| {clients} | {name} | {rps:.1f} | {_pct(lat, 0.5):.1f} | "
                    f"{_pct(lat, 0.95):.1f} | {ratio} |",
                    flush=True,
                )
    finally:
        for proc, _ in ours.values():
            proc.terminate()
            proc.wait(timeout=10)


def _str_list(value: str) -> list[str]:
    """argparse type: comma-separated values ("auto,always")."""
    return value.split(",")


def _float_list(value: str) -> list[float]:
    """argparse type: comma-separated numbers ("0,5")."""
    return [float(x) for x in _str_list(value)]


def _int_list(value: str) -> list[int]:
    """argparse type: comma-separated whole numbers ("1,8,32")."""
    return [int(x) for x in _str_list(value)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model directory (default: bundled, else tiny fixture)")
    parser.add_argument(
        "--torch-model",
        help="the same model's torch weights for the pipeline, when --model has only ONNX",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="CPU threads for engine, pipeline and server (default: every core, "
        "like ner-tui serve)",
    )
    parser.add_argument(
        "--server-threads",
        type=_int_list,
        help="comma-separated thread counts to compare in part 2, e.g. 1,2 (default: --threads)",
    )
    parser.add_argument("--n", type=int, default=256, help="sentences in part 1")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--requests", type=int, default=256, help="requests per server run")
    parser.add_argument("--rounds", type=int, default=2, help="alternating off/on runs")
    parser.add_argument(
        "--max-num-seqs", type=int, default=64, help="the 'on' servers' --max-num-seqs"
    )
    parser.add_argument(
        "--batch-window-ms",
        type=_float_list,
        default=[0.0],
        help="the 'on' servers' --batch-window-ms, comma-separated to compare several "
        "(default 0: a pass starts as soon as the previous one ends)",
    )
    parser.add_argument(
        "--clients",
        type=_int_list,
        default=[1, 8, 32],
        help="comma-separated concurrent client counts in part 2 (default: 1,8,32)",
    )
    parser.add_argument(
        "--vllm",
        metavar="URL_OR_JSON",
        help="a real vLLM (URL, or the server.json of tools/vllm_cpu.py serve) to compare "
        "with ner-tui serve on the same weights at 1 and 32 clients",
    )
    parser.add_argument(
        "--vllm-requests", type=int, default=300, help="requests per run against each peer"
    )
    parser.add_argument("--skip-pipeline", action="store_true")
    parser.add_argument("--skip-server", action="store_true")
    args = parser.parse_args()
    model, torch_model, note = pick_models(
        args.model, args.torch_model, need_torch=not args.skip_pipeline
    )
    if note:
        print(note)
    texts = [SENTENCES[i % len(SENTENCES)] for i in range(args.n)]
    if not args.skip_pipeline:
        part1(model, torch_model, args.threads, texts, args.batch)
    if not args.skip_server:
        engine_ceiling(model, args.server_threads or [args.threads], texts, args.batch)
        part2(
            model,
            args.server_threads or [args.threads],
            texts,
            args.requests,
            args.rounds,
            args.max_num_seqs,
            args.batch_window_ms,
            args.clients,
        )
    if args.vllm:
        vllm_peer(args.vllm, args.server_threads or [args.threads], args.vllm_requests, args.rounds)


if __name__ == "__main__":
    main()
