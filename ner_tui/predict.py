"""``ner-tui predict``: label text from an argument, a file or stdin, headless.

Input is TEXT, or ``--file PATH`` / stdin with one document per line, or JSONL objects with a
``text`` field (detected from the first non-blank line, or forced with ``--input-format``).
Blank lines are skipped; line numbers in messages are the input's own. Documents are scored
concurrently (``--concurrency``, default 16) and written in input order as soon as every
earlier one is done; a document that fails is reported on stderr with its line number and the
others are still written. The exit code says whether everything worked (see ``ner-tui predict
--help``).

The tokenizer and labels come from ``--tokenizer`` when given, else from the served model's
``root`` (the path the server loaded) or its ``id``, as vLLM's own example client does with
``AutoTokenizer.from_pretrained(model)``. When that is a hub id and the hub is unreachable, the
error says to pass ``--tokenizer DIR``.

:func:`open_backend`, :func:`discover_model` and :func:`load_tokenizer_for` are the connection
steps, reusable by anything that needs "server or local engine, then the model's tokenizer".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from ner_tui.cli import EXIT_OK, EXIT_PARTIAL, exit_code_for
from ner_tui.config import ConfigError, Settings
from ner_tui.core.alignment import ModelInfo, load_model_info, looks_like_hub_id, score
from ner_tui.core.backend import ModelCard, PoolingBackend
from ner_tui.core.errors import (
    AuthenticationFailed,
    ModelLoadError,
    NerTuiError,
    ServerError,
    ServerUnreachable,
    UnknownModel,
)
from ner_tui.core.export import DocumentWriter, ExportFormat
from ner_tui.core.types import DecodeOptions, Prediction


class InputError(ConfigError):
    """The input cannot be read (missing file, not UTF-8, nothing given)."""

    hint = "Give TEXT, --file PATH, or pipe one document per line on stdin."


@dataclass(frozen=True, slots=True)
class Document:
    """One input document, or the reason its line could not be read."""

    line: int | None  # 1-based line number in the input; None for a TEXT argument
    text: str | None
    error: NerTuiError | None = None

    @property
    def where(self) -> str:
        return f"line {self.line}" if self.line is not None else "input"


# --------------------------------------------------------------------------- input


def decode_utf8(raw: bytes, where: str) -> str:
    """``raw`` as UTF-8 text (a BOM dropped), or an InputError naming ``where`` and the bad byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(
            f"{where} is not UTF-8 text (bad byte at offset {error.start})",
            hint="Convert it first, e.g. `iconv -f latin1 -t utf-8`.",
        ) from None


def read_source(path: str | None, stdin: IO[str]) -> str:
    """The whole input: a file, or stdin when ``path`` is None or ``-``."""
    if path is None or path == "-":
        buffer = getattr(stdin, "buffer", None)
        return decode_utf8(buffer.read(), "stdin") if buffer is not None else stdin.read()
    try:
        raw = Path(path).expanduser().read_bytes()
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory, not a file") from None
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from None
    return decode_utf8(raw, path)


def _looks_like_jsonl(lines: Sequence[str]) -> bool:
    for line in lines:
        if not line.strip():
            continue
        if not line.lstrip().startswith("{"):
            return False
        try:
            return isinstance(json.loads(line), dict)
        except ValueError:
            return False
    return False


