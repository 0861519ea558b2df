"""Opening a backend: a server found at the configured URL, or the local engine, with the
model it serves and the tokenizer and labels that must match it.

Every front end (the app, ``predict``, and the ``eval`` and ``web`` commands to come) connects
through :func:`connect`, so they discover models, find tokenizers and explain failures alike.
The steps, each raising the core's errors (ServerUnreachable, UnknownModel, ModelLoadError...):

1. :func:`open_backend`: an HTTP client for ``settings.base_url``, or the embedded engine.
2. :func:`discover_model`: the served model (``--model`` checked against ``/v1/models``).
3. :func:`load_tokenizer_for`: its tokenizer and labels, from ``--tokenizer``, else the served
   model's ``root`` or ``id`` as vLLM's own example client does (``AutoTokenizer`` on the
   name); a hub id while the hub is unreachable comes from the local cache or fails at once.
4. For a server, one ``/tokenize`` call checks that it tokenizes as the tokenizer loaded here.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ner_tui.core.alignment import check_tokenizer, score
from ner_tui.core.backend import ModelCard, PoolingBackend, pick_model
from ner_tui.core.client import PoolingClient
from ner_tui.core.errors import (
    AuthenticationFailed,
    ConfigError,
    ModelLoadError,
    RequestTimeout,
    ServerError,
)
from ner_tui.core.hub import looks_like_hub_id, snapshot_if_offline
from ner_tui.core.model_info import ModelInfo, load_model_info
from ner_tui.core.settings import Settings
from ner_tui.core.types import ScoredText

Kind = Literal["server", "local"]


async def open_backend(settings: Settings, *, nice: int = 0) -> PoolingBackend:
    """The local engine (``settings.local``) or an HTTP client for ``settings.base_url``.

    ``nice``: lower the local engine's thread priority by this much (the app does, so its
    interface stays quick while the engine works; see ``LocalEngine.load``)."""
    if settings.local:
        from ner_tui.core.engine import LocalEngine
        from ner_tui.models import bundled_model_path

        model_dir = settings.model or str(bundled_model_path())
        if settings.model is None and not bundled_model_path().is_dir():
            raise ModelLoadError(
                f"The bundled model is missing from this installation ({model_dir}).",
                hint="Pass --model DIR with a token-classification model directory.",
            )
        snapshot = await snapshot_if_offline(
            model_dir,
            f"No model directory {model_dir!r} here, it is not in the Hugging Face "
            "cache, and the hub is unreachable.",
            hint="Pass --model DIR with a local token-classification model directory.",
        )
        if snapshot is not None:
            return await asyncio.to_thread(
                LocalEngine.load,
                snapshot,
                threads=settings.threads,
                served_model_name=model_dir,
                nice=nice,
            )
        return await asyncio.to_thread(
            LocalEngine.load, model_dir, threads=settings.threads, nice=nice
        )
    try:
        return PoolingClient(
            settings.base_url,
            api_key=settings.api_key,
            timeout=settings.timeout,
            max_concurrency=settings.max_concurrency,
            encoding_format=settings.encoding,
        )
    except ValueError as error:
        raise ConfigError(
            str(error), hint="Use --url http://HOST:PORT, or --host and --port."
        ) from None


async def discover_model(backend: PoolingBackend, settings: Settings) -> ModelCard:
    """The served model to use: ``settings.model`` checked against ``/v1/models``, or the
    only/first one served (the local engine serves exactly one). A server without
    ``/v1/models`` (a proxy in front of vLLM) is taken at its word when ``--model`` is given."""
    wanted = None if settings.local else settings.model
    try:
        cards = await backend.list_models()
    except ServerError as error:
        # A proxy that exposes /pooling but not /v1/models: trust --model when given.
        if error.status != 404 or isinstance(error, AuthenticationFailed):
            raise
        if wanted is not None:
            return ModelCard(id=wanted)
        raise ServerError(
            error.message,
            status=error.status,
            error_type=error.error_type,
            hint="This server does not list its models: pass --model NAME "
            "(and --tokenizer DIR if NAME is not a local directory).",
        ) from error
    return pick_model(cards, wanted, backend.describe)


def tokenizer_source(card: ModelCard, settings: Settings) -> str:
    """Where the tokenizer and labels are loaded from: ``--tokenizer``, else the served
    model's root when that is a directory here, else its id (a directory or a hub id)."""
    if settings.tokenizer:
        return settings.tokenizer
    for candidate in (card.root, card.id):
        if candidate and Path(candidate).expanduser().is_dir():
            return candidate
    # Not here: vLLM's root is what `vllm serve` was given, a hub id unless it is a server path.
    if card.root and looks_like_hub_id(card.root):
        return card.root
    return card.id


