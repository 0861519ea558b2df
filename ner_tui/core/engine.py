"""The local engine: a token-classification model run in-process, scored the way vLLM's
``token_classify`` pooler scores it.

:class:`LocalEngine` implements :class:`~ner_tui.core.backend.PoolingBackend`, so the
alignment layer, ``ner-tui predict`` and the TUI use it exactly like the HTTP client, and
``ner-tui serve`` wraps it in a vLLM-compatible server.

Which weights run, and the runtime that runs them, is :mod:`ner_tui.core.runners`' choice.

Rows are what vLLM returns: one per token, special tokens included, passed through the
model's activation (:func:`~ner_tui.core.runners.activation_for`), raw logits with
``use_activation=False``.

onnxruntime, transformers and torch are imported only when a model is loaded.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ner_tui.core.backend import ModelCard, PoolingResult
from ner_tui.core.errors import (
    InputTooLong,
    ModelLoadError,
    NerTuiError,
    UnknownModel,
    one_line,
)
from ner_tui.core.hub import model_directory
from ner_tui.core.labels import id2label_names
from ner_tui.core.model_info import position_limit
from ner_tui.core.runners import (
    Activation,
    Runner,
    activate,
    activation_for,
    find_weights,
    give_back_memory,
    open_runner,
)
from ner_tui.core.scheduler import (
    DEFAULT_MAX_NUM_BATCHED_TOKENS,
    DEFAULT_MAX_NUM_SEQS,
    Scheduler,
)

__all__ = ["InvalidPrompt", "LocalEngine", "too_long_message"]

# Sub-batches: at most this many rows and this many padded tokens per forward pass.
MAX_BATCH_ROWS = 64
MAX_BATCH_TOKENS = 16384
# A sub-batch of at least MIN_SPLIT_ROWS rows is closed rather than grown past MAX_PADDING
# padding (as a fraction of its real tokens): padded positions cost as much as real ones.
MIN_SPLIT_ROWS = 8
MAX_PADDING = 0.1


class InvalidPrompt(NerTuiError, ValueError):
    """A prompt the model cannot run: empty, or token ids outside the vocabulary."""

    hint = "Send token ids produced by this model's own tokenizer."


def too_long_message(max_model_len: int, n_tokens: int, at_least: bool = False) -> str:
    """vLLM's wording (0.32) for an input longer than the context window; ``at_least`` when
    only a prefix of the text was tokenized (vLLM stops at max_model_len + 1 tokens)."""
    return (
        f"This model's maximum context length is {max_model_len} tokens. However, your prompt "
        f"contains {'at least ' if at_least else ''}{n_tokens} input tokens, which exceeds "
        "this limit even without any output tokens. Please reduce the length of the input prompt. "
        f"(parameter=input_tokens, value={n_tokens})"
    )


class LocalEngine:
    """A token classifier run in this process; a :class:`PoolingBackend`.

    Build it with :meth:`load`. ``pool`` runs in the scheduler's thread (never on the
    event loop), batching concurrent calls; ``run_ids``, ``tokenize`` and ``activate`` are the
    synchronous pieces ``ner-tui serve`` uses."""

    def __init__(
        self,
        *,
        model_dir: Path,
        runner: Runner,
        tokenizer: Any,
        config: dict[str, Any],
        id2label: tuple[str, ...],
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
        self.id2label = id2label
        self.num_labels = len(id2label)
        self.activation: Activation = activation_for(config, self.num_labels)
        self.vocab_size = int(config.get("vocab_size") or len(tokenizer))
        self.pad_token_id = int(tokenizer.pad_token_id or 0)
        self.max_batch_rows = MAX_BATCH_ROWS if runner.batch_invariant else 1
        self.max_num_batched_tokens = DEFAULT_MAX_NUM_BATCHED_TOKENS
        self.max_num_seqs = DEFAULT_MAX_NUM_SEQS
        self._scheduler: Scheduler | None = None
        self._closed = False
        self.nice = 0  # > 0: the engine's threads run at lower OS priority (see load)

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
        nice: int = 0,
    ) -> LocalEngine:
        """Load tokenizer, config and weights from a Hugging Face model directory (or hub id).

        ``threads`` caps the CPU threads of one forward pass (default: the runtime's choice).
        ``served_model_name`` defaults to ``model_dir`` as given. ``max_model_len`` defaults
        to the config's position limit and may not exceed it. ``nice`` > 0 (the app's
        engine): the engine's threads run at that much lower OS priority on Linux, so the
        interface's thread gets the CPU first (``runners.lower_thread_priority``). Raises
        ModelLoadError."""
        path = model_directory(model_dir)
        config_path = path / "config.json"
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ModelLoadError(f"{path} has no config.json.") from exc
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"Cannot read {config_path}: {exc}") from exc
        raw_labels = config.get("id2label") if isinstance(config, dict) else None
        if not isinstance(raw_labels, dict) or not raw_labels:
            raise ModelLoadError(
                f"{config_path} has no id2label: not a token-classification model.",
                hint="Use a *ForTokenClassification model directory.",
            )
        try:
            id2label = id2label_names(raw_labels)
        except ValueError as exc:
            raise ModelLoadError(
                f"{config_path}: {exc}.",
                hint="id2label maps the label ids 0..n-1, as strings, to label names.",
            ) from exc

        onnx_path = find_weights(path, onnx_file)

        tokenizer = _load_tokenizer(path)
        derived = position_limit(config)
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

        runner = open_runner(path, onnx_path, threads, list(tokenizer.model_input_names), nice=nice)
        engine = cls(
            model_dir=path,
            runner=runner,
            tokenizer=tokenizer,
            config=config,
            id2label=id2label,
            served_model_name=served_model_name or str(model_dir),
            max_model_len=limit,
            threads=threads,
        )
        engine.nice = max(0, nice)
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
                    scores = activate(scores, self.activation)
                out[index] = np.ascontiguousarray(scores, dtype=np.float32)
            start = end
        return [row for row in out if row is not None]

    def activate(self, logits: np.ndarray) -> np.ndarray:
        """The model's activation (softmax, sigmoid or identity) applied to raw logit rows."""
        return np.ascontiguousarray(activate(logits, self.activation), dtype=np.float32)

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
        """Score prompts through the engine's :class:`~ner_tui.core.scheduler.Scheduler`.
        Calls made concurrently (the alignment layer sends one per text) share forward passes,
        as on a batching server; a call that is cancelled drops its passes not yet run."""
        if model is not None and model != self.served_model_name:
            raise UnknownModel(f"The model `{model}` does not exist.")
        if isinstance(prompts, str):
            raise TypeError("pass a list of prompts, not a str")
        if len(prompts) == 0:
            raise InvalidPrompt("You must pass at least one prompt")
        started = time.perf_counter()
        if any(isinstance(p, str) for p in prompts):
            ids = await asyncio.to_thread(self._as_ids, prompts)
        else:
            ids = self._as_ids(prompts)
        self.check_ids(ids)
        rows = await self.submit(ids)
        if use_activation is not False:
            rows = [self.activate(r) for r in rows]
        return PoolingResult(
            rows=rows,
            model=self.served_model_name,
            prompt_tokens=sum(len(x) for x in ids),
            elapsed_ms=(time.perf_counter() - started) * 1000.0,
        )

    async def submit(
        self,
        ids: list[list[int]],
        *,
        on_start: Callable[[float], None] | None = None,
    ) -> list[np.ndarray]:
        """Raw logit rows for checked token-id prompts, through the scheduler; cancelling the
        awaiting task abandons the request (its passes not yet run are dropped)."""
        if self._closed:
            raise NerTuiError("The local engine is closed.", hint="Load it again.")
        future = self.scheduler.submit(ids, on_start=on_start)
        return await asyncio.wrap_future(future)

    @property
    def scheduler(self) -> Scheduler:
        """The engine's one scheduler (started on first use)."""
        if self._scheduler is None:
            self._scheduler = Scheduler(
                lambda prompts: self._forward(prompts, use_activation=False),
                max_num_batched_tokens=self.max_num_batched_tokens,
                max_num_seqs=self.max_num_seqs,
                on_idle=give_back_memory,
                nice=self.nice,
            )
        return self._scheduler

    def configure(
        self, *, max_num_batched_tokens: int, max_num_seqs: int, batch_window_s: float = 0.0
    ) -> None:
        """Set the scheduler's limits."""
        scheduler = self.scheduler
        scheduler.max_num_batched_tokens = self.max_num_batched_tokens = max(
            1, max_num_batched_tokens
        )
        scheduler.max_num_seqs = self.max_num_seqs = max(1, max_num_seqs)
        scheduler.batch_window_s = max(0.0, batch_window_s)

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        """Stop the scheduler thread (calls still queued are cancelled)."""
        self._closed = True
        if self._scheduler is not None:
            self._scheduler.close()


def _load_tokenizer(path: Path) -> Any:
    """The model's fast tokenizer, as vLLM (and ner-tui's alignment) load it."""
    try:
        from ner_tui.core.model_info import import_transformers

        auto = import_transformers().AutoTokenizer
        tokenizer = auto.from_pretrained(str(path), local_files_only=True)
    except Exception as exc:
        raise ModelLoadError(f"Cannot load the tokenizer of {path}: {exc}") from exc
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(
            f"{path} has no fast tokenizer (tokenizer.json).",
            hint="Save the tokenizer with a recent transformers to get tokenizer.json.",
        )
    return tokenizer
