"""Settings for ``ner-tui``: a TOML file, then ``NER_TUI_*`` variables, then command-line flags.

Each layer overrides the one before it. The file lives at
``$XDG_CONFIG_HOME/ner-tui/config.toml`` (``~/.config/ner-tui/config.toml``), or wherever
``NER_TUI_CONFIG_FILE`` points (tests point it at a file that does not exist, so they never
read a developer's own config). A missing file is not an error; a broken one is, with the
file and the problem named in one line.

Example ``config.toml``::

    url = "http://gpu-box:8000"      # or host = "gpu-box" / port = 8000
    model = "boltuix/NeuroBERT-NER"  # optional: discovered from /v1/models
    api_key = "sk-..."
    timeout = 30
    encoding = "base64"              # float (default, any vLLM) | base64 | bytes: smaller, faster
    aggregation = "first"            # default (whole words) | none | simple | average | max
    mode = "strict"                  # lenient | strict
    theme = "nord"

    [keymap]                         # binding id -> keys (Textual's set_keymap); F1 lists them
    predict = "f10"

    [label_map]                      # eval: a gold corpus's type -> the model's (--map)
    PERSON = "PER"

This module imports no Textual and nothing heavy: ``ner-tui --help`` reads nothing but this.
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from ner_tui.core.errors import ConfigError
from ner_tui.core.types import Aggregation, DecodeMode

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

ENV_PREFIX = "NER_TUI_"
CONFIG_FILE_ENV = "NER_TUI_CONFIG_FILE"
DEFAULT_HOST = "localhost"
DEFAULT_PORT = 8000

Encoding = Literal["float", "base64", "bytes"]


@dataclass(frozen=True)
class Settings:
    """Everything ``ner-tui``, ``ner-tui predict`` and the TUI need to know before starting.

    The annotations are the schema: a file, variable or flag is checked against the field's
    type, and a ``Literal`` field against its choices, so mypy and the runtime agree."""

    url: str | None = None  # full base URL; wins over host/port given in the same layer
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    model: str | None = None  # served model name (or, with local=True, a model directory)
    tokenizer: str | None = None  # local dir or hub id; default: the served model's root/id
    api_key: str | None = None
    timeout: float = 30.0
    local: bool = False  # use the embedded engine instead of a server
    fallback_local: bool = True  # TUI: when no server answers, use the local engine
    threads: int | None = None  # local engine CPU threads (None: the engine's choice)
    max_concurrency: int = 16  # requests in flight for batches
    encoding: Encoding = "float"  # how score rows travel: float JSON (portable), base64, bytes
    aggregation: Aggregation = "first"
    mode: DecodeMode = "lenient"
    threshold: float = 0.0
    theme: str | None = None
    keymap: Mapping[str, str] = field(default_factory=dict)
    label_map: Mapping[str, str] = field(default_factory=dict)  # eval: gold type -> model type

    @property
    def base_url(self) -> str:
        """The server address: ``url`` if set, else ``http://host:port``."""
        if self.url:
            return self.url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"http://{host}:{self.port}"


@dataclass(frozen=True)
class _FieldSpec:
    types: tuple[type, ...]  # what a value may be (None aside: absent means the default)
    choices: tuple[str, ...] = ()  # a Literal field's values


def _spec(hint: Any) -> _FieldSpec:
    """What one annotation of :class:`Settings` accepts."""
    origin = get_origin(hint)
    if origin is Literal:
        return _FieldSpec((str,), tuple(get_args(hint)))
    if origin in (Union, types.UnionType):
        (inner,) = [a for a in get_args(hint) if a is not type(None)]
        return _spec(inner)
    if hint is float:
        return _FieldSpec((int, float))
    if origin is not None:  # Mapping[str, str]
        return _FieldSpec((dict,))
    return _FieldSpec((hint,))


