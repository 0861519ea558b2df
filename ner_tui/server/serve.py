"""Start ``ner-tui serve``: load the engine, build the app, run it under uvicorn."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from ner_tui.server.defaults import (
    DEFAULT_BODY_READ_TIMEOUT,
    DEFAULT_HEADER_READ_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_NUM_BATCHED_TOKENS,
    DEFAULT_MAX_NUM_SEQS,
    DEFAULT_MAX_REQUEST_TOKENS,
    default_threads,
)


def serve(
    model_dir: str | Path | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    served_model_name: str | None = None,
    api_key: str | None = None,
    max_model_len: int | None = None,
    threads: int | None = None,
    *,
    onnx_file: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_request_tokens: int = DEFAULT_MAX_REQUEST_TOKENS,
    max_num_batched_tokens: int = DEFAULT_MAX_NUM_BATCHED_TOKENS,
    max_num_seqs: int = DEFAULT_MAX_NUM_SEQS,
    batch_window_ms: float = 0.0,
    header_read_timeout: float = DEFAULT_HEADER_READ_TIMEOUT,
    body_read_timeout: float = DEFAULT_BODY_READ_TIMEOUT,
    log_level: str = "info",
    deprecations: list[str] | None = None,
) -> None:
    """Serve a model directory (default: the bundled model) until interrupted.

    The served name defaults to ``model_dir`` exactly as given, like vLLM (the bundled model
    is served as ``ner-tui-minilm-en``). Raises ModelLoadError before binding the port."""
    import uvicorn

    from ner_tui.core.engine import LocalEngine
    from ner_tui.server.app import create_app
    from ner_tui.server.deadlines import protocol_with_deadlines

    if model_dir is None:
        from ner_tui.models import BUNDLED_MODEL_NAME, bundled_model_path

        model_dir = bundled_model_path()
        served_model_name = served_model_name or BUNDLED_MODEL_NAME
        if not (model_dir / "config.json").is_file():
            from ner_tui.core.errors import ModelLoadError

            raise ModelLoadError(
                f"The bundled model is missing from this installation ({model_dir}).",
                hint="Reinstall ner-tui, or serve a model directory with --model DIR.",
            )
    if threads is None:
        threads = default_threads()
    for message in deprecations or []:
        print(f"ner-tui serve: warning: {message}", file=sys.stderr)
    engine = LocalEngine.load(
        model_dir,
        threads=threads,
        served_model_name=served_model_name,  # load() defaults it to model_dir as given
        max_model_len=max_model_len,
        onnx_file=onnx_file,
    )
    app = create_app(
        engine,
        api_key=api_key,
        max_body_bytes=max_body_bytes,
        max_request_tokens=max_request_tokens,
        max_num_batched_tokens=max_num_batched_tokens,
        max_num_seqs=max_num_seqs,
        batch_window_ms=batch_window_ms,
    )
    if host not in ("127.0.0.1", "localhost", "::1") and not api_key:
        print(
            f"ner-tui serve: warning: listening on {host} without --api-key; anyone who can "
            "reach this port can use the model.",
            file=sys.stderr,
        )
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s:     %(message)s")
    batching = (
        f"passes of at most {max_num_batched_tokens} tokens / {max_num_seqs} prompts"
        + (f", waiting up to {batch_window_ms:g} ms for company" if batch_window_ms > 0 else "")
        if max_num_seqs > 1
        else "batching off, passes of one prompt"
    )
    print(
        f"ner-tui serve: {engine.served_model_name} ({engine.describe}, "
        f"max_model_len {engine.max_model_len}, {batching}"
        f"{', API key required' if api_key else ''}) on http://{host}:{port}",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=log_level == "debug",
        timeout_graceful_shutdown=5,
        http=protocol_with_deadlines(header_read_timeout, body_read_timeout),
    )
