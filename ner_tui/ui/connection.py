"""Where predictions come from: a server found at the configured URL, or the local engine.

No Textual here: the app runs these coroutines in its workers. A :class:`Connection` bundles the
backend with the tokenizer and labels that must match it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ner_tui.config import Settings
from ner_tui.core.alignment import ModelInfo
from ner_tui.core.backend import ModelCard, PoolingBackend
from ner_tui.core.errors import ModelLoadError, RequestTimeout

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


def local_settings(settings: Settings, model_dir: str | None = None) -> Settings:
    """The settings for the embedded engine: the configured model when it is a local
    directory (or the user asked for local), else ``model_dir`` (the server's model, when it
    is a directory here), else the bundled model."""
    if settings.local:
        return settings
    for candidate in (settings.model, model_dir):
        if candidate is not None and Path(candidate).expanduser().is_dir():
            # `ner-tui --model ./dir` with no server: run that very model here.
            return dataclasses.replace(settings, local=True, model=candidate, tokenizer=None)
    return dataclasses.replace(settings, local=True, model=None, tokenizer=None)


async def connect(
    settings: Settings,
    kind: Kind,
    *,
    discover_timeout: float = 5.0,
    model_dir: str | None = None,
) -> Connection:
    """Open a backend of ``kind``, find its model and load the matching tokenizer.

    ``model_dir``: for the local engine, a model directory to prefer over the bundled model.
    Raises the core's errors (ServerUnreachable, RequestTimeout, UnknownModel, ModelLoadError...).
    """
    from ner_tui.predict import discover_model, load_tokenizer_for, open_backend

    wanted = (
        local_settings(settings, model_dir)
        if kind == "local"
        else dataclasses.replace(settings, local=False)
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
