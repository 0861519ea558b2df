"""What the app remembers between runs: history, theme and the decoding options.

One JSON file, ``$XDG_STATE_HOME/ner-tui/session.json`` (``~/.local/state/ner-tui/``), or in
``NER_TUI_STATE_DIR`` when set (tests set it to a temporary directory, so they never write to a
developer's home). Written atomically (a temporary file, then a rename), so a crash mid-write
leaves the previous session. A missing file is a first run; a broken one is ignored with a
warning (the app says so) and replaced on the next save. No Textual here.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ner_tui.core.types import AGGREGATIONS, DECODE_MODES

STATE_DIR_ENV = "NER_TUI_STATE_DIR"
FILE_NAME = "session.json"
VERSION = 1
MAX_TEXT = 1_000_000  # characters: a longer history text is not kept on disk


@dataclass(frozen=True, slots=True)
class SavedEntry:
    text: str
    model: str = ""
    entities: int = 0
    tokens: int = 0
    when: float = 0.0


@dataclass(frozen=True)
class Session:
    """The remembered state; every field optional (None: nothing remembered)."""

    history: tuple[SavedEntry, ...] = ()
    theme: str | None = None
    aggregation: str | None = None
    mode: str | None = None
    threshold: float | None = None
    show_labels: bool | None = None
    hidden_types: tuple[str, ...] = field(default=())


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the session file lives (it need not exist)."""
    env = os.environ if environ is None else environ
    override = env.get(STATE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base).expanduser() / "ner-tui"


def session_path(environ: Mapping[str, str] | None = None) -> Path:
    return state_dir(environ) / FILE_NAME


def load_session(path: Path | None = None) -> tuple[Session, str | None]:
    """The saved session and a warning (None when fine or when there is no file yet)."""
    path = path or session_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Session(), None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return Session(), f"Could not read the saved session {path}: {error}; starting afresh."
    if not isinstance(raw, dict):
        return Session(), f"The saved session {path} is not a JSON object; starting afresh."
    return _session_from(raw), None


def _session_from(raw: dict[str, Any]) -> Session:
    """Keep what is well-formed, drop the rest (a file from another version, edited by hand)."""
    history: list[SavedEntry] = []
    for item in raw.get("history") or ():
        if isinstance(item, dict) and isinstance(item.get("text"), str):
            history.append(
                SavedEntry(
                    text=item["text"],
                    model=str(item.get("model", "")),
                    entities=_int(item.get("entities")),
                    tokens=_int(item.get("tokens")),
                    when=float(item["when"]) if isinstance(item.get("when"), int | float) else 0.0,
                )
            )
    threshold = raw.get("threshold")
    hidden = raw.get("hidden_types")
    return Session(
        history=tuple(history),
        theme=raw["theme"] if isinstance(raw.get("theme"), str) else None,
        aggregation=raw["aggregation"] if raw.get("aggregation") in AGGREGATIONS else None,
        mode=raw["mode"] if raw.get("mode") in DECODE_MODES else None,
        threshold=(
            float(threshold)
            if isinstance(threshold, int | float) and 0.0 <= threshold < 1.0
            else None
        ),
        show_labels=raw["show_labels"] if isinstance(raw.get("show_labels"), bool) else None,
        hidden_types=(
            tuple(h for h in hidden if isinstance(h, str)) if isinstance(hidden, list) else ()
        ),
    )


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def save_session(session: Session, path: Path | None = None) -> Path:
    """Write ``session`` atomically; raises OSError when the directory cannot be written."""
    path = path or session_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = asdict(session)
    data["version"] = VERSION
    data["history"] = [asdict(e) for e in session.history if len(e.text) <= MAX_TEXT]
    data["hidden_types"] = list(session.hidden_types)
    fd, tmp = tempfile.mkstemp(prefix=".session-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


__all__ = [
    "STATE_DIR_ENV",
    "SavedEntry",
    "Session",
    "load_session",
    "save_session",
    "session_path",
    "state_dir",
]
