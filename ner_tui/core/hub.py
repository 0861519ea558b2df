"""Hugging Face hub names: is this a hub id or a path here, does the hub answer, is it cached.

One rule for every "directory or hub id?" question in ner-tui (the app, ``predict``, the engine
and the server), so they cannot disagree about a name such as ``bert-base-cased``.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
from pathlib import Path
from urllib.parse import urlsplit

from ner_tui.core.errors import ModelLoadError

# A Hugging Face repo id, as huggingface_hub's validate_repo_id has it: "name" or
# "namespace/name", ASCII letters, digits, "_", "-" and ".", each part starting and ending with
# a letter, digit or "_", at most 96 characters each; "--", ".." and a ".git" end are not allowed.
_REPO_PART = r"\w(?:[\w.-]{0,94}\w)?"
_HUB_ID = re.compile(rf"(?:{_REPO_PART}/)?{_REPO_PART}", re.ASCII)


def looks_like_hub_id(model: str | Path) -> bool:
    """Whether ``model`` names a Hugging Face hub repo rather than a path on this machine.

    The one rule every "directory or hub id?" question in ner-tui uses: anything that exists
    here is a path (even a folder named ``org/name``); a :class:`~pathlib.Path` is a path; a
    string is a hub id when it has the hub's shape (``name`` or ``org/name``, see above), so
    ``./model``, ``~/m``, ``/srv/m``, ``a/b/c``, ``org/name/`` and ``C:\\m`` are paths.
    """
    if isinstance(model, Path):
        return False
    name = str(model)
    if not _HUB_ID.fullmatch(name) or "--" in name or ".." in name or name.endswith(".git"):
        return False
    return not Path(name).expanduser().exists()


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


async def snapshot_if_offline(name: str, missing: str, *, hint: str) -> Path | None:
    """For a hub id while the hub does not answer: its snapshot in the local Hugging Face
    cache, or ModelLoadError(``missing``) when it is not there. None when ``name`` is not a
    hub id or the hub answers (load ``name`` as given)."""
    if not looks_like_hub_id(name) or await asyncio.to_thread(hub_reachable):
        return None
    snapshot = cached_snapshot(name)
    if snapshot is None:
        raise ModelLoadError(missing, hint=hint)
    return snapshot


def model_directory(model: str | Path) -> Path:
    """The local directory of ``model``: as given when it is one, else a hub id's snapshot
    (weights, tokenizer and config only), downloaded when the hub answers."""
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
