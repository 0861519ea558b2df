"""The ``ner-tui`` command: the TUI (no subcommand), ``predict``, ``eval``, ``web`` and ``serve``.

Only argparse and the settings module are imported here, so ``ner-tui --help`` is instant;
each subcommand imports what it needs (transformers, onnxruntime, Textual) when it runs.
Every error ner-tui knows about is printed as its message and a hint, without a traceback,
and exits with the error's own code (``errors.NerTuiError.exit_code``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ner_tui import __version__
from ner_tui.commands.web import DEFAULT_HOST as WEB_HOST
from ner_tui.commands.web import DEFAULT_PORT as WEB_PORT
from ner_tui.core import errors
from ner_tui.core.settings import ENCODING_CHOICES, Settings, load_settings
from ner_tui.core.types import AGGREGATIONS, CORPUS_FORMATS, SCHEMES

if TYPE_CHECKING:
    from ner_tui.core.compare import CompareTarget

EXIT_USAGE = errors.ConfigError.exit_code  # bad flags, config or input (argparse uses 2 too)
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool cut off by `| head`


def _exit_codes_help() -> str:
    """The ``exit codes:`` epilog, from the error kinds themselves."""
    rows = [
        (0, "success"),
        *((kind.exit_code, kind.meaning) for kind in errors.EXIT_KINDS[:2]),
        (errors.EXIT_PARTIAL, "some documents failed (the others were done)"),
        *((kind.exit_code, kind.meaning) for kind in errors.EXIT_KINDS[2:]),
    ]
    return "exit codes:\n" + "\n".join(f"  {code:<3} {meaning}" for code, meaning in rows)


def report_error(error: errors.NerTuiError, *, prefix: str = "error") -> None:
    """Print ``error: message`` and ``hint: ...`` on stderr."""
    print(f"ner-tui: {prefix}: {error.message}", file=sys.stderr)
    if error.hint:
        print(f"  hint: {error.hint}", file=sys.stderr)


def _connection_arguments(*, address: bool = True) -> argparse.ArgumentParser:
    """Flags shared by the TUI and ``predict`` (vLLM's example client: --host/--port/--model).

    Defaults are SUPPRESS so only flags actually given override the config file and env.
    ``address=False`` leaves out --host/--port (``web`` uses them for where it listens)."""
    parent = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    group = parent.add_argument_group("server (or NER_TUI_* variables, or config.toml)")
    if address:
        group.add_argument("--host", help="server host (default: localhost)")
        group.add_argument("--port", type=int, help="server port (default: 8000)")
    group.add_argument("--url", help="server base URL, e.g. http://gpu-box:8000 (wins over host)")
    group.add_argument(
        "--model",
        help="served model name (default: discovered from /v1/models); "
        "with --local, a model directory (default: the bundled model)",
    )
    group.add_argument(
        "--tokenizer",
        metavar="DIR_OR_ID",
        help="where to load the tokenizer and labels from (default: the served model's "
        "root or id, as vLLM's example client does)",
    )
    group.add_argument("--api-key", dest="api_key", help="bearer key for the server")
    group.add_argument("--timeout", type=float, help="seconds to wait for an answer (default 30)")
    group.add_argument(
        "--local",
        action="store_true",
        help="use the embedded engine (no server): the bundled model or --model DIR",
    )
    group.add_argument(
        "--encoding",
        choices=ENCODING_CHOICES,
        help="how the server sends scores: float JSON (default, every vLLM), or base64/bytes "
        "(4x smaller, much faster to parse)",
    )
    group.add_argument("--threads", type=int, help="CPU threads for the local engine")
    decode = parent.add_argument_group("decoding")
    decode.add_argument(
        "--aggregation",
        choices=AGGREGATIONS,
        help="word grouping, as transformers' pipeline (default: first, whole words)",
    )
    decode.add_argument(
        "--strict",
        dest="mode",
        action="store_const",
        const="strict",
        help="strict BIO decoding: drop invalid sequences instead of repairing them",
    )
    decode.add_argument(
        "--threshold", type=float, help="drop entities whose mean score is below this (0-1)"
    )
    return parent


def _compare_arguments(*, gate: bool = False) -> argparse.ArgumentParser:
    """The --compare-* flags: model B, as A (the flags above) with these changed.

    ``gate``: eval's --fail-if-worse and the bootstrap's --bootstrap/--seed/--confidence."""
    parent = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    group = parent.add_argument_group(
        "compare with model B (B is model A with what these change; settings only: no second "
        "request)"
    )
    group.add_argument("--compare-url", metavar="URL", help="B's server, e.g. http://gpu2:8000")
    group.add_argument("--compare-model", metavar="NAME", help="B's served model name")
    group.add_argument(
        "--compare-local",
        metavar="DIR",
        nargs="?",
        const="",
        help="B runs on the embedded engine: DIR, or the bundled model when DIR is left out",
    )
    group.add_argument("--compare-aggregation", choices=AGGREGATIONS, help="B's word grouping")
    group.add_argument(
        "--compare-strict",
        dest="compare_mode",
        action="store_const",
        const="strict",
        help="B decodes strictly",
    )
    group.add_argument(
        "--compare-lenient",
        dest="compare_mode",
        action="store_const",
        const="lenient",
        help="B decodes leniently (when A is --strict)",
    )
    group.add_argument("--compare-threshold", type=float, help="B's confidence threshold")
    group.add_argument(
        "--compare-map",
        metavar="B=A,...",
        help="rename B's types to A's, e.g. PERSON=PER,GPE=LOC",
    )
    if gate:
        group.add_argument(
            "--fail-if-worse",
            action="store_true",
            default=False,
            help="exit with code 5 when B's micro F1 is significantly below A's (the "
            "interval of B - A lies below 0): a regression gate for CI",
        )
        group.add_argument(
            "--bootstrap",
            type=int,
            default=1000,
            metavar="N",
            help="paired bootstrap resamples of the documents (default 1000)",
        )
        group.add_argument(
            "--seed", type=int, default=0, help="the bootstrap's random seed (default 0)"
        )
        group.add_argument(
            "--confidence",
            type=float,
            default=0.95,
            help="the interval's confidence level (default 0.95)",
        )
    return parent


def _add_batch_arguments(parser: argparse.ArgumentParser, scope: str = "") -> None:
    """--concurrency and --progress, for the commands that run many documents."""
    parser.add_argument(
        "--concurrency",
        dest="max_concurrency",
        type=int,
        help=f"documents in flight at once {scope}(default 16)",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: only when stderr is a terminal)",
    )


def _add_predict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "text", nargs="?", metavar="TEXT", help="the text to label (default: --file or stdin)"
    )
    parser.add_argument(
        "--file",
        "-f",
        metavar="PATH",
        help="read documents from PATH, one per line (or JSONL); `-` is stdin",
    )
    parser.add_argument(
        "--input-format",
        choices=("auto", "lines", "jsonl"),
        default="auto",
        help="how --file/stdin is read: one text per line, or JSONL objects (default: auto, "
        "JSONL when the first non-blank line is a JSON object)",
    )
    parser.add_argument(
        "--jsonl-field",
        default="text",
        metavar="NAME",
        help="the JSONL field holding the text (default: text)",
    )
    parser.add_argument(
        "--format",
        "-o",
        dest="output_format",
        choices=("table", "entities", "json", "jsonl", "conll", "html"),
        default="table",
        help="output: vLLM-style token table (default), entity list, JSON, JSONL, CoNLL, or "
        "one self-contained HTML page (a section per document)",
    )
    _add_batch_arguments(parser, "for --file/stdin ")


def _add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("gold", metavar="GOLD", help="the gold corpus: CoNLL or JSONL")
    parser.add_argument(
        "--predictions",
        metavar="PATH",
        default=None,
        help="score these saved predictions (JSONL or CoNLL of the same documents) instead of "
        "asking a model",
    )
    parser.add_argument(
        "--input-format",
        choices=CORPUS_FORMATS,
        default="auto",
        help="how GOLD is read (default: auto, from its first lines)",
    )
    parser.add_argument(
        "--scheme",
        choices=SCHEMES,
        default=None,
        help="the tagging scheme of a CoNLL GOLD (default: detected from its tags)",
    )
    parser.add_argument(
        "--map",
        metavar="GOLD=MODEL,...",
        default=None,
        help="rename gold types to the model's, e.g. PERSON=PER,GPE=LOC (or [label_map] in "
        "config.toml)",
    )
    parser.add_argument(
        "--min-f1",
        type=float,
        default=None,
        help="exit with code 4 when the micro F1 is below this (a gate for CI)",
    )
    parser.add_argument(
        "--format",
        "-o",
        dest="output_format",
        choices=("table", "json", "markdown"),
        default="table",
        help="output: aligned tables (default), JSON with every error, Markdown",
    )
    parser.add_argument(
        "--html",
        metavar="FILE",
        default=None,
        help="also write FILE: one HTML page with every scored document, the gold spans over "
        "the model's, each one that differs outlined",
    )
    _add_batch_arguments(parser)


def _add_web_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--theme", help="Textual theme for the app")
    where = parser.add_argument_group("where the page is served")
    where.add_argument(
        "--host",
        dest="web_host",
        metavar="HOST",
        default=WEB_HOST,
        help=f"address to listen on (default: {WEB_HOST}, this machine only; 0.0.0.0 lets "
        "anyone who reaches the port use the app)",
    )
    where.add_argument(
        "--port",
        dest="web_port",
        metavar="PORT",
        type=int,
        default=WEB_PORT,
        help=f"port (default: {WEB_PORT})",
    )
    where.add_argument(
        "--public-url",
        dest="public_url",
        default=None,
        metavar="URL",
        help="the address browsers use, when it differs (a proxy, a tunnel)",
    )


def _app_flags(args: argparse.Namespace) -> list[str]:
    """The app's own flags given on this command line, as a list to pass on (``web``).

    The API key is left out: it travels in the environment, not on a command line."""
    given = vars(args)
    flags: list[str] = []
    for action in [*_connection_arguments()._actions, *_compare_arguments()._actions]:
        dest = action.dest
        if dest not in given or dest in ("help", "api_key") or not action.option_strings:
            continue
        if action.nargs == 0 and action.const not in (None, True) and given[dest] != action.const:
            continue  # --compare-strict and --compare-lenient share a dest: the one given
        flags.append(action.option_strings[0])
        if action.nargs != 0:  # --local and --strict take no value
            flags.append(str(given[dest]))
    if "theme" in given:
        flags += ["--theme", str(given["theme"])]
    return flags


def build_parser() -> argparse.ArgumentParser:
    """The full ``ner-tui`` parser (subcommand parsers included, ``serve`` as a stub)."""
    connection = _connection_arguments()
    parser = argparse.ArgumentParser(
        prog="ner-tui",
        description="Look at what a token-classification (NER) model sees: a terminal app, "
        "`predict` for scripts, and `serve`, a vLLM-compatible pooling server.",
        parents=[connection, _compare_arguments()],
        argument_default=argparse.SUPPRESS,
        epilog="Run without a command to open the app. Settings: $XDG_CONFIG_HOME/ner-tui/"
        "config.toml (or NER_TUI_CONFIG_FILE), then NER_TUI_* variables, then flags.",
    )
    parser.add_argument("--version", action="version", version=f"ner-tui {__version__}")
    parser.add_argument("--theme", help="Textual theme for the app")
    parser.add_argument(
        "--corpus",
        metavar="FILE",
        help="open a corpus (CoNLL, JSONL or plain text) in the app's corpus view",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    predict = commands.add_parser(
        "predict",
        parents=[connection, _compare_arguments()],
        argument_default=argparse.SUPPRESS,
        help="label text from an argument, a file or stdin and print the result",
        description="Label text and print tokens, entities, JSON, JSONL or CoNLL. Input: TEXT, "
        "or --file/stdin with one document per line, or JSONL with a text field.",
        epilog=_exit_codes_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_predict_arguments(predict)
    evaluate = commands.add_parser(
        "eval",
        parents=[connection, _compare_arguments(gate=True)],
        argument_default=argparse.SUPPRESS,
        help="score a model (or saved predictions) against a gold corpus",
        description="Run a gold corpus (CoNLL, or JSONL spans as `predict -o jsonl` writes them) "
        "through the model and print precision, recall and F1 per type (as seqeval), "
        "nervaluate's four schemes, every error kind, the token confusion matrix and the best "
        "confidence threshold. With --predictions, no model is needed.",
        epilog=_exit_codes_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_eval_arguments(evaluate)
    web = commands.add_parser(
        "web",
        parents=[_connection_arguments(address=False), _compare_arguments()],
        argument_default=argparse.SUPPRESS,
        help="open the app in a browser (textual-serve), e.g. to demo it on a projector",
        description="Serve the app in a web browser: each tab runs its own ner-tui with the "
        "flags given here (--local, --model, --url, --theme...). Here --host/--port say where "
        "the page listens; name a vLLM server with --url (or `ner-tui --host H --port P web`).",
        epilog="Anyone who can reach the port gets the app and the model, with no password: "
        "the default listens on 127.0.0.1 only.",
    )
    _add_web_arguments(web)
    commands.add_parser(
        "serve",
        help="serve a model over vLLM's pooling protocol (see `ner-tui serve --help`)",
        add_help=False,
    )
    return parser


def _run_serve(argv: Sequence[str]) -> int:
    from ner_tui.server.cli import add_serve_arguments, run_serve

    parser = argparse.ArgumentParser(
        prog="ner-tui serve",
        description="Serve a token-classification model over vLLM's /pooling protocol.",
    )
    add_serve_arguments(parser)
    result = run_serve(parser.parse_args(list(argv)))
    return int(result or 0)


def _run_tui(
    settings: Settings, corpus: str | None = None, compare: CompareTarget | None = None
) -> int:
    """Open the app; the one place that knows run_app's signature."""
    from ner_tui.ui.app import run_app

    options: dict[str, Any] = {}
    if corpus:
        options["corpus"] = Path(corpus)
    if compare is not None:
        options["compare"] = compare
    result: Any = run_app(settings, **options)
    return int(result or 0)


def _dispatch(argv: list[str]) -> int:
    # transformers' import-time notices ("PyTorch was not found...") are not for our users;
    # set TRANSFORMERS_VERBOSITY=info to see them again.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if argv[:1] == ["serve"]:
        return _run_serve(argv[1:])
    args = build_parser().parse_args(argv)
    settings = load_settings(vars(args))
    command = getattr(args, "command", None)
    target = None
    if any(name.startswith("compare_") for name in vars(args)):
        from ner_tui.commands.compare import compare_target, run_compare_command

        target = compare_target(args)
        if command in ("predict", "eval"):
            return run_compare_command(command, args, settings, target)
    elif getattr(args, "fail_if_worse", False):
        raise errors.ConfigError("--fail-if-worse needs model B: give --compare-url or another")
    if command == "predict":
        from ner_tui.commands.predict import run_predict_command

        return run_predict_command(args, settings)
    if command == "eval":
        from ner_tui.commands.eval import run_eval_command

        return run_eval_command(args, settings)
    if command == "web":
        from ner_tui.commands.web import run_web

        return run_web(
            _app_flags(args),
            host=args.web_host,
            port=args.web_port,
            public_url=args.public_url,
            api_key=settings.api_key if "api_key" in vars(args) else None,
        )
    if command == "serve":
        # Flags before `serve` (`ner-tui --timeout 3 serve`) are not serve's flags.
        print("ner-tui: error: give serve's flags after `serve`", file=sys.stderr)
        return EXIT_USAGE
    return _run_tui(settings, getattr(args, "corpus", None), target)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ner-tui`` console script; returns the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(arguments)
    except errors.NerTuiError as error:
        report_error(error)
        return error.exit_code
    except KeyboardInterrupt:
        print("ner-tui: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`ner-tui predict -f big.txt | head`): stop quietly, as Unix
        # tools do, and keep Python from complaining when it flushes stdout at exit.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