_HINTS = get_type_hints(Settings)
_SPECS: dict[str, _FieldSpec] = {f.name: _spec(_HINTS[f.name]) for f in fields(Settings)}
SETTING_NAMES = tuple(_SPECS)
ENCODING_CHOICES: tuple[Encoding, ...] = get_args(Encoding)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where the config file is read from (it need not exist)."""
    env = os.environ if environ is None else environ
    override = env.get(CONFIG_FILE_ENV)
    if override:
        return Path(override).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "ner-tui" / "config.toml"


def _has_type(value: object, types: tuple[type, ...]) -> bool:
    # bool is an int subclass: `port = true` must not pass as 1.
    if isinstance(value, bool) and bool not in types:
        return False
    return isinstance(value, types)


def _check(name: str, value: Any, where: str) -> Any:
    """Validate one value from any layer; return it normalised (ints to float where needed)."""
    if name not in _SPECS:
        known = ", ".join(SETTING_NAMES)
        raise ConfigError(f"{where}: unknown setting `{name}` (known: {known})")
    spec = _SPECS[name]
    if not _has_type(value, spec.types):
        wanted = " or ".join(t.__name__ for t in spec.types)
        raise ConfigError(f"{where}: `{name}` must be {wanted}, not {value!r}")
    if dict in spec.types:
        bad = [k for k, v in value.items() if not isinstance(v, str)]
        if bad:
            raise ConfigError(f"{where}: {name} entry `{bad[0]}` must be a string")
        return dict(value)
    if spec.choices and value not in spec.choices:
        raise ConfigError(
            f"{where}: {name} must be one of {', '.join(spec.choices)}, not {value!r}"
        )
    if name == "port" and not 0 < value < 65536:
        raise ConfigError(f"{where}: port must be between 1 and 65535, not {value}")
    if name in ("threads", "max_concurrency") and value < 1:
        raise ConfigError(f"{where}: {name} must be at least 1, not {value}")
    if name == "timeout" and value <= 0:
        raise ConfigError(f"{where}: timeout must be a positive number of seconds, not {value}")
    if name == "threshold" and not 0.0 <= value <= 1.0:
        raise ConfigError(f"{where}: threshold must be between 0 and 1, not {value}")
    if name in ("timeout", "threshold"):
        return float(value)
    return value


def read_config_file(path: Path) -> dict[str, Any]:
    """The validated settings of a TOML file; ``{}`` when the file does not exist."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise ConfigError(f"config file {path}: cannot read it ({error.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path}: invalid TOML: {error}") from None
    return {name: _check(name, value, f"config file {path}") for name, value in data.items()}


def _parse_env_value(name: str, text: str, variable: str) -> Any:
    types = _SPECS[name].types
    if bool in types:
        lowered = text.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ConfigError(f"environment variable {variable}: expected true/false, not {text!r}")
    if int in types and float not in types:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(
                f"environment variable {variable}: expected a whole number, not {text!r}"
            ) from None
    if float in types:
        try:
            return float(text)
        except ValueError:
            raise ConfigError(
                f"environment variable {variable}: expected a number, not {text!r}"
            ) from None
    return text


def read_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The validated settings given as ``NER_TUI_<NAME>`` variables (tables excluded)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name in SETTING_NAMES:
        variable = ENV_PREFIX + name.upper()
        if dict in _SPECS[name].types or variable not in env:
            continue
        value = _parse_env_value(name, env[variable], variable)
        values[name] = _check(name, value, f"environment variable {variable}")
    return values


def _apply(settings: Settings, values: Mapping[str, Any]) -> Settings:
    if not values:
        return settings
    changes = dict(values)
    # A layer that names host or port (but no url) means "this server", not a lower layer's url.
    if ("host" in changes or "port" in changes) and "url" not in changes:
        changes["url"] = None
    for table in ("keymap", "label_map"):
        if table in changes:
            changes[table] = {**getattr(settings, table), **changes[table]}
    return replace(settings, **changes)


def load_settings(
    flags: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    path: Path | None = None,
) -> Settings:
    """Defaults, then the config file, then ``NER_TUI_*`` variables, then ``flags``.

    ``flags`` holds only what was given on the command line (``None`` values are ignored);
    names that are not settings are ignored too, so an argparse namespace can be passed as is.
    Raises :class:`ConfigError` naming the file, variable or flag at fault.
    """
    file = path if path is not None else config_path(environ)
    settings = _apply(Settings(), read_config_file(file))
    settings = _apply(settings, read_environment(environ))
    given = {
        name: _check(name, value, f"option --{name.replace('_', '-')}")
        for name, value in (flags or {}).items()
        if name in _SPECS and value is not None
    }
    return _apply(settings, given)


__all__ = [
    "CONFIG_FILE_ENV",
    "ENCODING_CHOICES",
    "SETTING_NAMES",
    "ConfigError",
    "Encoding",
    "Settings",
    "config_path",
    "load_settings",
    "read_config_file",
    "read_environment",
]
