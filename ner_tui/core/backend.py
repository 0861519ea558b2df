"""The one interface everything above the transport talks to.

Two implementations: :class:`ner_tui.core.client.PoolingClient` (HTTP, any vLLM-compatible
server) and :class:`ner_tui.core.engine.LocalEngine` (in-process ONNX Runtime / torch). The
alignment layer, ``ner-tui predict`` and the TUI only see :class:`PoolingBackend`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from ner_tui.core.errors import MalformedResponse, UnknownModel


@dataclass(frozen=True, slots=True)
class ModelCard:
    """One entry of ``GET /v1/models``: what a server serves."""

    id: str
    root: str | None = None
    max_model_len: int | None = None


def pick_model(cards: Sequence[ModelCard], wanted: str | None, where: str) -> ModelCard:
    """The card of ``wanted`` among a server's ``cards`` (matched by served name, then by the
    ``root`` path it was loaded from), or the first one when ``wanted`` is None (vLLM lists the
    primary served name first). ``where`` names the server in messages."""
    if not cards:
        raise MalformedResponse(f"{where} lists no models (GET /v1/models)")
    if wanted is None:
        return cards[0]
    for card in cards:
        if card.id == wanted:
            return card
    for card in cards:
        if card.root == wanted:
            return card
    served = ", ".join(c.id for c in cards)
    raise UnknownModel(f"{where} does not serve `{wanted}`; it serves: {served}")


@dataclass(frozen=True, slots=True)
class PoolingResult:
    """The scores of one ``/pooling`` call: one 2-D float32 array per prompt, in prompt order."""

    rows: list[np.ndarray]
    model: str
    prompt_tokens: int = 0
    request_id: str = ""
    elapsed_ms: float = 0.0
    extra: dict[str, object] = field(default_factory=dict)


@runtime_checkable
class PoolingBackend(Protocol):
    """Something that turns prompts into per-token score rows, the way vLLM's /pooling does."""

    @property
    def describe(self) -> str:
        """Where the scores come from, for a status line: ``http://localhost:8000`` or
        ``local engine (ONNX Runtime, 2 threads)``."""
        ...

    async def list_models(self) -> list[ModelCard]:
        """The models served (``GET /v1/models``)."""
        ...

    async def pool(
        self,
        prompts: Sequence[Sequence[int]] | Sequence[str],
        *,
        model: str | None = None,
        use_activation: bool | None = None,
    ) -> PoolingResult:
        """Score a batch of prompts. A prompt of ``int`` is token ids used as given (no special
        tokens added); a ``str`` prompt is tokenized by the backend with special tokens.
        ``use_activation=None``/``True`` gives softmax probabilities, ``False`` raw logits."""
        ...

    async def aclose(self) -> None:
        """Release connections, sessions and threads."""
        ...
