"""The compatibility suite: ner-tui against a REAL vLLM (its CPU build), on the same weights.

It runs only when told where that vLLM is, and otherwise skips with the reason. One command
sets everything up (about 5 minutes the first time), runs it and stops vLLM::

    python tools/vllm_cpu.py test

or by hand, keeping vLLM up between runs::

    python tools/vllm_cpu.py setup && python tools/vllm_cpu.py model
    python tools/vllm_cpu.py serve &                  # writes tools/work/vllm/server.json
    VLLM_COMPAT_SERVER=tools/work/vllm/server.json python -m pytest -q tests/compat

``VLLM_COMPAT_SERVER`` is the ``server.json`` that ``tools/vllm_cpu.py serve`` writes, or the
base URL of any vLLM serving a local model directory with an fp32 ``onnx/model.onnx`` beside its
safetensors (the directory is read from ``/v1/models``' ``root``). The variable is not named
``NER_TUI_*`` because the suite's root conftest clears those (they are ner-tui's settings).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from real_vllm import ENV, RealVllm, locate
from servers import SERVE_COMMAND, serve_process


@pytest.fixture(scope="session")
def vllm() -> RealVllm:
    url, why = locate()
    if url is None:
        pytest.skip(why)
    try:
        models = httpx.get(f"{url}/v1/models", timeout=10).json()
        version = httpx.get(f"{url}/version", timeout=10).json()["version"]
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        pytest.fail(f"{ENV} points at {url}, which does not answer as vLLM: {exc!r}")
    card = models["data"][0]
    model_dir = Path(card["root"])
    if not (model_dir / "onnx" / "model.onnx").is_file():
        pytest.fail(f"{model_dir} has no onnx/model.onnx: build it with tools/vllm_cpu.py model")
    return RealVllm(
        url=url,
        model=card["id"],
        model_dir=model_dir,
        version=str(version),
        max_model_len=int(card["max_model_len"]),
    )


@pytest.fixture(scope="session")
def ours(vllm: RealVllm) -> Iterator[str]:
    """``ner-tui serve`` on the same weights (fp32 ONNX), served under the same name."""
    with serve_process(
        "--model",
        vllm.model,
        "--onnx-file",
        "onnx/model.onnx",
        command=SERVE_COMMAND,
        startup_timeout=120,
    ) as server:
        yield server.url
