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
    """CPU threads per forward pass when --threads is not given: all cores but one."""
    return max(1, (os.cpu_count() or 2) - 1)
