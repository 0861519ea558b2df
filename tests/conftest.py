"""Shared test setup: no test reaches outside the machine or reads the developer's config."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Set before anything imports transformers/huggingface_hub, and inherited by subprocesses
# (servers started by the tests), so nothing ever tries the hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
# A config path that does not exist: tests never read the developer's own config or keymap.
os.environ["NER_TUI_CONFIG_FILE"] = str(Path(__file__).parent / "no-such-config.toml")
for _name in [k for k in os.environ if k.startswith("NER_TUI_") and k != "NER_TUI_CONFIG_FILE"]:
    del os.environ[_name]

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _session_in_a_temporary_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Every test starts with no saved session and saves into its own temporary directory:
    never the developer's ~/.local/state (``NER_TUI_STATE_DIR``, see ``core/session.py``)."""
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("NER_TUI_STATE_DIR", str(state))
    yield state
