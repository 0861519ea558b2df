"""The weights behind :class:`~ner_tui.core.engine.LocalEngine`: which file to run and the
runtime that runs it.

Weights, in order of preference (the first file that exists wins; ``onnx_file=`` overrides):

1. ``onnx/model.onnx`` then ``model.onnx`` (full precision; Optimum writes the latter),
2. ``onnx/model_quantized.onnx``, ``onnx/model_int8.onnx``, ``onnx/model_uint8.onnx``,
   ``onnx/model_q4.onnx`` (transformers.js' quantized variants),
3. ``model.safetensors`` / ``pytorch_model.bin`` (sharded too) through transformers + torch,
   when torch is importable.

A runner takes one padded batch of token ids and returns raw logits; :func:`activate` turns
them into the scores vLLM's ``token_classify`` pooler returns. Batching and validation are the
engine's. onnxruntime, transformers and torch are imported only when a
runner is opened.
"""

from __future__ import annotations

import importlib.util
import mmap
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from ner_tui.core.errors import ModelLoadError

__all__ = [
    "ONNX_CANDIDATES",
    "TORCH_WEIGHTS",
    "Activation",
    "Runner",
    "activate",
    "activation_for",
    "find_weights",
    "give_back_memory",
    "lower_thread_priority",
    "open_runner",
]

#: ONNX files looked for, in order of preference, relative to the model directory.
ONNX_CANDIDATES: tuple[str, ...] = (
    "onnx/model.onnx",
    "model.onnx",
    "onnx/model_quantized.onnx",
    "onnx/model_int8.onnx",
    "onnx/model_uint8.onnx",
    "onnx/model_q4.onnx",
)
#: PyTorch weight files, run through transformers when no ONNX file is there.
TORCH_WEIGHTS: tuple[str, ...] = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)

Activation = Literal["softmax", "sigmoid", "identity"]

# Ops that quantize activations with a scale computed over the whole tensor (the whole
# batch): a row's scores would then depend on what else shares its batch.
_DYNAMIC_QUANT_OPS = (b"DynamicQuantizeLinear", b"DynamicQuantizeMatMul", b"MatMulIntegerToFloat")


class Runner(Protocol):
    """Runs one padded batch: int64 ids and mask of shape (batch, seq) -> float32 logits."""

    name: str
    batch_invariant: bool

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray: ...


def find_weights(model_dir: Path, onnx_file: str | None) -> Path | None:
    """The ONNX file to run, or None when the PyTorch weights are to be run through torch.

    Raises ModelLoadError when ``onnx_file`` is not there, the directory has no weights, or
    it has only PyTorch weights and torch is not installed."""
    onnx_path = _find_onnx(model_dir, onnx_file)
    if onnx_path is not None:
        return onnx_path
    torch_weights = [name for name in TORCH_WEIGHTS if (model_dir / name).is_file()]
    if not torch_weights:
        raise ModelLoadError(
            f"No model weights in {model_dir}: looked for {', '.join(ONNX_CANDIDATES)} "
            f"and {', '.join(TORCH_WEIGHTS)}.",
            hint="Point --model at a directory with ONNX or safetensors weights.",
        )
    if not _torch_importable():
        raise ModelLoadError(
            f"{model_dir} has only PyTorch weights ({torch_weights[0]}) and torch is not "
            "installed.",
            hint=(
                "Install torch (pip install 'ner-tui[torch]'), or export ONNX weights once: "
                f"optimum-cli export onnx --model {model_dir} --task token-classification "
                f"{model_dir}"
            ),
        )
    return None


