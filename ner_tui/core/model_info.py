"""A model as the client needs it: its fast tokenizer, label names and window size.

Loaded with ``AutoTokenizer``/``AutoConfig``, the calls real users make, from a local directory
or a hub id. The special-token template (which ids go before and after one sequence) is read
here once, off the tokenizer's own post-processor, and used by the alignment module and the
server alike.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ner_tui.core.errors import ModelLoadError, one_line
from ner_tui.core.hub import looks_like_hub_id
from ner_tui.core.labels import id2label_names, is_generic_label

__all__ = ["ModelInfo", "load_model_info", "position_limit", "special_template"]


_SANE_MAX_LEN = 1_000_000  # tokenizers without a limit report int(1e30)
_PROBES = ("a", "hello", "0", "The", ".", "x y")
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "vocab.json",
    "sentencepiece.bpe.model",
    "spiece.model",
    "tokenizer.model",
)
# Model types whose position ids start after the padding index (max_position_embeddings 514
# for a 512-token window).
_OFFSET_POSITION_TYPES = frozenset(
    {"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "longformer", "data2vec-text"}
)


@dataclass(frozen=True, eq=False)
class ModelInfo:
    """What the client needs of a model: its fast tokenizer, label names and window size.

    Made by :func:`load_model_info`; constructing one directly works too (the special-token
    template is then read off the tokenizer)."""

    name_or_path: str
    tokenizer: Any  # a transformers fast tokenizer (PreTrainedTokenizerFast / TokenizersBackend)
    id2label: tuple[str, ...]
    max_model_len: int | None = None  # tokens per request, special tokens included
    warnings: tuple[str, ...] = ()  # things a person should know (generic LABEL_n names)
    # (ids before, ids after) the content of one sequence; None: found from the tokenizer.
    special_template: tuple[tuple[int, ...], tuple[int, ...]] | None = None
    # Fast tokenizers are not safe to call from several threads at once ("Already borrowed").
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.special_template is None:
            template = special_template(self.tokenizer, self.name_or_path)
            object.__setattr__(self, "special_template", template)

    @property
    def prefix_ids(self) -> tuple[int, ...]:
        """Special token ids before the content (``[CLS]``, ``<s>``; may be empty)."""
        return self.special_template[0] if self.special_template else ()

    @property
    def suffix_ids(self) -> tuple[int, ...]:
        """Special token ids after the content (``[SEP]``, ``</s>``; may be empty)."""
        return self.special_template[1] if self.special_template else ()

    @property
    def num_labels(self) -> int:
        return len(self.id2label)


_TRANSFORMERS_IMPORT = threading.Lock()


def import_transformers() -> Any:
    """The ``transformers`` module, its tokenizer classes loaded. transformers' lazy imports
    are not thread-safe: two threads loading their first tokenizer at once (model A and model B
    of a comparison) can see "cannot import name 'AutoTokenizer'", so the first import is
    done under one lock."""
    with _TRANSFORMERS_IMPORT:
        import transformers
        from transformers import AutoConfig, AutoTokenizer  # noqa: F401 - loads the lazy names

        return transformers


def load_model_info(model: str | Path, *, max_model_len: int | None = None) -> ModelInfo:
    """Load the fast tokenizer and ``id2label`` of ``model`` (a local directory or a hub id).

    Uses ``AutoTokenizer.from_pretrained`` and ``AutoConfig.from_pretrained``, the calls real
    users make. ``max_model_len`` overrides the window found in the tokenizer/config (pass the
    server's value from ``/v1/models`` when there is one). Every failure is a
    :class:`ModelLoadError` saying what was tried.
    """
    name = str(model)
    where = _describe_source(model)
    try:
        transformers = import_transformers()
        AutoConfig, AutoTokenizer = transformers.AutoConfig, transformers.AutoTokenizer
    except ImportError as exc:  # pragma: no cover - transformers is a dependency
        raise ModelLoadError(
            f"Cannot load {name!r}: transformers is not installed ({exc})."
        ) from exc

    local = Path(name).expanduser()
    if not local.exists() and not looks_like_hub_id(model):
        raise ModelLoadError(f"No model directory at {name!r} ({where}): it does not exist.")
    if local.exists() and not local.is_dir():
        raise ModelLoadError(
            f"{name!r} is a file, not a model directory: give the directory that holds "
            "tokenizer.json and config.json."
        )
    source = str(local) if local.exists() else name
    if local.is_dir() and not any((local / f).is_file() for f in _TOKENIZER_FILES):
        present = ", ".join(sorted(p.name for p in local.iterdir())[:8]) or "nothing"
        raise ModelLoadError(
            f"{name!r} ({where}) has no tokenizer: none of {', '.join(_TOKENIZER_FILES)} "
            f"is there (found: {present})."
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except Exception as exc:
        raise ModelLoadError(
            f"Could not load a tokenizer from {name!r} ({where}): {one_line(exc)}"
        ) from exc
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(
            f"{name!r} has no fast tokenizer (got {type(tokenizer).__name__}): ner-tui needs "
            "character offsets, which only fast tokenizers (a tokenizer.json) provide.",
            hint="Use a model that ships tokenizer.json, or convert its tokenizer to a fast one.",
        )
    try:
        config = AutoConfig.from_pretrained(source)
    except Exception as exc:
        raise ModelLoadError(
            f"Could not load config.json from {name!r} ({where}): {one_line(exc)}. "
            "The label names (id2label) come from the model's config."
        ) from exc

    id2label, warnings = _labels_from_config(name, config)
    template = special_template(tokenizer, name)
    window = max_model_len if max_model_len is not None else _window_from(tokenizer, config)
    return ModelInfo(
        name_or_path=name,
        tokenizer=tokenizer,
        id2label=id2label,
        max_model_len=window,
        warnings=tuple(warnings),
        special_template=template,
    )


def _describe_source(model: str | Path) -> str:
    path = Path(str(model)).expanduser()
    if path.is_dir():
        return f"local directory {path.resolve()}"
    if path.exists():
        return f"local path {path.resolve()}, which is not a directory"
    if not looks_like_hub_id(model):
        return "a local path"
    return "not a local directory, so tried as a Hugging Face hub id"


# A Hugging Face repo id, as huggingface_hub's validate_repo_id has it: "name" or
# "namespace/name", ASCII letters, digits, "_", "-" and ".", each part starting and ending with
# a letter, digit or "_", at most 96 characters each; "--", ".." and a ".git" end are not allowed.
def _labels_from_config(name: str, config: Any) -> tuple[tuple[str, ...], list[str]]:
    raw = getattr(config, "id2label", None)
    if not raw:
        raise ModelLoadError(f"{name!r} has no id2label in its config.json: no label names.")
    try:
        labels = id2label_names(dict(raw))
    except ValueError as exc:
        raise ModelLoadError(f"{name!r}: {exc}.") from exc
    warnings = []
    if all(is_generic_label(label) for label in labels):
        warnings.append(
            f"{name!r} has only generic label names ({labels[0]}..{labels[-1]}): its "
            "config.json names no entity types, so entities are shown by label number."
        )
    return labels, warnings


def special_template(tokenizer: Any, name: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The special token ids the tokenizer puts before and after a single sequence."""
    for probe in _PROBES:
        enc = tokenizer(probe, add_special_tokens=True, return_attention_mask=False)
        seq = enc.sequence_ids(0)
        content = [i for i, s in enumerate(seq) if s is not None]
        if not content:
            continue
        ids = list(enc["input_ids"])
        return tuple(ids[: content[0]]), tuple(ids[content[-1] + 1 :])
    raise ModelLoadError(
        f"The tokenizer of {name!r} turns every probe text into special tokens only; "
        "cannot tell where its special tokens go."
    )


def _window_from(tokenizer: Any, config: Any) -> int | None:
    """The model window: the tokenizer's model_max_length and the config's position limit."""
    candidates = []
    tok_len = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_len, int) and 0 < tok_len <= _SANE_MAX_LEN:
        candidates.append(tok_len)
    positions = position_limit(config.to_dict() if hasattr(config, "to_dict") else vars(config))
    if positions is not None:
        candidates.append(positions)
    return min(candidates) if candidates else None


_POSITION_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length")


def position_limit(config: Mapping[str, Any]) -> int | None:
    """The tokens a model's positions allow, from its ``config.json``: the smallest position
    limit it names, less the padding offset of RoBERTa-style models (whose positions start
    after ``pad_token_id``, so 514 positions hold a 512-token window)."""
    values = [
        v for k in _POSITION_KEYS if isinstance(v := config.get(k), int) and 0 < v <= _SANE_MAX_LEN
    ]
    if not values:
        return None
    length = min(values)
    if config.get("model_type") in _OFFSET_POSITION_TYPES:
        pad = config.get("pad_token_id")
        length -= (pad if isinstance(pad, int) and pad >= 0 else 1) + 1
    return length if length > 0 else None
