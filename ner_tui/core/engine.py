"""The local engine: a token-classification model run in-process, scored the way vLLM's
``token_classify`` pooler scores it.

:class:`LocalEngine` implements :class:`~ner_tui.core.backend.PoolingBackend`, so the
alignment layer, ``ner-tui predict`` and the TUI use it exactly like the HTTP client, and
``ner-tui serve`` wraps it in a vLLM-compatible server.

Weights, in order of preference (the first file that exists wins; ``onnx_file=`` overrides):

1. ``onnx/model.onnx`` then ``model.onnx`` (full precision; Optimum writes the latter),
2. ``onnx/model_quantized.onnx``, ``onnx/model_int8.onnx``, ``onnx/model_uint8.onnx``,
   ``onnx/model_q4.onnx`` (transformers.js' quantized variants),
3. ``model.safetensors`` / ``pytorch_model.bin`` (sharded too) through transformers + torch,
   when torch is importable.

Rows are what vLLM returns: one per token, special tokens included; softmax over labels by
default (sigmoid for ``problem_type: multi_label_classification`` or a single label, identity
for ``regression``), raw logits with ``use_activation=False``.

onnxruntime, transformers and torch are imported only when a model is loaded.
"""

from __future__ import annotations

import asyncio
import json
import mmap
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from ner_tui.core.alignment import looks_like_hub_id
from ner_tui.core.backend import ModelCard, PoolingResult
from ner_tui.core.errors import (
    InputTooLong,
    ModelLoadError,
    NerTuiError,
    UnknownModel,
    one_line,
)

__all__ = ["ONNX_CANDIDATES", "InvalidPrompt", "LocalEngine", "too_long_message"]

#: ONNX files looked for, in order of preference, relative to the model directory.
ONNX_CANDIDATES: tuple[str, ...] = (
    "onnx/model.onnx",
    "model.onnx",
    "onnx/model_quantized.onnx",
    "onnx/model_int8.onnx",
    "onnx/model_uint8.onnx",
    "onnx/model_q4.onnx",
)
TORCH_WEIGHTS: tuple[str, ...] = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)

# Sub-batches: at most this many rows and this many padded tokens per forward pass.
MAX_BATCH_ROWS = 64
MAX_BATCH_TOKENS = 16384
# A sub-batch of at least MIN_SPLIT_ROWS rows is closed rather than grown past MAX_PADDING
# padding (as a fraction of its real tokens): padded positions cost as much as real ones.
MIN_SPLIT_ROWS = 8
MAX_PADDING = 0.1

Activation = Literal["softmax", "sigmoid", "identity"]

# Ops that quantize activations with a scale computed over the whole tensor (the whole
# batch): a row's scores would then depend on what else shares its batch.
_DYNAMIC_QUANT_OPS = (b"DynamicQuantizeLinear", b"DynamicQuantizeMatMul", b"MatMulIntegerToFloat")


class InvalidPrompt(NerTuiError, ValueError):
    """A prompt the model cannot run: empty, or token ids outside the vocabulary."""

    hint = "Send token ids produced by this model's own tokenizer."


def too_long_message(max_model_len: int, n_tokens: int) -> str:
    """vLLM's wording (0.32) for an input longer than the context window."""
    return (
        f"This model's maximum context length is {max_model_len} tokens. However, your prompt "
        f"contains {n_tokens} input tokens, which exceeds this limit even without any output "
        "tokens. Please reduce the length of the input prompt. "
        f"(parameter=input_tokens, value={n_tokens})"
    )


class _Runner(Protocol):
    """Runs one padded batch: int64 ids and mask of shape (batch, seq) -> float32 logits."""

    name: str
    batch_invariant: bool

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray: ...


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


def _activate(logits: np.ndarray, activation: Activation) -> np.ndarray:
    if activation == "identity":
        return logits
    if activation == "sigmoid":
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return (exp / exp.sum(axis=-1, keepdims=True)).astype(np.float32)


def _activation_for(config: dict[str, Any], num_labels: int) -> Activation:
    """vLLM's choice for classification heads: per problem_type, else sigmoid for one label."""
    problem = config.get("problem_type")
    if problem == "regression":
        return "identity"
    if problem == "multi_label_classification":
        return "sigmoid"
    if problem == "single_label_classification":
        return "softmax"
    return "sigmoid" if num_labels == 1 else "softmax"


