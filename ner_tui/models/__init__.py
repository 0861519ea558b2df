"""Models shipped inside the package."""

from __future__ import annotations

from pathlib import Path

BUNDLED_MODEL_NAME = "ner-tui-minilm-en"


def bundled_model_path() -> Path:
    """The directory of the bundled English NER model (Hugging Face layout, ONNX weights)."""
    return Path(__file__).parent / BUNDLED_MODEL_NAME
