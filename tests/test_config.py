"""Settings: file < NER_TUI_* environment < flags, and broken input named in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ner_tui.core.settings import ConfigError, Settings, config_path, load_settings


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_defaults_when_no_file(tmp_path: Path) -> None:
    settings = load_settings(environ={}, path=tmp_path / "absent.toml")
    assert settings == Settings()
    assert settings.base_url == "http://localhost:8000"


def test_precedence_file_then_env_then_flags(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'model = "from-file"\ntimeout = 5\ntheme = "nord"\naggregation = "first"\n'
        '[keymap]\nsubmit = "ctrl+s"\n',
    )
    env = {"NER_TUI_MODEL": "from-env", "NER_TUI_TIMEOUT": "7.5", "NER_TUI_LOCAL": "yes"}
    flags = {"model": "from-flag", "aggregation": None, "unrelated_flag": 3}

    settings = load_settings(flags, environ=env, path=path)

    assert settings.model == "from-flag"  # flag beats env beats file
    assert settings.timeout == 7.5  # env beats file
    assert settings.local is True
    assert settings.theme == "nord"  # only the file sets it
    assert settings.aggregation == "first"  # a None flag means "not given"
    assert settings.keymap == {"submit": "ctrl+s"}


def test_host_in_a_higher_layer_replaces_a_lower_url(tmp_path: Path) -> None:
    path = _write(tmp_path, 'url = "http://gpu-box:9000/"\n')
    assert load_settings(environ={}, path=path).base_url == "http://gpu-box:9000"
    env = {"NER_TUI_PORT": "8123"}
    assert load_settings(environ=env, path=path).base_url == "http://localhost:8123"
    flags = {"url": "http://flag:1"}
    assert load_settings(flags, environ=env, path=path).base_url == "http://flag:1"


def test_config_path_honours_override_then_xdg(tmp_path: Path) -> None:
    assert config_path({"NER_TUI_CONFIG_FILE": str(tmp_path / "x.toml")}) == tmp_path / "x.toml"
    expected = tmp_path / "ner-tui" / "config.toml"
    assert config_path({"XDG_CONFIG_HOME": str(tmp_path)}) == expected


def test_env_override_path_is_used_by_default(tmp_path: Path, monkeypatch) -> None:
    path = _write(tmp_path, 'host = "other"\n')
    monkeypatch.setenv("NER_TUI_CONFIG_FILE", str(path))
    assert load_settings().host == "other"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("model = [unclosed", "invalid TOML"),
        ("colour = 'red'\n", "unknown setting `colour`"),
        ("port = 'eighty'\n", "`port` must be int"),
        ("port = true\n", "`port` must be int"),
        ("port = 70000\n", "between 1 and 65535"),
        ("aggregation = 'bogus'\n", "aggregation must be one of"),
        ("timeout = 0\n", "positive number"),
        ("encoding = 'xml'\n", "encoding must be one of"),
        ("[keymap]\nsubmit = 3\n", "keymap entry `submit`"),
    ],
)
def test_bad_file_is_one_line_naming_file_and_problem(
    tmp_path: Path, body: str, fragment: str
) -> None:
    path = _write(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_settings(environ={}, path=path)
    message = str(info.value)
    assert str(path) in message
    assert fragment in message
    assert "\n" not in message
    assert info.value.hint


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"model = '\xff'\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(environ={}, path=path)


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"NER_TUI_PORT": "http"}, "NER_TUI_PORT: expected a whole number"),
        ({"NER_TUI_LOCAL": "maybe"}, "NER_TUI_LOCAL: expected true/false"),
        ({"NER_TUI_MODE": "loose"}, "NER_TUI_MODE: mode must be one of"),
    ],
)
def test_bad_environment_names_the_variable(
    tmp_path: Path, env: dict[str, str], fragment: str
) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load_settings(environ=env, path=tmp_path / "absent.toml")


def test_bad_flag_names_the_option(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="option --threshold"):
        load_settings({"threshold": 1.5}, environ={}, path=tmp_path / "absent.toml")


def test_ipv6_host_is_bracketed() -> None:
    assert Settings(host="::1", port=9).base_url == "http://[::1]:9"