def open_runner(
    model_dir: Path,
    onnx_path: Path | None,
    threads: int | None,
    input_names: Sequence[str],
    nice: int = 0,
) -> Runner:
    """An ONNX Runtime session for ``onnx_path``, else transformers + torch on ``model_dir``
    (``input_names``: the tokenizer's, to know whether the model takes token_type_ids).

    ``nice`` > 0: ONNX Runtime's worker threads run at that much lower OS priority (see
    :func:`lower_thread_priority`)."""
    if onnx_path is not None:
        if nice <= 0 or not sys.platform.startswith("linux"):
            return _OnnxRunner(onnx_path, threads)
        # ORT starts its intra-op threads when the session is created, and a Linux thread
        # inherits its creator's nice value: create it from a thread of lowered priority
        # (which then ends; the caller's own priority cannot be raised back unprivileged).
        box: list[_OnnxRunner | BaseException] = []

        def create() -> None:
            lower_thread_priority(nice)
            try:
                box.append(_OnnxRunner(onnx_path, threads))
            except BaseException as exc:  # re-raised in the caller's thread
                box.append(exc)

        creator = threading.Thread(target=create, name="ner-tui-engine-load", daemon=True)
        creator.start()
        creator.join()
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]
    return _TorchRunner(model_dir, threads, input_names)


def lower_thread_priority(nice: int) -> bool:
    """Raise the calling thread's nice value by ``nice`` (Linux, where nice is per thread;
    threads it starts inherit it). The app's engine runs so: its threads then take the CPU
    only when the event loop's thread does not want it, so the interface keeps answering keys
    while a long document is predicted, and the engine loses nothing on a machine otherwise
    idle. A no-op (False) elsewhere, where the call would lower the whole process."""
    if nice <= 0 or not sys.platform.startswith("linux"):
        return False
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError:  # pragma: no cover - a best effort
        return False
    return True


def _find_onnx(model_dir: Path, onnx_file: str | None) -> Path | None:
    if onnx_file is not None:
        for candidate in (Path(onnx_file), model_dir / onnx_file, model_dir / "onnx" / onnx_file):
            if candidate.is_file():
                return candidate
        raise ModelLoadError(f"No ONNX file {onnx_file!r} in {model_dir}.")
    for rel in ONNX_CANDIDATES:
        if (model_dir / rel).is_file():
            return model_dir / rel
    return None


def _torch_importable() -> bool:
    return importlib.util.find_spec("torch") is not None


_ORT_DTYPES: dict[str, Any] = {
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(bool)": np.bool_,
    "tensor(uint8)": np.uint8,
    "tensor(int8)": np.int8,
}


