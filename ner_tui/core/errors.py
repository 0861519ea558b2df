"""One exception type per failure a user must tell apart.

Every error carries a ``hint``: one sentence saying what to do about it. The TUI shows
``str(error)`` as the message and ``error.hint`` as the advice; ``ner-tui predict`` prints both.
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

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class ServerUnreachable(NerTuiError):
    """Nothing answered at that address (connection refused, DNS failure, reset)."""

    hint = "Start a server with `vllm serve MODEL` or `ner-tui serve`, or use the local engine."


class RequestTimeout(NerTuiError):
    """The server accepted the connection but did not answer in time."""

    hint = "The server may be overloaded or still loading; retry, or raise --timeout."


class UnknownModel(NerTuiError):
    """The server does not serve a model of that name (vLLM's 404)."""

    hint = "Check --model against the names listed by GET /v1/models, or leave --model out."


class InputTooLong(NerTuiError):
    """The server refused the input as longer than the model's context window."""

    hint = "ner-tui splits long texts into chunks; check the max_model_len it was given."


class ServerError(NerTuiError):
    """The server answered with an HTTP error; the message is the server's own."""

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


class MalformedResponse(NerTuiError):
    """The server answered 2xx but the body is not what the pooling protocol says."""

    hint = "Is this really a vLLM pooling server? Check the URL and the server's version."


class RowMismatch(NerTuiError):
    """The number of score rows does not match the number of tokens sent."""

    hint = (
        "The server's model or tokenizer differs from the one loaded here: check --model, "
        "or whether the server truncates its input."
    )


class ModelLoadError(NerTuiError):
    """A tokenizer, config or weights could not be loaded."""

    hint = "Point --model at a local Hugging Face model directory, or a hub id when online."
