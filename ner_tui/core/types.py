"""What a prediction is, shared by the decoder, ``ner-tui predict`` and the TUI.

Two stages, so the TUI can re-decode (other aggregation, strict mode, threshold) without
asking the server again:

1. :class:`ScoredText` (from :mod:`ner_tui.core.alignment`): the tokens the model saw, with
   character offsets into the original text, and one probability row per token.
2. :class:`Prediction` (from :func:`ner_tui.core.decoding.decode`): labels, confidences and
   entities with exact character spans, under some :class:`DecodeOptions`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:  # annotations only: the settings read the choices below without numpy
    import numpy as np

Aggregation = Literal["none", "simple", "first", "average", "max"]
DecodeMode = Literal["lenient", "strict"]
AGGREGATIONS: tuple[Aggregation, ...] = get_args(Aggregation)
DECODE_MODES: tuple[DecodeMode, ...] = get_args(DecodeMode)
Scheme = Literal["IOB2", "IOB1", "IOBES", "BILOU", "IO"]
SCHEMES: tuple[Scheme, ...] = get_args(Scheme)
CorpusFormat = Literal["auto", "conll", "jsonl", "text"]
CORPUS_FORMATS: tuple[CorpusFormat, ...] = get_args(CorpusFormat)


@dataclass(frozen=True, slots=True)
class Chunk:
    """One window sent to the model when the text is longer than ``max_model_len``.

    ``token_start``/``token_end`` index :attr:`ScoredText.token_ids` (content tokens of this
    window, exclusive end); ``char_start``/``char_end`` are the text it covers."""

    index: int
    token_start: int
    token_end: int
    char_start: int
    char_end: int


@dataclass(frozen=True, eq=False)
class ScoredText:
    """A text as the model saw it: tokens, offsets and one probability row per token.

    All per-token arrays have the same length ``n``. For a single-window text they are
    exactly the model's tokens including special tokens ([CLS] ... [SEP]); for a chunked text
    they are the first window's leading specials, every content token once, and the last
    window's trailing specials, each content row taken from the window where that token sits
    farthest from an edge. Special tokens have offsets ``(0, 0)``.
    """

    text: str
    token_ids: np.ndarray  # (n,) int64
    token_strs: tuple[str, ...]  # the tokenizer's token strings ("##ama", "Ġworld")
    offsets: np.ndarray  # (n, 2) int64 character offsets into ``text``
    special: np.ndarray  # (n,) bool, from special_tokens_mask (never from string comparison)
    word_ids: tuple[int | None, ...]  # None for special tokens
    probs: np.ndarray  # (n, num_labels) float32 probabilities (softmax applied exactly once)
    id2label: tuple[str, ...]  # label name for each column of ``probs``
    chunk_of: np.ndarray  # (n,) int: which chunk's row was kept for each token
    chunks: tuple[Chunk, ...]
    model: str
    source: str  # PoolingBackend.describe
    elapsed_ms: float = 0.0  # round trip of the pooling call(s)
    max_model_len: int | None = None
    notes: tuple[str, ...] = ()  # what the alignment noticed, e.g. a server ignoring use_activation

    def __len__(self) -> int:
        return len(self.token_strs)


@dataclass(frozen=True, slots=True)
class DecodeOptions:
    aggregation: Aggregation = "first"
    mode: DecodeMode = "lenient"
    threshold: float = 0.0  # entities whose mean score is below this are dropped
    top_k: int = 3  # runner-up labels kept per token


@dataclass(frozen=True, slots=True)
class TokenPrediction:
    index: int  # position in ScoredText
    text: str  # token string
    start: int
    end: int
    word: int | None
    label: str  # full label, e.g. "B-PER", after aggregation
    score: float  # probability of ``label`` for this token
    alternatives: tuple[tuple[str, float], ...]  # runner-up labels, best first
    special: bool
    rejected: bool  # dropped by the strict decoder
    chunk: int


@dataclass(frozen=True, slots=True)
class Entity:
    label: str  # entity type, e.g. "PER" (no B-/I- prefix)
    start: int  # character span into the original text, exclusive end
    end: int
    text: str  # == original_text[start:end]
    score: float  # mean of member scores
    min_score: float
    token_start: int  # member tokens: TokenPrediction.index range, exclusive end
    token_end: int


@dataclass(frozen=True, eq=False)
class Prediction:
    scored: ScoredText
    options: DecodeOptions
    scheme: str  # "IOB2", "IOB1", "IOBES", "BILOU", "IO" (prefix-less)
    tokens: tuple[TokenPrediction, ...]
    entities: tuple[Entity, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def text(self) -> str:
        return self.scored.text
