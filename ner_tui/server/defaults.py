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

    With dynamic batching a forward pass carries many prompts and spreads well over threads; the
    event loop's share is small (in a profile at 32 clients, 69% of the server's samples were in
    ONNX Runtime's run). ``bench/engine.py --server-threads 1,2`` on 2 cores, batching on, three
    runs: 2 threads gave 1.21-1.39x, 1.41-1.51x and 1.50-1.67x the requests/s of 1 thread at 1, 8
    and 32 clients."""
    return os.cpu_count() or 1


def default_batch_window_ms(threads: int) -> float:
    """The batching window when --batch-window-ms is not given: off for a one-thread forward pass.

    A batch only pays where its pass can spread over threads that one short text cannot use. On
    one thread ``bench/engine.py --server-threads 1,2`` measured batching on/off at 0.83-0.95x
    (32 clients) and 0.82-0.87x (8 clients) over three runs, against 1.25-1.54x with 2 threads:
    the engine idles while a batch gathers, and a batch saves only ~15% of the compute."""
    return DEFAULT_BATCH_WINDOW_MS if threads > 1 else 0.0
