"""Client-side cost of ner-tui against vLLM's example client, measured in one process.

Three measurements (issue #2):

1. Per-request client overhead for texts of 16, 128, 512 and 4096 tokens: ner-tui's tokenize
   (offsets, windows) + parse the float-JSON response + merge rows + decode labels and
   character spans, next to vLLM's ``examples/pooling/token_classify/ner_client.py``
   approach (``AutoTokenizer``/``AutoConfig.from_pretrained`` per call, ``response.json()``,
   ``torch.tensor(...).argmax``, ``id2label``, special tokens filtered by string), both as
   written (loading per call) and with the loading hoisted out. The example columns need torch.
   The server's answer is a prepared body, so only client CPU time is measured.
2. Each response encoding at 4096 tokens: body size, server-side encode and client-side parse
   (float JSON, base64, bytes), with the example's ``json.loads`` + ``torch.tensor`` as baseline.
3. ``ner-tui predict`` over a file against a loopback server that answers every request after a
   fixed 20 ms (a stand-in for a remote GPU server): one request at a time vs concurrent.

Goals: < 2 ms client overhead at 128 tokens; concurrent >= 5x sequential.

    /work/torchenv/bin/python bench/client_overhead.py            # with the vLLM baseline
    .venv/bin/python bench/client_overhead.py --model DIR --docs 400

The model defaults to the bundled one, else the tiny test fixture (say which in the report).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = (16, 128, 512, 4096)
SENTENCE = (
    "Barack Obama visited Microsoft headquarters in Seattle on January 2025, and Angela "
    "Merkel met the board of Deutsche Bank in Frankfurt with Emmanuel Macron. "
)


def default_model() -> Path:
    from ner_tui.models import bundled_model_path

    bundled = bundled_model_path()
    if (bundled / "tokenizer.json").is_file():
        return bundled
    return ROOT / "tests" / "fixtures" / "tiny-bert-ner"


def median_ms(fn: Callable[[], object], *, repeat: int, budget_s: float = 2.0) -> float:
    """Median wall time of ``fn`` in ms over up to ``repeat`` runs (after one warm-up)."""
    fn()
    times: list[float] = []
    deadline = time.perf_counter() + budget_s
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
        if time.perf_counter() > deadline and len(times) >= 3:
            break
    return statistics.median(times)


def text_with_tokens(tokenizer: Any, n_content: int) -> str:
    """A prefix of repeated prose that tokenizes to exactly ``n_content`` content tokens."""
    text = SENTENCE * (n_content // 8 + 2)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    offsets = enc["offset_mapping"]
    assert len(offsets) >= n_content, "prose too short"
    return text[: offsets[n_content - 1][1]]


def fake_rows(n: int, num_labels: int, rng: np.random.Generator) -> np.ndarray:
    """Softmax rows, mostly ``O`` with runs of entity labels, like a real NER answer."""
    logits = rng.normal(0.0, 1.0, size=(n, num_labels)).astype(np.float32)
    logits[:, 0] += 3.0
    hot = rng.random(n) < 0.25
    logits[hot, rng.integers(1, num_labels, size=int(hot.sum()))] += 6.0
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)


def float_body(arrays: list[np.ndarray], model: str) -> bytes:
    from ner_tui.core.protocol import PoolingResponse
    from ner_tui.server.protocol import pooling_response_json

    return json.dumps(pooling_response_json(PoolingResponse(data=arrays, model=model))).encode()


# --------------------------------------------------------------------------- 1. overhead


def bench_overhead(
    model_dir: Path, repeat: int, torch_ok: bool, window: int | None
) -> dict[int, dict[str, float]]:
    from ner_tui.core.alignment import encode, merge
    from ner_tui.core.decoding import decode
    from ner_tui.core.model_info import load_model_info
    from ner_tui.core.protocol import PoolingResponse, parse_pooling_response
    from ner_tui.core.types import DecodeOptions
    from ner_tui.server.protocol import pooling_response_json

    info = load_model_info(model_dir, max_model_len=window)
    rng = np.random.default_rng(0)
    options = DecodeOptions()
    name = str(model_dir)
    results: dict[int, dict[str, float]] = {}
    print(
        f"\n1. client overhead per request (model {model_dir.name}, window "
        f"{info.max_model_len}, {info.num_labels} labels); ms, median"
    )
    header = f"{'tokens':>7} {'windows':>7} {'ner-tui':>9} {'(tok':>7} {'parse':>7} {'merge':>7} "
    header += f"{'decode)':>8} {'w/ base64':>9}"
    if torch_ok:
        header += f" {'example':>9} {'x':>6} {'ex.cached':>10} {'x':>6}"
    print(header)
    for size in SIZES:
        n_content = size - (len(info.prefix_ids) + len(info.suffix_ids))
        text = text_with_tokens(info.tokenizer, n_content)
        encoded = encode(info, text)
        arrays = [fake_rows(len(w), info.num_labels, rng) for w in encoded.windows]
        body = float_body(arrays, name)

        def tokenize(text: str = text) -> Any:
            return encode(info, text)

        def parse(body: bytes = body, k: int = len(arrays)) -> Any:
            return parse_pooling_response(body, expected_items=k).data

        rows = parse()

        def merge_rows(encoded: Any = encoded, rows: Any = rows) -> Any:
            return merge(encoded, rows, model=name, source="bench")

        scored = merge_rows()

        def decode_spans(scored: Any = scored) -> Any:
            return decode(scored, options)

        def whole(text: str = text, body: bytes = body, k: int = len(arrays)) -> Any:
            enc = encode(info, text)
            got = parse_pooling_response(body, expected_items=k).data
            return decode(merge(enc, got, model=name, source="bench"), options)

        b64_doc = pooling_response_json(PoolingResponse(data=arrays, model=name), "base64")
        b64_body = json.dumps(b64_doc).encode()

        def whole_b64(text: str = text, body: bytes = b64_body, k: int = len(arrays)) -> Any:
            enc = encode(info, text)
            got = parse_pooling_response(body, expected_items=k, num_labels=info.num_labels).data
            return decode(merge(enc, got, model=name, source="bench"), options)

        row = {
            "windows": float(len(arrays)),
            "ner-tui": median_ms(whole, repeat=repeat),
            "ner-tui-b64": median_ms(whole_b64, repeat=repeat),
            "tokenize": median_ms(tokenize, repeat=repeat),
            "parse": median_ms(parse, repeat=repeat),
            "merge": median_ms(merge_rows, repeat=repeat),
            "decode": median_ms(decode_spans, repeat=repeat),
        }
        line = (
            f"{size:>7} {len(arrays):>7} {row['ner-tui']:>9.3f} {row['tokenize']:>7.3f} "
            f"{row['parse']:>7.3f} {row['merge']:>7.3f} {row['decode']:>8.3f}"
            f" {row['ner-tui-b64']:>9.3f}"
        )
        if torch_ok:
            # The example sends the text and gets one row per token back (special tokens
            # included); past the window vLLM would refuse it, so this is client time only.
            example_body = float_body([fake_rows(size, info.num_labels, rng)], name)
            cached = load_example(model_dir)
            as_written = functools.partial(vllm_example, model_dir, text, example_body, None)
            hoisted = functools.partial(vllm_example, model_dir, text, example_body, cached)
            row["example"] = median_ms(as_written, repeat=max(3, repeat // 20))
            row["example_cached"] = median_ms(hoisted, repeat=repeat)
            line += (
                f" {row['example']:>9.2f} {row['example'] / row['ner-tui']:>5.1f}x"
                f" {row['example_cached']:>10.3f} {row['example_cached'] / row['ner-tui']:>5.1f}x"
            )
        print(line)
        results[size] = row
    print("   ner-tui = tokenize + parse + merge + decode (labels, scores, top-k, entity spans)")
    print("   of a float-JSON answer; w/ base64 = the same with --encoding base64;")
    print("   example = vLLM's ner_client.py as written (loads tokenizer+config per call);")
    print("   ex.cached = the same with loading hoisted out; x = example time / ner-tui time.")
    return results


def load_example(model_dir: Path) -> tuple[Any, dict[int, str]]:
    from transformers import AutoConfig, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    config = AutoConfig.from_pretrained(str(model_dir))
    return tokenizer, config.id2label


def vllm_example(
    model_dir: Path, text: str, body: bytes, loaded: tuple[Any, dict[int, str]] | None
) -> list[tuple[str, str]]:
    """The client-side steps of vLLM's examples/pooling/token_classify/ner_client.py."""
    import torch

    tokenizer, label_map = loaded if loaded is not None else load_example(model_dir)
    output = json.loads(body)["data"][0]
    logits = torch.tensor(output["data"])
    predictions = logits.argmax(dim=-1)
    inputs = tokenizer(text, return_tensors="pt")
    tokens = tokenizer.convert_ids_to_tokens(inputs["input_ids"][0])
    labels = [label_map[p.item()] for p in predictions]
    specials = tokenizer.all_special_tokens
    return [(t, lab) for t, lab in zip(tokens, labels, strict=False) if t not in specials]


