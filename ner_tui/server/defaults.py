"""``ner-tui serve``'s defaults, in one light module: the flags (``cli.py``, imported by every
``ner-tui`` command) and the server (``app.py``, ``serve.py``) read the same values without the
flags importing Starlette."""

from __future__ import annotations

import os

from ner_tui.core.scheduler import DEFAULT_MAX_NUM_BATCHED_TOKENS, DEFAULT_MAX_NUM_SEQS

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
# Tokens (all prompts together) one /pooling request may carry. The answer's encoding and
# json.dumps run on the event loop and hold the GIL: far above this, one request would stall
# every other client and /health for seconds to minutes.
DEFAULT_MAX_REQUEST_TOKENS = 262_144
# Slow clients: a connection must deliver a request's headers, then its body, within these.
DEFAULT_HEADER_READ_TIMEOUT = 10.0
DEFAULT_BODY_READ_TIMEOUT = 60.0

__all__ = [
    "DEFAULT_BODY_READ_TIMEOUT",
    "DEFAULT_HEADER_READ_TIMEOUT",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_NUM_BATCHED_TOKENS",
    "DEFAULT_MAX_NUM_SEQS",
    "DEFAULT_MAX_REQUEST_TOKENS",
    "default_threads",
]


def default_threads() -> int:
    """CPU threads per forward pass when --threads is not given: every core.

    With batching a forward pass carries many prompts and spreads well over threads,
    and the event loop's share is small, so every core is worth giving to the engine
    (measurements: ``bench/results/server-defaults.md``)."""
    return os.cpu_count() or 1
