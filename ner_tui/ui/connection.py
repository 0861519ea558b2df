"""Where predictions come from: a server found at the configured URL, or the local engine.

No Textual here: the app runs these coroutines in its workers. A :class:`Connection` bundles the
backend with the tokenizer and labels that must match it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import Literal

from ner_tui.config import Settings
from ner_tui.core.alignment import ModelInfo
from ner_tui.core.backend import ModelCard, PoolingBackend
from ner_tui.core.errors import ModelLoadError

Kind = Literal["server", "local"]


@dataclass(frozen=True, eq=False)
class Connection:
    """A backend plus the model name to send and the tokenizer/labels that go with it."""

    kind: Kind
    backend: PoolingBackend
    card: ModelCard
    info: ModelInfo

    @property
    def model(self) -> str:
        return self.card.id

    @property
    def source(self) -> str:
        return self.backend.describe

    @property
    def max_model_len(self) -> int | None:
        return self.card.max_model_len or self.info.max_model_len

    async def aclose(self) -> None:
        await self.backend.aclose()


def local_settings(settings: Settings) -> Settings:
    """The settings for the embedded engine: the configured model directory when the user
    asked for local, else the bundled model."""
    if settings.local:
        return settings
    return dataclasses.replace(settings, local=True, model=None, tokenizer=None)


async def connect(settings: Settings, kind: Kind, *, discover_timeout: float = 5.0) -> Connection:
    """Open a backend of ``kind``, find its model and load the matching tokenizer.

    Raises the core's errors (ServerUnreachable, RequestTimeout, UnknownModel, ModelLoadError...).
    """
    from ner_tui.predict import discover_model, load_tokenizer_for, open_backend

    wanted = (
        local_settings(settings) if kind == "local" else dataclasses.replace(settings, local=False)
    )
    backend = await open_backend(wanted)
    try:
        if kind == "server":
            card = await asyncio.wait_for(
                discover_model(backend, wanted), timeout=max(discover_timeout, 0.1)
            )
        else:
            card = await discover_model(backend, wanted)
        info = await load_tokenizer_for(card, wanted)
    except asyncio.TimeoutError as exc:
        await backend.aclose()
        from ner_tui.core.errors import RequestTimeout

        raise RequestTimeout(
            f"{backend.describe} did not list its models within {discover_timeout:g} s."
        ) from exc
    except BaseException:
        await backend.aclose()
        raise
    if not info.id2label:
        await backend.aclose()
        raise ModelLoadError(f"{info.name_or_path} has no labels (id2label).")
    return Connection(kind=kind, backend=backend, card=card, info=info)
