"""``ner-tui serve``'s flags, for the main CLI to mount (and ``python -m ner_tui.server``)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ner_tui.core.errors import NerTuiError
from ner_tui.server.defaults import (
    DEFAULT_BODY_READ_TIMEOUT,
    DEFAULT_HEADER_READ_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_NUM_BATCHED_TOKENS,
    DEFAULT_MAX_NUM_SEQS,
    DEFAULT_MAX_REQUEST_TOKENS,
)


def _checked(
    parse: Callable[[str], float], ok: Callable[[float], bool], what: str
) -> Callable[[str], Any]:
    """An argparse type: ``parse`` the value and refuse it unless ``ok``, saying it is not
    ``what`` (uvicorn would die with a traceback on port 99999; a negative thread count or body
    limit would fail later, or never)."""

    def check(value: str) -> Any:
        try:
            number = parse(value)
        except ValueError:
            number = None
        if number is None or not ok(number):
            raise argparse.ArgumentTypeError(f"{value!r} is not {what}")
        return number

    return check


_port = _checked(int, lambda n: 0 <= n <= 65535, "a port number (0-65535)")
_positive_int = _checked(int, lambda n: n >= 1, "a whole number of at least 1")
_milliseconds = _checked(
    float, lambda n: 0 <= n < float("inf"), "a number of milliseconds (0 or more)"
)
_seconds = _checked(float, lambda n: 0 < n < float("inf"), "a number of seconds (more than 0)")

#: Flags of the old batcher, still accepted so scripts keep working; serve says what happened.
DEPRECATED_FLAGS = {
    "batch_wait": "--batch-wait is ignored: a pass waits the whole --batch-window-ms, if any",
    "max_batch": "--max-batch is deprecated: use --max-num-seqs",
}


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Add serve's flags to ``parser`` (vLLM's names where vLLM has the flag)."""
    parser.add_argument(
        "--model",
        help="model directory in the Hugging Face layout, or a hub id when online "
        "(default: the bundled English model)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8000, help="port (default: 8000)")
    parser.add_argument(
        "--served-model-name",
        dest="served_model_name",
        help="name clients use in 'model' (default: --model exactly as given)",
    )
    parser.add_argument(
        "--api-key",
        dest="api_key",
        default=os.environ.get("NER_TUI_API_KEY") or None,
        help="require 'Authorization: Bearer KEY' on every endpoint but /health "
        "(default: $NER_TUI_API_KEY; unlike vLLM, /pooling and /tokenize are guarded too)",
    )
    parser.add_argument(
        "--max-model-len",
        dest="max_model_len",
        type=_positive_int,
        help="longest input in tokens (default: the model's position limit)",
    )
    parser.add_argument(
        "--threads",
        type=_positive_int,
        help="CPU threads per forward pass (default: every core)",
    )
    parser.add_argument(
        "--onnx-file",
        dest="onnx_file",
        help="ONNX file to use, e.g. onnx/model_quantized.onnx (default: the first of "
        "onnx/model.onnx, model.onnx, onnx/model_quantized.onnx, onnx/model_int8.onnx, ...)",
    )
    parser.add_argument(
        "--max-body-bytes",
        dest="max_body_bytes",
        type=_positive_int,
        default=DEFAULT_MAX_BODY_BYTES,
        help=f"largest request body; bigger ones get 413 (default: {DEFAULT_MAX_BODY_BYTES})",
    )
    parser.add_argument(
        "--max-request-tokens",
        dest="max_request_tokens",
        type=_positive_int,
        default=DEFAULT_MAX_REQUEST_TOKENS,
        help="most tokens (all prompts together) in one /pooling request; more get 400 "
        f"(default: {DEFAULT_MAX_REQUEST_TOKENS})",
    )
    parser.add_argument(
        "--max-num-batched-tokens",
        dest="max_num_batched_tokens",
        type=_positive_int,
        default=DEFAULT_MAX_NUM_BATCHED_TOKENS,
        help="most tokens in one forward pass, padding included (a pass is padded to its "
        "longest prompt); bigger requests are split over several passes, taking turns with "
        f"other requests (default: {DEFAULT_MAX_NUM_BATCHED_TOKENS})",
    )
    parser.add_argument(
        "--max-num-seqs",
        dest="max_num_seqs",
        type=_positive_int,
        default=None,
        help="most prompts in one forward pass; 1 turns batching off "
        f"(default: {DEFAULT_MAX_NUM_SEQS})",
    )
    parser.add_argument(
        "--header-read-timeout",
        dest="header_read_timeout",
        type=_seconds,
        default=DEFAULT_HEADER_READ_TIMEOUT,
        help="seconds a client has to send a request's headers once it starts one (or "
        "connects); then the connection is closed "
        f"(default: {DEFAULT_HEADER_READ_TIMEOUT:g})",
    )
    parser.add_argument(
        "--body-read-timeout",
        dest="body_read_timeout",
        type=_seconds,
        default=DEFAULT_BODY_READ_TIMEOUT,
        help="seconds a client has to send a request's body after its headers; then the "
        f"connection is closed (default: {DEFAULT_BODY_READ_TIMEOUT:g})",
    )
    parser.add_argument(
        "--batch-window-ms",
        dest="batch_window_ms",
        type=_milliseconds,
        default=0.0,
        help="how long a forward pass that is not full may wait for more requests; without it "
        "a pass starts as soon as the previous one ends, with whatever is waiting (default: 0)",
    )
    # The old batcher's flags: accepted, with a deprecation message at startup.
    parser.add_argument(
        "--batch-wait", dest="batch_wait", choices=["auto", "always"], help=argparse.SUPPRESS
    )
    parser.add_argument("--max-batch", dest="max_batch", type=_positive_int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--log-level",
        dest="log_level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
    )


def run_serve(args: argparse.Namespace) -> int:
    """Serve until interrupted; returns the exit code. Raises NerTuiError if the model fails
    to load (before the port is bound)."""
    from ner_tui.server.serve import serve

    serve(
        args.model,
        host=args.host,
        port=args.port,
        served_model_name=args.served_model_name,
        api_key=args.api_key,
        max_model_len=args.max_model_len,
        threads=args.threads,
        onnx_file=args.onnx_file,
        max_body_bytes=args.max_body_bytes,
        max_request_tokens=args.max_request_tokens,
        max_num_batched_tokens=args.max_num_batched_tokens,
        max_num_seqs=args.max_num_seqs or args.max_batch or DEFAULT_MAX_NUM_SEQS,
        batch_window_ms=args.batch_window_ms,
        header_read_timeout=args.header_read_timeout,
        body_read_timeout=args.body_read_timeout,
        log_level=args.log_level,
        deprecations=[
            message
            for dest, message in DEPRECATED_FLAGS.items()
            if getattr(args, dest, None) is not None
        ],
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ner_tui.server``: the same as ``ner-tui serve``."""
    parser = argparse.ArgumentParser(
        prog="python -m ner_tui.server",
        description="Serve a token-classification model over vLLM's /pooling protocol.",
    )
    add_serve_arguments(parser)
    args = parser.parse_args(argv)
    # transformers' import-time notices ("PyTorch was not found...") are not for our users.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        return run_serve(args)
    except NerTuiError as exc:
        print(f"ner-tui serve: {exc}", file=sys.stderr)
        if exc.hint:
            print(f"  hint: {exc.hint}", file=sys.stderr)
        return 18
    except KeyboardInterrupt:
        return 130