async def load_tokenizer_for(card: ModelCard, settings: Settings) -> ModelInfo:
    """Load the tokenizer and labels for ``card`` (in a thread: it can take a second).

    A source that is not a directory here is a hub id: it is loaded from the hub when the hub
    answers, else from the local Hugging Face cache, else this fails at once with a hint to
    pass ``--tokenizer DIR``."""
    source = tokenizer_source(card, settings)
    served = f"the server's model `{card.id}`" + (
        f" (loaded from `{card.root}` on the server)" if card.root and card.root != card.id else ""
    )
    hint = (
        "Pass --tokenizer DIR with a local copy of the model (its config.json and "
        "tokenizer.json), or download it once where the hub is reachable."
    )
    if not Path(source).expanduser().exists() and not looks_like_hub_id(source):
        raise ModelLoadError(
            f"Cannot load the tokenizer for {served}: `{source}` is not a directory on this "
            "machine.",
            hint=hint,
        )
    snapshot = await snapshot_if_offline(
        source,
        f"Cannot load the tokenizer for {served}: `{source}` is not a directory on "
        "this machine, not in the Hugging Face cache, and the hub is unreachable.",
        hint=hint,
    )
    if snapshot is not None:
        source = str(snapshot)
    try:
        return await asyncio.to_thread(load_model_info, source, max_model_len=card.max_model_len)
    except ModelLoadError as error:
        if settings.tokenizer or Path(source).expanduser().exists():
            raise
        raise ModelLoadError(f"{error.message} (for {served})", hint=hint) from error


@dataclass(frozen=True, eq=False)
class Connection:
    """A backend plus the model name to send and the tokenizer/labels that go with it."""

    kind: Kind
    backend: PoolingBackend
    card: ModelCard
    info: ModelInfo
    warnings: tuple[str, ...] = ()  # what a person should know: generic labels, tokenizer mismatch

    @property
    def model(self) -> str:
        return self.card.id

    @property
    def source(self) -> str:
        return self.backend.describe

    @property
    def max_model_len(self) -> int | None:
        return self.card.max_model_len or self.info.max_model_len

    async def score(self, text: str) -> ScoredText:
        """``text`` as this model sees it: tokens, offsets and one probability row per token
        (long texts in windows), scored by this backend."""
        return await score(
            self.backend, self.info, text, model=self.model, max_model_len=self.max_model_len
        )

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
    discover_timeout: float | None = None,
    model_dir: str | None = None,
    nice: int = 0,
) -> Connection:
    """Open a backend of ``kind``, find its model and load the matching tokenizer.

    ``discover_timeout``: give up on a server that has not listed its models by then (the app
    uses it to fall back to the local engine quickly). ``model_dir``: for the local engine, a
    model directory to prefer over the bundled model. ``nice``: see :func:`open_backend`.
    Raises the core's errors (ServerUnreachable, RequestTimeout, UnknownModel, ModelLoadError...).
    """
    wanted = (
        local_settings(settings, model_dir)
        if kind == "local"
        else dataclasses.replace(settings, local=False)
    )
    backend = await open_backend(wanted, nice=nice)
    try:
        try:
            card = await asyncio.wait_for(
                discover_model(backend, wanted),
                timeout=None if discover_timeout is None else max(discover_timeout, 0.1),
            )
        except asyncio.TimeoutError as exc:
            raise RequestTimeout(
                f"{backend.describe} did not list its models within {discover_timeout:g} s."
            ) from exc
        info = await load_tokenizer_for(card, wanted)
        warnings = info.warnings
        if isinstance(backend, PoolingClient):
            mismatch = await check_tokenizer(backend, info, model=card.id)
            warnings += (mismatch,) if mismatch else ()
    except BaseException:
        await backend.aclose()
        raise
    return Connection(kind=kind, backend=backend, card=card, info=info, warnings=warnings)
