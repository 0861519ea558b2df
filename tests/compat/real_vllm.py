"""Where the real vLLM of the compatibility suite is, from ``VLLM_COMPAT_SERVER``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = "VLLM_COMPAT_SERVER"
HOW = f"no real vLLM: run `python tools/vllm_cpu.py test`, or set {ENV} (tests/compat/conftest.py)"


@dataclass(frozen=True)
class RealVllm:
    url: str
    model: str  # the served model name (vLLM: the directory as given)
    model_dir: Path  # local: tokenizer.json, config.json, model.safetensors, onnx/model.onnx
    version: str
    max_model_len: int


def locate() -> tuple[str | None, str]:
    """(base URL, why not) from the environment."""
    value = os.environ.get(ENV, "").strip()
    if not value:
        return None, HOW
    if "://" in value:
        return value.rstrip("/"), ""
    path = Path(value)
    if not path.is_absolute():
        path = ROOT / path
    if not path.is_file():
        return None, f"{ENV}={value}: no such file (is `tools/vllm_cpu.py serve` running?)"
    return str(json.loads(path.read_text())["url"]).rstrip("/"), ""


def skip_module_unless_configured() -> None:
    """Skip the calling test module (one line in the summary) when no vLLM is given."""
    url, why = locate()
    if url is None:
        pytest.skip(why, allow_module_level=True)
