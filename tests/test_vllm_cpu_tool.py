"""``tools/vllm_cpu.py``'s weight mapping, without torch or vLLM.

The compatibility suite serves the bundled model's weights to a real vLLM as a
``BertForTokenClassification``, dequantized from the int8 ONNX graph. A wrong name or a missing
transpose would still load in vLLM and give plausible-looking scores, so this runs the
dequantized weights through a plain numpy BERT and checks the logits against the bundled graph
itself (ONNX Runtime, graph optimizations off: with them on, ORT rewrites the int8 MatMuls and
moves the logits by ~3e-2).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import vllm_cpu  # noqa: E402

pytest.importorskip("onnx")
ONNX = vllm_cpu.BUNDLED / "onnx" / "model_quantized.onnx"
pytestmark = pytest.mark.skipif(not ONNX.is_file(), reason="bundled model not built")

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-12) * w + b


def _bert_logits(sd: dict[str, np.ndarray], ids: list[int], heads: int = 12) -> np.ndarray:
    """BertForTokenClassification's forward pass for one unpadded sequence, in float64."""
    w = {k: np.asarray(v, dtype=np.float64) for k, v in sd.items()}
    e = "bert.embeddings."
    x = w[e + "word_embeddings.weight"][ids] + w[e + "position_embeddings.weight"][: len(ids)]
    x = _layer_norm(
        x + w[e + "token_type_embeddings.weight"][0],
        w[e + "LayerNorm.weight"],
        w[e + "LayerNorm.bias"],
    )

    def linear(name: str, h: np.ndarray) -> np.ndarray:
        return h @ w[name + ".weight"].T + w[name + ".bias"]

    for i in range(6):
        p = f"bert.encoder.layer.{i}."
        size = x.shape[-1] // heads

        def split(h: np.ndarray, size: int = size) -> np.ndarray:
            return h.reshape(len(ids), heads, size).transpose(1, 0, 2)

        q, k, v = (split(linear(p + f"attention.self.{n}", x)) for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(size)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        context = (scores / scores.sum(-1, keepdims=True)) @ v
        context = context.transpose(1, 0, 2).reshape(len(ids), -1)
        x = _layer_norm(
            x + linear(p + "attention.output.dense", context),
            w[p + "attention.output.LayerNorm.weight"],
            w[p + "attention.output.LayerNorm.bias"],
        )
        h = linear(p + "intermediate.dense", x)
        h = 0.5 * h * (1.0 + _erf(h / math.sqrt(2.0)))
        x = _layer_norm(
            x + linear(p + "output.dense", h),
            w[p + "output.LayerNorm.weight"],
            w[p + "output.LayerNorm.bias"],
        )
    return linear("classifier", x)


def test_dequantized_weights_are_the_bundled_model() -> None:
    import onnxruntime as ort
    from tokenizers import Tokenizer

    sd = vllm_cpu._dequantized_state_dict(ONNX)
    per_layer = 16  # q, k, v, attention out, 2 LayerNorms, intermediate, out: weight + bias
    assert len(sd) == 5 + 6 * per_layer + 2
    assert sd["bert.embeddings.word_embeddings.weight"].shape == (60799, 384)
    assert sd["bert.encoder.layer.0.intermediate.dense.weight"].shape == (1536, 384)
    assert sd["classifier.weight"].shape == (11, 384)

    tok = Tokenizer.from_file(str(vllm_cpu.BUNDLED / "tokenizer.json"))
    ids = tok.encode("Barack Obama met Angela Merkel in BERLIN on Tuesday.").ids
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(ONNX), options, providers=["CPUExecutionProvider"])
    feeds = {
        "input_ids": np.array([ids], dtype=np.int64),
        "attention_mask": np.ones((1, len(ids)), dtype=np.int64),
        "token_type_ids": np.zeros((1, len(ids)), dtype=np.int64),
    }
    expected = session.run(None, feeds)[0][0]
    assert np.abs(_bert_logits(sd, ids) - expected).max() < 1e-4