class _OnnxRunner:
    """An ONNX Runtime session fed only the inputs its graph declares, in the declared dtypes."""

    def __init__(self, path: Path, threads: int | None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - a hard dependency
            raise ModelLoadError(
                f"onnxruntime is not importable: {exc}", hint="pip install onnxruntime"
            ) from exc
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.inter_op_num_threads = 1
        # No CPU arena: with it, the largest pass ever run sets the process' memory for good
        # (a 64 x 512 pass took a server from 0.2 to 4 GB and kept it there); without it ORT
        # frees each pass' buffers and give_back_memory() can return them to the system.
        opts.enable_cpu_mem_arena = False
        if threads:
            opts.intra_op_num_threads = threads
        # Fatal only: every error reaches the caller as an exception with its own message, so
        # ORT need not also print it to a terminal that may be showing the TUI.
        opts.log_severity_level = 4
        try:
            self.session = ort.InferenceSession(
                str(path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise ModelLoadError(f"ONNX Runtime could not load {path}: {exc}") from exc
        self.inputs: list[tuple[str, Any]] = []
        for arg in self.session.get_inputs():
            if arg.name not in ("input_ids", "attention_mask", "token_type_ids", "position_ids"):
                raise ModelLoadError(
                    f"{path.name} wants an input named {arg.name!r}; the engine can feed "
                    "input_ids, attention_mask, token_type_ids and position_ids.",
                    hint="Export the model for the token-classification task.",
                )
            self.inputs.append((arg.name, _ORT_DTYPES.get(arg.type, np.int64)))
        if "input_ids" not in {name for name, _ in self.inputs}:
            raise ModelLoadError(f"{path.name} has no input_ids input.")
        outputs = [o.name for o in self.session.get_outputs()]
        self.output = "logits" if "logits" in outputs else outputs[0]
        self.name = f"ONNX Runtime · {path.name}"
        self.batch_invariant = not _has_dynamic_quantization(path)

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feed: dict[str, np.ndarray] = {}
        for name, dtype in self.inputs:
            if name == "input_ids":
                value = input_ids
            elif name == "attention_mask":
                value = attention_mask
            elif name == "token_type_ids":
                value = np.zeros_like(input_ids)
            else:  # position_ids
                value = np.broadcast_to(
                    np.arange(input_ids.shape[1], dtype=np.int64), input_ids.shape
                )
            feed[name] = np.ascontiguousarray(value, dtype=dtype)
        (logits,) = self.session.run([self.output], feed)
        return np.asarray(logits, dtype=np.float32)


def _has_dynamic_quantization(path: Path) -> bool:
    """Whether the graph quantizes activations per batch (op names are plain strings in the
    protobuf, so a byte scan finds them without the ``onnx`` package)."""
    try:
        with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            return any(mm.find(op) != -1 for op in _DYNAMIC_QUANT_OPS)
    except (OSError, ValueError):
        return False


class _TorchRunner:
    """transformers' AutoModelForTokenClassification on the CPU."""

    batch_invariant = True

    def __init__(self, model_dir: Path, threads: int | None, input_names: Sequence[str]) -> None:
        import torch
        from transformers import AutoModelForTokenClassification
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no "Loading weights" bar over the TUI
        if threads:
            torch.set_num_threads(threads)
        try:
            self.model = AutoModelForTokenClassification.from_pretrained(
                str(model_dir), local_files_only=True
            ).eval()
        except Exception as exc:
            raise ModelLoadError(f"transformers could not load {model_dir}: {exc}") from exc
        self.torch = torch
        self.token_types = "token_type_ids" in input_names
        self.name = f"transformers + torch {torch.__version__}"

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        torch = self.torch
        kwargs = {
            "input_ids": torch.from_numpy(np.ascontiguousarray(input_ids, dtype=np.int64)),
            "attention_mask": torch.from_numpy(
                np.ascontiguousarray(attention_mask, dtype=np.int64)
            ),
        }
        if self.token_types:
            kwargs["token_type_ids"] = torch.zeros_like(kwargs["input_ids"])
        with torch.inference_mode():
            logits = self.model(**kwargs).logits
        return logits.float().numpy()


_LIBC: Any = None


def give_back_memory() -> bool:
    """Return freed heap pages to the system (glibc's ``malloc_trim``), so a burst of large
    passes does not leave the process at its peak size. A no-op (False) off glibc."""
    global _LIBC
    if _LIBC is None:
        _LIBC = False
        try:
            import ctypes
            import ctypes.util
            import sys

            if sys.platform.startswith("linux"):
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                if hasattr(libc, "malloc_trim"):
                    libc.malloc_trim.argtypes = [ctypes.c_size_t]
                    libc.malloc_trim.restype = ctypes.c_int
                    _LIBC = libc
        except OSError:
            _LIBC = False
    if _LIBC is False:
        return False
    _LIBC.malloc_trim(0)
    return True


def activate(logits: np.ndarray, activation: Activation) -> np.ndarray:
    """Logit rows -> scores under ``activation`` (softmax over the last axis, float32)."""
    if activation == "identity":
        return logits
    if activation == "sigmoid":
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return (exp / exp.sum(axis=-1, keepdims=True)).astype(np.float32)


def activation_for(config: dict[str, Any], num_labels: int) -> Activation:
    """vLLM's activation for a classification head: identity for ``regression``, sigmoid for
    ``multi_label_classification`` or a single label, else softmax."""
    problem = config.get("problem_type")
    if problem == "regression":
        return "identity"
    if problem == "multi_label_classification":
        return "sigmoid"
    if problem == "single_label_classification":
        return "softmax"
    return "sigmoid" if num_labels == 1 else "softmax"
