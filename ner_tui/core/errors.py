"""One exception type per failure a user must tell apart.

Every error carries a ``hint`` (one sentence saying what to do about it) and the process
``exit_code`` a command ends with when it is the failure: the TUI shows the message and the
hint, ``ner-tui predict`` prints both and exits with the code. No command keeps a table of its
own, so a new front end (``eval``, ``web``) reports failures the same way for free.
"""

from __future__ import annotations


def one_line(exc: BaseException) -> str:
    """A library exception's message on one line, cut to a readable length, for quoting inside
    one of ours."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


class NerTuiError(Exception):
    """Base class of every error ner-tui reports to a person."""

    hint: str = ""
    exit_code: int = 1
    #: What the exit code means, for ``--help`` (one line, lower case).
    meaning: str = "other error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConfigError(NerTuiError):
    """A config file, environment variable or flag has a value ner-tui cannot use."""

    hint = "Fix or remove the setting named above; `ner-tui --help` lists every option."
    exit_code = 2
    meaning = "bad flags, config or input"


class InputError(ConfigError):
    """The input cannot be read (missing file, not UTF-8, nothing given)."""

    hint = "Give TEXT, --file PATH, or pipe one document per line on stdin."


class ServerUnreachable(NerTuiError):
    """Nothing answered at that address (connection refused, DNS failure, reset)."""

    hint = "Start a server with `vllm serve MODEL` or `ner-tui serve`, or use the local engine."
    exit_code = 10
    meaning = "no server at that address"


class RequestTimeout(NerTuiError):
    """The server accepted the connection but did not answer in time."""

    hint = "The server may be overloaded or still loading; retry, or raise --timeout."
    exit_code = 11
    meaning = "the server did not answer in time"


class UnknownModel(NerTuiError):
    """The server does not serve a model of that name (vLLM's 404)."""

    hint = "Check --model against the names listed by GET /v1/models, or leave --model out."
    exit_code = 12
    meaning = "unknown model"


class ServerError(NerTuiError):
    """The server answered with an HTTP error; the message is the server's own."""

    exit_code = 14
    meaning = "the server answered with an HTTP error"

    def __init__(
        self,
        message: str,
        *,
        status: int,
        error_type: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.error_type = error_type
        if hint is None and not type(self).hint:
            self.hint = (
                "The server is up but failing; see its log."
                if status >= 500
                else "The server rejected the request; the message above is its own."
            )


class AuthenticationFailed(ServerError):
    """401/403: the server wants an API key, or a different one."""

    hint = "Pass the server's key with --api-key (or NER_TUI_API_KEY)."
    exit_code = 13
    meaning = "authentication failed (--api-key)"


class MalformedResponse(NerTuiError):
    """The server answered 2xx but the body is not what the pooling protocol says."""

    hint = "Is this really a vLLM pooling server? Check the URL and the server's version."
    exit_code = 15
    meaning = "malformed response"


class RowMismatch(NerTuiError):
    """The number of score rows does not match the number of tokens sent."""

    hint = (
        "The server's model or tokenizer differs from the one loaded here: check --model, "
        "or whether the server truncates its input."
    )
    exit_code = 16
    meaning = "score rows do not match tokens"


class InputTooLong(NerTuiError):
    """The server refused the input as longer than the model's context window."""

    hint = "ner-tui splits long texts into chunks; check the max_model_len it was given."
    exit_code = 17
    meaning = "input too long"


class ModelLoadError(NerTuiError):
    """A tokenizer, config or weights could not be loaded."""

    hint = "Point --model at a local Hugging Face model directory, or a hub id when online."
    exit_code = 18
    meaning = "model or tokenizer could not be loaded"


class BelowMinimum(NerTuiError):
    """``eval --min-f1``: the model scored below the bar (the report was still written)."""

    hint = "The report above says where the model goes wrong."
    exit_code = 4
    meaning = "eval: F1 below --min-f1"


class SignificantlyWorse(NerTuiError):
    """``eval --compare-* --fail-if-worse``: model B's micro F1 is below model A's and the
    paired bootstrap interval of the difference lies wholly below 0 (not noise)."""

    hint = "The comparison above says on which types B loses; --bootstrap/--seed set the test."
    exit_code = 5
    meaning = "eval: model B significantly worse than A (--fail-if-worse)"


#: A command that handled many documents ends with this when some failed and the rest were done.
EXIT_PARTIAL = 3

#: Every kind with an exit code of its own, in code order (for ``--help`` and the tests).
EXIT_KINDS: tuple[type[NerTuiError], ...] = (
    NerTuiError,
    ConfigError,
    BelowMinimum,
    SignificantlyWorse,
    ServerUnreachable,
    RequestTimeout,
    UnknownModel,
    AuthenticationFailed,
    ServerError,
    MalformedResponse,
    RowMismatch,
    InputTooLong,
    ModelLoadError,
)
