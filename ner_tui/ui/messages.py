"""Messages the app's workers post back to the app ("attributes down, messages up")."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from ner_tui.core.connect import Connection, Kind
from ner_tui.core.corpus import CorpusDocument
from ner_tui.core.corpus_scores import CorpusScores
from ner_tui.core.errors import NerTuiError
from ner_tui.core.types import Prediction
from ner_tui.ui.document import LaidOut


@dataclass
class Connected(Message):
    """A backend answered and its tokenizer is loaded."""

    connection: Connection
    note: str = ""  # e.g. why the local engine is used


@dataclass
class ConnectionFailed(Message):
    kind: Kind
    error: NerTuiError


@dataclass
class PredictionReady(Message):
    """A prediction to show; ``rescored`` is False when only the decoding options changed."""

    prediction: Prediction
    document: LaidOut
    rescored: bool = True


@dataclass
class PredictionFailed(Message):
    error: NerTuiError
    text: str


@dataclass
class CorpusLoaded(Message):
    """A corpus file was read: its documents (broken ones carry their error)."""

    name: str
    documents: list[CorpusDocument]


@dataclass
class CorpusProgress(Message):
    """``done`` of ``total`` documents have been through the model."""

    done: int
    total: int


@dataclass
class CorpusScored(Message):
    """The corpus scored under some decode options (from kept scores, in a thread)."""

    scores: CorpusScores