# --------------------------------------------------------------------------- 2. encodings


def bench_encodings(model_dir: Path, repeat: int, torch_ok: bool) -> None:
    from ner_tui.core.model_info import load_model_info
    from ner_tui.core.protocol import (
        PoolingResponse,
        parse_pooling_bytes,
        parse_pooling_response,
    )
    from ner_tui.server.protocol import pooling_response_bytes, pooling_response_json

    info = load_model_info(model_dir)
    n, labels = 4096, info.num_labels
    rows = fake_rows(n, labels, np.random.default_rng(1))
    response = PoolingResponse(data=[rows], model=str(model_dir))
    bodies: dict[str, tuple[bytes, Callable[[], object], Callable[[], object]]] = {}

    def enc_float() -> bytes:
        return json.dumps(pooling_response_json(response, "float")).encode()

    def enc_base64() -> bytes:
        return json.dumps(pooling_response_json(response, "base64")).encode()

    def enc_bytes() -> tuple[bytes, str]:
        return pooling_response_bytes(response)

    float_raw, b64_raw, (bytes_raw, meta) = enc_float(), enc_base64(), enc_bytes()
    bodies["float"] = (float_raw, enc_float, lambda: parse_pooling_response(float_raw))
    bodies["base64"] = (
        b64_raw,
        enc_base64,
        lambda: parse_pooling_response(b64_raw, num_labels=labels),
    )
    bodies["bytes"] = (bytes_raw, enc_bytes, lambda: parse_pooling_bytes(bytes_raw, meta))
    for name, (_, _, parse) in bodies.items():
        parsed = parse()
        assert np.allclose(parsed.data[0], rows), name  # type: ignore[attr-defined]
    print(f"\n2. response encodings at {n} tokens x {labels} labels (float32); ms, median")
    print(f"{'encoding':>9} {'bytes':>10} {'server enc':>11} {'client parse':>13} {'x parse':>8}")
    base = median_ms(bodies["float"][2], repeat=repeat)
    for name, (raw, enc, parse) in bodies.items():
        t_enc = median_ms(enc, repeat=repeat)
        t_parse = base if name == "float" else median_ms(parse, repeat=repeat)
        print(f"{name:>9} {len(raw):>10} {t_enc:>11.3f} {t_parse:>13.3f} {base / t_parse:>7.1f}x")
    if torch_ok:
        import torch

        t = median_ms(lambda: torch.tensor(json.loads(float_raw)["data"][0]["data"]), repeat=repeat)
        print(f"  example (json.loads + torch.tensor of the float body): {t:.3f} ms")
    print("   x parse = float parse time / this encoding's parse time")