def split_documents(
    content: str, *, input_format: str = "auto", field: str = "text"
) -> list[Document]:
    """One document per non-blank line; JSONL objects' ``field`` when the input is JSONL.

    Lines split on ``\\n`` only (a U+2028 or form feed inside a document stays in it); a
    trailing ``\\r`` is dropped. A JSONL line that is not an object with a string ``field``
    becomes a :class:`Document` carrying the error, so the others still run."""
    lines = content.split("\n")
    jsonl = input_format == "jsonl" or (input_format == "auto" and _looks_like_jsonl(lines))
    documents: list[Document] = []
    for number, line in enumerate(lines, start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        if not jsonl:
            documents.append(Document(number, line))
            continue
        documents.append(_jsonl_document(number, line, field))
    return documents


def _jsonl_document(number: int, line: str, field: str) -> Document:
    hint = f"Each JSONL line must be an object with a string `{field}` (see --jsonl-field)."
    try:
        value = json.loads(line)
    except ValueError as error:
        return Document(number, None, InputError(f"not valid JSON: {error}", hint=hint))
    if not isinstance(value, dict):
        return Document(number, None, InputError("not a JSON object", hint=hint))
    if field not in value:
        keys = ", ".join(sorted(map(str, value))) or "none"
        return Document(number, None, InputError(f"no `{field}` field (fields: {keys})", hint=hint))
    text = value[field]
    if not isinstance(text, str):
        kind = type(text).__name__
        return Document(number, None, InputError(f"`{field}` is a {kind}, not a string", hint=hint))
    return Document(number, text)


def read_documents(args: argparse.Namespace, stdin: IO[str]) -> tuple[list[Document], bool]:
    """The documents to label and whether they came from a file/stdin (vs a TEXT argument)."""
    text = getattr(args, "text", None)
    path = getattr(args, "file", None)
    if text is not None and path is not None:
        raise InputError("give TEXT or --file, not both")
    if text is not None and text != "-":
        return [Document(None, text)], False
    if text is None and path is None and stdin.isatty():
        raise InputError("nothing to label")
    content = read_source(path, stdin)
    return split_documents(content, input_format=args.input_format, field=args.jsonl_field), True


# --------------------------------------------------------------------------- connection


async def open_backend(settings: Settings) -> PoolingBackend:
    """The local engine (``settings.local``) or an HTTP client for ``settings.base_url``."""
    if settings.local:
        from ner_tui.core.engine import LocalEngine
        from ner_tui.models import bundled_model_path

        model_dir = settings.model or str(bundled_model_path())
        if settings.model is None and not bundled_model_path().is_dir():
            raise ModelLoadError(
                f"The bundled model is missing from this installation ({model_dir}).",
                hint="Pass --model DIR with a token-classification model directory.",
            )
        snapshot = await _snapshot_if_offline(
            model_dir,
            f"No model directory {model_dir!r} here, it is not in the Hugging Face "
            "cache, and the hub is unreachable.",
            hint="Pass --model DIR with a local token-classification model directory.",
        )
        if snapshot is not None:
            return await asyncio.to_thread(
                LocalEngine.load, snapshot, threads=settings.threads, served_model_name=model_dir
            )
        return await asyncio.to_thread(LocalEngine.load, model_dir, threads=settings.threads)
    from ner_tui.core.client import PoolingClient

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


def _no_server(error: ServerUnreachable, settings: Settings) -> ServerUnreachable:
    """``error`` with a hint naming the ``ner-tui predict --local`` command that needs no server
    (for this command line only: the TUI offers its own way out)."""
    model = settings.model
    if model and Path(model).is_dir():
        hint = (
            f"{model} is a model directory on this machine: run it without a server, "
            f"`ner-tui predict --local --model {shlex.quote(model)}`, or serve it, "
            f"`ner-tui serve --model {shlex.quote(model)}`."
        )
    else:
        hint = (
            "Start a server with `vllm serve MODEL` or `ner-tui serve`, or run the bundled "
            "model without one: `ner-tui predict --local`."
        )
    return ServerUnreachable(error.message, hint=hint)


async def discover_model(backend: PoolingBackend, settings: Settings) -> ModelCard:
    """The served model to use: ``settings.model`` checked against ``/v1/models``, or the
    only/first one served (the local engine serves exactly one). A server without
    ``/v1/models`` (a proxy in front of vLLM) is taken at its word when ``--model`` is given."""
    wanted = None if settings.local else settings.model
    discover = getattr(backend, "discover", None)
    if discover is not None:
        try:
            card: ModelCard = await discover(wanted)
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
        return card
    cards = await backend.list_models()
    if not cards:
        raise UnknownModel(f"{backend.describe} serves no model.")
    if wanted is None:
        return cards[0]
    for card in cards:
        if card.id == wanted:
            return card
    served = ", ".join(c.id for c in cards)
    raise UnknownModel(f"The model `{wanted}` does not exist (served: {served}).")


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


HUB_PROBE_TIMEOUT = 3.0


def hub_reachable(timeout: float = HUB_PROBE_TIMEOUT) -> bool:
    """Whether the Hugging Face hub answers a TCP connection (False in offline mode).

    transformers retries an unreachable hub for about 25 s per file; one quick probe first
    turns that into an immediate, actionable error."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return False
    endpoint = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((endpoint.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def cached_snapshot(repo_id: str, cache_dir: str | Path | None = None) -> Path | None:
    """The local snapshot directory of a hub model already in the Hugging Face cache, when it
    holds both ``config.json`` and ``tokenizer.json``; else None. Never touches the network."""
    try:
        from huggingface_hub import try_to_load_from_cache

        found = [
            try_to_load_from_cache(repo_id, name, cache_dir=cache_dir)
            for name in ("config.json", "tokenizer.json")
        ]
    except Exception:  # not a valid repo id, no huggingface_hub: nothing cached
        return None
    if not all(isinstance(f, str) for f in found):
        return None
    folders = {Path(str(f)).parent for f in found}
    return folders.pop() if len(folders) == 1 else None


async def _snapshot_if_offline(name: str, missing: str, *, hint: str) -> Path | None:
    """For a hub id while the hub does not answer: its snapshot in the local Hugging Face
    cache, or ModelLoadError(``missing``) when it is not there. None when ``name`` is not a
    hub id or the hub answers (load ``name`` as given)."""
    if not looks_like_hub_id(name) or await asyncio.to_thread(hub_reachable):
        return None
    snapshot = cached_snapshot(name)
    if snapshot is None:
        raise ModelLoadError(missing, hint=hint)
    return snapshot


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
    snapshot = await _snapshot_if_offline(
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


# --------------------------------------------------------------------------- output


class _Writer:
    """Writes finished documents to stdout in input order (laid out by the export module's
    :class:`DocumentWriter`, as the TUI's export is), and their warnings and errors to stderr."""

    def __init__(self, fmt: ExportFormat, many: bool, out: IO[str], err: IO[str]) -> None:
        self.documents = DocumentWriter(out, fmt, many=many)
        self.err = err
        self.failed: list[NerTuiError] = []
        self._hinted: set[str] = set()

    @property
    def written(self) -> int:
        return self.documents.count

    def document(self, doc: Document, prediction: Prediction) -> None:
        self.documents.write(prediction, {"line": doc.line} if self.documents.many else None)
        for warning in prediction.warnings:
            self.err.write(f"ner-tui: {doc.where}: warning: {warning}\n")

    def error(self, doc: Document, error: NerTuiError) -> None:
        self.failed.append(error)
        self.err.write(f"ner-tui: {doc.where}: {error.message}\n")
        if error.hint and error.hint not in self._hinted:
            self._hinted.add(error.hint)
            self.err.write(f"  hint: {error.hint}\n")

    def finish(self) -> None:
        self.documents.close()
        self.documents.out.flush()


class _Progress:
    """``[#####.....] 12/100`` on stderr, redrawn at most ten times a second."""

    def __init__(self, total: int, stream: IO[str], enabled: bool) -> None:
        self.total = total
        self.stream = stream
        self.enabled = enabled and total > 0
        self.done = 0
        self.failed = 0
        self._last = 0.0

    def advance(self, failed: bool) -> None:
        self.done += 1
        self.failed += failed
        now = time.monotonic()
        if self.enabled and (now - self._last > 0.1 or self.done == self.total):
            self._last = now
            width = 30
            filled = width * self.done // self.total
            bar = "#" * filled + "." * (width - filled)
            failures = f"  {self.failed} failed" if self.failed else ""
            self.stream.write(f"\r[{bar}] {self.done}/{self.total}{failures}")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


# --------------------------------------------------------------------------- running


async def predict_documents(
    settings: Settings,
    documents: Sequence[Document],
    *,
    fmt: ExportFormat,
    many: bool,
    progress: bool,
    out: IO[str],
    err: IO[str],
) -> int:
    """Score, decode and write every document; return the exit code."""
    from ner_tui.core.decoding import decode

    options = DecodeOptions(
        aggregation=settings.aggregation,  # type: ignore[arg-type]
        mode=settings.mode,  # type: ignore[arg-type]
        threshold=settings.threshold,
    )
    writer = _Writer(fmt, many, out, err)
    bar = _Progress(len(documents), err, progress)
    backend = await open_backend(settings)
    try:
        try:
            card = await discover_model(backend, settings)
        except ServerUnreachable as error:
            raise _no_server(error, settings) from error
        info = await load_tokenizer_for(card, settings)
        model = None if settings.local else card.id
        semaphore = asyncio.Semaphore(settings.max_concurrency)
        results: dict[int, Prediction | BaseException] = {}
        ready = asyncio.Event()

        async def one(index: int, doc: Document) -> None:
            outcome: Prediction | BaseException
            if doc.error is not None or doc.text is None:
                outcome = doc.error or InputError("no text")
            else:
                async with semaphore:
                    try:
                        scored = await score(
                            backend, info, doc.text, model=model, max_model_len=card.max_model_len
                        )
                        outcome = decode(scored, options)
                    except Exception as error:  # a bug is re-raised by the writer loop below
                        outcome = error
            results[index] = outcome
            bar.advance(isinstance(outcome, BaseException))
            ready.set()

        tasks = [asyncio.ensure_future(one(i, d)) for i, d in enumerate(documents)]
        try:
            for index, doc in enumerate(documents):
                while index not in results:
                    ready.clear()
                    await ready.wait()
                outcome = results.pop(index)
                if isinstance(outcome, NerTuiError):
                    writer.error(doc, outcome)
                elif isinstance(outcome, BaseException):
                    raise outcome
                else:
                    writer.document(doc, outcome)
        finally:
            for task in tasks:
                task.cancel()
            bar.close()
    finally:
        await backend.aclose()
    writer.finish()
    if not writer.failed:
        return EXIT_OK
    if writer.written == 0 and len({type(e) for e in writer.failed}) == 1:
        return exit_code_for(writer.failed[0])
    err.write(f"ner-tui: {len(writer.failed)} of {len(documents)} documents failed\n")
    return EXIT_PARTIAL


def run_predict_command(args: argparse.Namespace, settings: Settings) -> int:
    """``ner-tui predict`` after argument parsing (errors propagate to ``cli.main``)."""
    documents, many = read_documents(args, sys.stdin)
    if not documents:
        raise InputError("the input has no non-blank lines")
    progress = args.progress if args.progress is not None else sys.stderr.isatty() and many
    fmt: ExportFormat = args.output_format
    return asyncio.run(
        predict_documents(
            settings,
            documents,
            fmt=fmt,
            many=many,
            progress=progress,
            out=sys.stdout,
            err=sys.stderr,
        )
    )


__all__ = [
    "Document",
    "InputError",
    "cached_snapshot",
    "discover_model",
    "hub_reachable",
    "load_tokenizer_for",
    "looks_like_hub_id",
    "open_backend",
    "predict_documents",
    "read_documents",
    "run_predict_command",
    "split_documents",
    "tokenizer_source",
]