_POSITION_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length")


def _derived_max_len(config: dict[str, Any]) -> int | None:
    """The context window the config allows (RoBERTa-style positions start after padding_idx)."""
    values = [int(config[k]) for k in _POSITION_KEYS if isinstance(config.get(k), int)]
    if not values:
        return None
    length = min(values)
    if config.get("model_type") in ("roberta", "xlm-roberta", "camembert", "longformer"):
        length -= int(config.get("pad_token_id") or 1) + 1
    return length


def _resolve_dir(model: str | Path) -> Path:
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    name = str(model)
    if path.exists():
        raise ModelLoadError(f"{name} is a file, not a model directory.")
    if looks_like_hub_id(model):
        try:
            from huggingface_hub import snapshot_download

            return Path(
                snapshot_download(
                    name,
                    allow_patterns=[
                        "*.json",
                        "*.txt",
                        "*.model",
                        "onnx/*",
                        "*.onnx",
                        "*.onnx_data",
                        "*.safetensors",
                    ],
                )
            )
        except Exception as exc:
            raise ModelLoadError(
                f"No local directory {name!r}, and the Hugging Face hub did not provide it: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    raise ModelLoadError(f"No such model directory: {name}")


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
    import importlib.util

    return importlib.util.find_spec("torch") is not None


class LocalEngine:
    """A token classifier run in this process; a :class:`PoolingBackend`.

    Build it with :meth:`load`. ``pool`` runs in the engine's inference thread (never on the
    event loop), batching concurrent calls; ``run_ids``, ``tokenize`` and ``activate`` are the
    synchronous pieces ``ner-tui serve`` uses."""

    def __init__(
        self,
        *,
        model_dir: Path,
        runner: _Runner,
        tokenizer: Any,
        config: dict[str, Any],
        served_model_name: str,
        max_model_len: int | None,
        threads: int | None,
    ) -> None:
        self.model_dir = model_dir
        self.config = config
        self.tokenizer = tokenizer
        self.served_model_name = served_model_name
        self.max_model_len = max_model_len
        self.threads = threads
        self._runner = runner
        id2label = config.get("id2label") or {}
        keys = sorted(id2label, key=lambda k: int(k))
        self.id2label: tuple[str, ...] = tuple(str(id2label[k]) for k in keys)
        self.num_labels = len(self.id2label) or int(config.get("num_labels", 0))
        self.activation: Activation = _activation_for(config, self.num_labels)
        self.vocab_size = int(config.get("vocab_size") or len(tokenizer))
        self.pad_token_id = int(tokenizer.pad_token_id or 0)
        self.max_batch_rows = MAX_BATCH_ROWS if runner.batch_invariant else 1
        self._worker = _InferenceThread(self)

    # ---------------------------------------------------------------- loading

    @classmethod
    def load(
        cls,
        model_dir: str | Path,
        *,
        threads: int | None = None,
        served_model_name: str | None = None,
        max_model_len: int | None = None,
        onnx_file: str | None = None,
    ) -> LocalEngine:
        """Load tokenizer, config and weights from a Hugging Face model directory (or hub id).

        ``threads`` caps the CPU threads of one forward pass (default: the runtime's choice).
        ``served_model_name`` defaults to ``model_dir`` as given. ``max_model_len`` defaults
        to the config's position limit and may not exceed it. Raises ModelLoadError."""
        path = _resolve_dir(model_dir)
        config_path = path / "config.json"
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ModelLoadError(f"{path} has no config.json.") from exc
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"Cannot read {config_path}: {exc}") from exc
        if (
            not isinstance(config, dict)
            or not isinstance(config.get("id2label"), dict)
            or not config["id2label"]
        ):
            raise ModelLoadError(
                f"{config_path} has no id2label: not a token-classification model.",
                hint="Use a *ForTokenClassification model directory.",
            )
        if not all(str(k).lstrip("-").isdigit() for k in config["id2label"]):
            raise ModelLoadError(
                f"{config_path} has id2label keys that are not label indices: "
                f"{list(config['id2label'])[:5]}"
            )

        onnx_path = _find_onnx(path, onnx_file)
        torch_weights = [name for name in TORCH_WEIGHTS if (path / name).is_file()]
        if onnx_path is None and not torch_weights:
            raise ModelLoadError(
                f"No model weights in {path}: looked for {', '.join(ONNX_CANDIDATES)} "
                f"and {', '.join(TORCH_WEIGHTS)}.",
                hint="Point --model at a directory with ONNX or safetensors weights.",
            )
        if onnx_path is None and not _torch_importable():
            raise ModelLoadError(
                f"{path} has only PyTorch weights ({torch_weights[0]}) and torch is not installed.",
                hint=(
                    "Install torch (pip install 'ner-tui[torch]'), or export ONNX weights once: "
                    f"optimum-cli export onnx --model {path} --task token-classification {path}"
                ),
            )

        tokenizer = _load_tokenizer(path)
        derived = _derived_max_len(config)
        if max_model_len is not None:
            if max_model_len < 1:
                raise ModelLoadError(f"max_model_len must be positive, got {max_model_len}.")
            if derived is not None and max_model_len > derived:
                raise ModelLoadError(
                    f"max_model_len {max_model_len} is larger than the model's "
                    f"{derived} positions.",
                    hint=f"Use --max-model-len {derived} or less.",
                )
        limit = max_model_len if max_model_len is not None else derived

        runner: _Runner
        if onnx_path is not None:
            runner = _OnnxRunner(onnx_path, threads)
        else:
            runner = _TorchRunner(path, threads, list(tokenizer.model_input_names))
        engine = cls(
            model_dir=path,
            runner=runner,
            tokenizer=tokenizer,
            config=config,
            served_model_name=served_model_name or str(model_dir),
            max_model_len=limit,
            threads=threads,
        )
        engine._probe()
        return engine

    def _probe(self) -> None:
        """One forward pass at load time over the first and the last token id of config.json's
        vocabulary, so weights that do not match config.json (fewer embedding rows, another
        label count) fail here with an explanation, not on the first request with the
        runtime's own message."""
        try:
            self._forward([[0, self.vocab_size - 1]], use_activation=False)
        except NerTuiError as exc:
            raise ModelLoadError(f"{self.model_dir.name}: {exc.message}", hint=exc.hint) from exc
        except Exception as exc:
            raise ModelLoadError(
                f"{self.runtime} could not run {self.model_dir.name} on token ids 0 and "
                f"{self.vocab_size - 1} (config.json says vocab_size {self.vocab_size}): "
                f"{one_line(exc)}",
                hint="config.json, the tokenizer and the weights must come from the same "
                "export; does config.json's vocab_size match the embedding rows?",
            ) from exc

    # ---------------------------------------------------------------- sync API

    @property
    def runtime(self) -> str:
        """``ONNX Runtime · model_quantized.onnx`` or ``transformers + torch 2.x``."""
        return self._runner.name

    @property
    def batch_invariant(self) -> bool:
        """False when the weights quantize activations per batch; then every sequence runs
        in a forward pass of its own, so scores never depend on batch neighbours."""
        return self._runner.batch_invariant

    def tokenize(self, text: str, add_special_tokens: bool = True) -> list[int]:
        """Token ids exactly as the engine's tokenizer gives them (no truncation)."""
        return list(self.tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"])

    def tokenize_batch(
        self, texts: Sequence[str], add_special_tokens: bool = True
    ) -> list[list[int]]:
        if not texts:
            return []
        enc = self.tokenizer(list(texts), add_special_tokens=add_special_tokens)
        return [list(ids) for ids in enc["input_ids"]]

    def token_strs(self, ids: Sequence[int]) -> list[str]:
        return list(self.tokenizer.convert_ids_to_tokens(list(ids)))

    def detokenize(self, ids: Sequence[int]) -> str:
        return str(self.tokenizer.decode(list(ids)))

    def check_ids(self, prompts: Sequence[Sequence[int]]) -> None:
        """Raise InvalidPrompt / InputTooLong for prompts the model cannot run."""
        for ids in prompts:
            if len(ids) == 0:
                raise InvalidPrompt("A prompt has no tokens; send at least one token id.")
            if self.max_model_len is not None and len(ids) > self.max_model_len:
                raise InputTooLong(too_long_message(self.max_model_len, len(ids)))
            low, high = min(ids), max(ids)
            if low < 0 or high >= self.vocab_size:
                bad = low if low < 0 else high
                raise InvalidPrompt(
                    f"Token id {bad} is out of vocabulary (the vocabulary has "
                    f"{self.vocab_size} tokens)."
                )

    def run_ids(
        self, prompts: Sequence[Sequence[int]], use_activation: bool | None = None
    ) -> list[np.ndarray]:
        """Score token-id prompts: one float32 (n_tokens, num_labels) array per prompt.

        Prompts are sorted by length into padded sub-batches (at most ``MAX_BATCH_ROWS`` rows
        and ``MAX_BATCH_TOKENS`` padded tokens) so short texts are not padded to long ones."""
        self.check_ids(prompts)
        return self._forward(prompts, use_activation)

    def _forward(
        self, prompts: Sequence[Sequence[int]], use_activation: bool | None
    ) -> list[np.ndarray]:
        """:meth:`run_ids` for prompts that already passed :meth:`check_ids`."""
        arrays = [np.asarray(ids, dtype=np.int64) for ids in prompts]
        order = sorted(range(len(arrays)), key=lambda i: len(arrays[i]))
        out: list[np.ndarray | None] = [None] * len(arrays)
        start = 0
        while start < len(order):
            end = start + 1
            longest = real = len(arrays[order[start]])
            while end < len(order) and end - start < self.max_batch_rows:
                longer = len(arrays[order[end]])  # sorted: the newcomer is the longest
                padded = longer * (end - start + 1)
                if padded > MAX_BATCH_TOKENS:
                    break
                # Enough rows to batch well: start a new sub-batch rather than pad a lot.
                if end - start >= MIN_SPLIT_ROWS and padded > (1 + MAX_PADDING) * (real + longer):
                    break
                longest = longer
                real += longer
                end += 1
            chunk = order[start:end]
            ids = np.full((len(chunk), longest), self.pad_token_id, dtype=np.int64)
            mask = np.zeros((len(chunk), longest), dtype=np.int64)
            for row, index in enumerate(chunk):
                n = len(arrays[index])
                ids[row, :n] = arrays[index]
                mask[row, :n] = 1
            logits = self._runner(ids, mask)
            if (
                logits.ndim != 3
                or logits.shape[:2] != ids.shape
                or (self.num_labels and logits.shape[2] != self.num_labels)
            ):
                raise NerTuiError(
                    f"The model returned logits of shape {logits.shape} for input {ids.shape}; "
                    f"expected (batch, sequence, {self.num_labels} labels of config.json).",
                    hint="Is this a token-classification export?",
                )
            for row, index in enumerate(chunk):
                n = len(arrays[index])
                scores = logits[row, :n]
                if use_activation is not False:
                    scores = _activate(scores, self.activation)
                out[index] = np.ascontiguousarray(scores, dtype=np.float32)
            start = end
        return [row for row in out if row is not None]

    def activate(self, logits: np.ndarray) -> np.ndarray:
        """The model's activation (softmax, sigmoid or identity) applied to raw logit rows."""
        return np.ascontiguousarray(_activate(logits, self.activation), dtype=np.float32)

    def score(
        self, prompts: Sequence[Sequence[int]] | Sequence[str], use_activation: bool | None = None
    ) -> list[np.ndarray]:
        """Synchronous :meth:`pool`: str prompts are tokenized with special tokens."""
        return self.run_ids(self._as_ids(prompts), use_activation)

    def _as_ids(self, prompts: Sequence[Sequence[int]] | Sequence[str]) -> list[list[int]]:
        if isinstance(prompts, str):
            raise TypeError("pass a list of prompts, not a str")
        texts = [p for p in prompts if isinstance(p, str)]
        if len(texts) == len(prompts):
            return self.tokenize_batch(texts)
        return [self.tokenize(p) if isinstance(p, str) else [int(t) for t in p] for p in prompts]

    # ---------------------------------------------------------------- PoolingBackend

    @property
    def describe(self) -> str:
        threads = ""
        if self.threads:
            threads = f" · {self.threads} thread{'s' if self.threads > 1 else ''}"
        return f"local engine · {self._runner.name}{threads}"

    def model_card(self) -> ModelCard:
        return ModelCard(
            id=self.served_model_name, root=str(self.model_dir), max_model_len=self.max_model_len
        )

    async def list_models(self) -> list[ModelCard]:
        return [self.model_card()]

    async def pool(
        self,
        prompts: Sequence[Sequence[int]] | Sequence[str],
        *,
        model: str | None = None,
        use_activation: bool | None = None,
    ) -> PoolingResult:
        """Score prompts in the engine's inference thread. Calls made concurrently (the
        alignment layer sends one per text) share forward passes, as on a batching server."""
        if model is not None and model != self.served_model_name:
            raise UnknownModel(f"The model `{model}` does not exist.")
        if isinstance(prompts, str):
            raise TypeError("pass a list of prompts, not a str")
        if len(prompts) == 0:
            raise InvalidPrompt("You must pass at least one prompt")
        started = time.perf_counter()
        future: Future[tuple[list[np.ndarray], int]] = Future()
        self._worker.submit(_PoolJob(list(prompts), use_activation, future))
        rows, n_tokens = await asyncio.wrap_future(future)
        return PoolingResult(
            rows=rows,
            model=self.served_model_name,
            prompt_tokens=n_tokens,
            elapsed_ms=(time.perf_counter() - started) * 1000.0,
        )

    def _run_jobs(self, jobs: list[_PoolJob]) -> None:
        """One forward pass (or a few sub-batches) for several pool() calls; a bad prompt
        fails its own call only."""
        ready: list[tuple[_PoolJob, list[list[int]]]] = []
        for job in jobs:
            if not job.future.set_running_or_notify_cancel():
                continue  # the caller gave up
            try:
                ids = self._as_ids(job.prompts)
                self.check_ids(ids)
            except Exception as exc:
                job.future.set_exception(exc)
                continue
            ready.append((job, ids))
        if not ready:
            return
        try:
            logits = self._forward([x for _, ids in ready for x in ids], use_activation=False)
        except Exception as exc:
            for job, _ in ready:
                job.future.set_exception(exc)
            return
        start = 0
        for job, ids in ready:
            rows = logits[start : start + len(ids)]
            start += len(ids)
            if job.use_activation is not False:
                rows = [self.activate(r) for r in rows]
            job.future.set_result((rows, sum(len(x) for x in ids)))

    async def aclose(self) -> None:
        self._worker.close()

    def close(self) -> None:
        """Stop the inference thread (pending calls still finish)."""
        self._worker.close()


@dataclass(slots=True)
class _PoolJob:
    prompts: list[Any]  # str or token-id prompts
    use_activation: bool | None
    future: Future[tuple[list[np.ndarray], int]]


class _InferenceThread:
    """The engine's one inference thread: takes every pool() call waiting when it comes free
    and runs them together (up to MAX_BATCH_ROWS prompts), so concurrent calls batch without
    any waiting window. Started on first use; works from any event loop or thread."""

    def __init__(self, engine: LocalEngine) -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[_PoolJob | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, job: _PoolJob) -> None:
        with self._lock:
            if self._closed:
                raise NerTuiError("The local engine is closed.", hint="Load it again.")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="ner-tui-engine", daemon=True
                )
                self._thread.start()
            self._queue.put(job)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._queue.put(None)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs = [first]
            size = len(first.prompts)
            stop = False
            while size < MAX_BATCH_ROWS:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                jobs.append(job)
                size += len(job.prompts)
            self._engine._run_jobs(jobs)
            if stop:
                return


def _load_tokenizer(path: Path) -> Any:
    """The model's fast tokenizer, as vLLM (and ner-tui's alignment) load it."""
    try:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except Exception as exc:
        raise ModelLoadError(f"Cannot load the tokenizer of {path}: {exc}") from exc
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(
            f"{path} has no fast tokenizer (tokenizer.json).",
            hint="Save the tokenizer with a recent transformers to get tokenizer.json.",
        )
    return tokenizer