# --------------------------------------------------------------------------- 3. batch


def serve_stub(port: int, model_dir: str, delay_ms: float) -> None:
    """A loopback /pooling server that answers after a fixed delay (run in a subprocess)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    config = json.loads((Path(model_dir) / "config.json").read_text())
    labels = len(config["id2label"])
    row = [0.9] + [0.1 / (labels - 1)] * (labels - 1)

    async def models(request: Request) -> Response:
        card = {"id": "stub", "object": "model", "root": model_dir, "max_model_len": 512}
        return JSONResponse({"object": "list", "data": [card]})

    async def health(request: Request) -> Response:
        return Response(status_code=200)

    async def pooling(request: Request) -> Response:
        body = await request.json()
        prompts = body["input"]
        if prompts and isinstance(prompts[0], int):
            prompts = [prompts]
        await asyncio.sleep(delay_ms / 1000.0)
        data = [
            {"index": i, "object": "pooling", "data": [row] * len(p)} for i, p in enumerate(prompts)
        ]
        total = sum(len(p) for p in prompts)
        usage = {"prompt_tokens": total, "total_tokens": total, "completion_tokens": 0}
        return JSONResponse(
            {"id": "pool-0", "object": "list", "model": "stub", "data": data, "usage": usage}
        )

    app = Starlette(
        routes=[
            Route("/v1/models", models),
            Route("/health", health),
            Route("/pooling", pooling, methods=["POST"]),
        ]
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)


async def raw_http(url: str, bodies: list[dict[str, Any]], concurrency: int) -> float:
    """Seconds to POST every body to /pooling with ``concurrency`` in flight (plain httpx)."""
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    slots = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def one(body: dict[str, Any]) -> None:
            async with slots:
                response = await client.post("/pooling", json=body)
                response.json()

        start = time.perf_counter()
        await asyncio.gather(*(one(b) for b in bodies))
        return time.perf_counter() - start


def bench_batch(model_dir: Path, docs: int, delay_ms: float, concurrencies: list[int]) -> None:
    import httpx

    from ner_tui.commands.predict import predict_documents
    from ner_tui.core.documents import iter_documents
    from ner_tui.core.settings import Settings

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--stub-server",
            str(port),
            "--model",
            str(model_dir),
            "--delay-ms",
            str(delay_ms),
        ],
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit("the stub server did not start") from None
                time.sleep(0.05)
        lines = [f"{i}: {SENTENCE.strip()}" for i in range(docs)]
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
            handle.write("\n".join(lines) + "\n")
            path = handle.name
        documents = list(iter_documents(Path(path).read_text().split("\n")))
        print(
            f"\n3. `ner-tui predict --file` ({docs} lines, ~{len(SENTENCE.split())} words each) "
            f"against a loopback server answering after {delay_ms:.0f} ms"
        )
        print(f"{'concurrency':>11} {'seconds':>8} {'docs/s':>8} {'x vs 1':>7}")
        outputs: dict[int, str] = {}
        base = 0.0
        for concurrency in concurrencies:
            settings = Settings(url=url, max_concurrency=concurrency)
            out, err = io.StringIO(), io.StringIO()
            start = time.perf_counter()
            code = asyncio.run(
                predict_documents(
                    settings, documents, fmt="jsonl", many=True, progress=False, out=out, err=err
                )
            )
            elapsed = time.perf_counter() - start
            assert code == 0, err.getvalue()
            outputs[concurrency] = out.getvalue()
            base = base or elapsed
            print(
                f"{concurrency:>11} {elapsed:>8.2f} {docs / elapsed:>8.1f} {base / elapsed:>6.1f}x"
            )
        first = outputs[concurrencies[0]]
        assert all(o == first for o in outputs.values()), "outputs differ between concurrencies"
        print(
            f"   identical output at every concurrency; floor for concurrency 1: "
            f"{docs * delay_ms / 1000:.2f} s of server delay"
        )
        print("   the same requests as bare httpx POSTs (no tokenize/decode), for the HTTP floor:")
        from ner_tui.core.alignment import encode
        from ner_tui.core.model_info import load_model_info

        info = load_model_info(model_dir, max_model_len=512)
        bodies = [
            {"model": "stub", "input": encode(info, d.text or "").window_ids} for d in documents
        ]
        for concurrency in concurrencies:
            elapsed = asyncio.run(raw_http(url, bodies, concurrency))
            print(f"{concurrency:>11} {elapsed:>8.2f} {docs / elapsed:>8.1f}   (bare HTTP)")
        os.unlink(path)
    finally:
        process.terminate()
        process.wait(timeout=10)


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model directory (default: bundled/fixture)")
    parser.add_argument("--repeat", type=int, default=200, help="timed runs per measurement")
    parser.add_argument("--docs", type=int, default=200, help="lines in the batch file")
    parser.add_argument("--delay-ms", type=float, default=20.0, help="stub server delay")
    parser.add_argument(
        "--window",
        type=int,
        default=512,
        help="tokens per request, as a BERT model served by vLLM (default 512; 0: the model's)",
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--skip", nargs="*", default=[], choices=["overhead", "encodings", "batch"])
    parser.add_argument("--stub-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    model_dir = (args.model or default_model()).resolve()
    if args.stub_server:
        serve_stub(args.stub_server, str(model_dir), args.delay_ms)
        return
    try:
        import torch

        torch.set_num_threads(1)
        torch_ok = True
        baseline = f"torch {torch.__version__}"
    except ImportError:
        torch_ok = False
        baseline = "torch not importable: vLLM example columns skipped"
    import platform

    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, {baseline}")
    print(f"model: {model_dir}")
    if "overhead" not in args.skip:
        bench_overhead(model_dir, args.repeat, torch_ok, args.window or None)
    if "encodings" not in args.skip:
        bench_encodings(model_dir, args.repeat, torch_ok)
    if "batch" not in args.skip:
        bench_batch(model_dir, args.docs, args.delay_ms, args.concurrency)


if __name__ == "__main__":
    main()
