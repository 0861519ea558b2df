"""Shared test setup: no test reaches outside the machine or reads the developer's config."""

from __future__ import annotations

import os
from pathlib import Path

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
