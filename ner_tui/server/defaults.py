"""``ner-tui serve``'s defaults, in one light module: the flags (``cli.py``, imported by every
``ner-tui`` command) and the server (``app.py``, ``serve.py``) read the same values without the
flags importing Starlette."""

from __future__ import annotations

import os

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
# Tokens (all prompts together) one /pooling request may carry. The answer's encoding and
# json.dumps run on the event loop and hold the GIL: far above this, one request would stall
# every other client and /health for seconds to minutes.
DEFAULT_MAX_REQUEST_TOKENS = 262_144
DEFAULT_BATCH_WINDOW_MS = 5.0
DEFAULT_BATCH_WAIT = "auto"
DEFAULT_MAX_BATCH = 64


def default_threads() -> int:
    """CPU threads per forward pass when --threads is not given: every core.

    With dynamic batching a forward pass carries many prompts and spreads well over threads,
    and the event loop's share is small, so every core is worth giving to the engine
    (measurements: ``bench/results/server-defaults.md``)."""
    return os.cpu_count() or 1


def default_batch_window_ms(threads: int) -> float:
    """The batching window when --batch-window-ms is not given: off for a one-thread forward pass.

    A batch only pays where its pass can spread over threads that one short text cannot use; on
    one thread the engine idles while a batch gathers and was measured slower with batching
    than without (``bench/results/server-defaults.md``)."""
    return DEFAULT_BATCH_WINDOW_MS if threads > 1 else 0.0
