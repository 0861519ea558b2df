"""``ner-tui serve``: a vLLM-compatible pooling server over the local engine (no Textual).

``create_app(engine, ...)`` builds the ASGI app; ``serve(model_dir, ...)`` loads a model and
runs it under uvicorn; :mod:`ner_tui.server.cli` holds the command-line flags. Imports are
lazy so that ``ner-tui --help`` stays instant.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "serve"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from ner_tui.server.app import create_app

        return create_app
    if name == "serve":
        from ner_tui.server.serve import serve

        return serve
    raise AttributeError(name)
