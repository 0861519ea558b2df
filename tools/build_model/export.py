"""ONNX export, weight-only int8 quantization, and the batch-invariance check.

Why weight-only: ONNX Runtime's dynamic int8 quantization picks activation scales per input tensor,
i.e. per batch, so a text's scores would depend on what else shares its batch. Here only the weights
are int8, with a per-channel scale: a DequantizeLinear in front of each large MatMul weight, and for
the embedding tables a gather of the int8 rows and of their scales, then Cast and Mul, so only the
rows in use are dequantized. Activations stay fp32, so results are independent of the batch by
construction (and verified below).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

OPSET = 17


def export_fp32(model: Any, path: Path) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    model.eval()
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    types = torch.zeros_like(ids)
    axes = {0: "batch_size", 1: "sequence_length"}
    torch.onnx.export(
        model,
        (ids, mask, types),
        str(path),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["logits"],
        dynamic_axes={
            "input_ids": axes,
            "attention_mask": axes,
            "token_type_ids": axes,
            "logits": axes,
        },
        opset_version=OPSET,
        do_constant_folding=True,
        dynamo=False,
    )


def quantize_weights_int8(
    src: Path, dst: Path, min_elements: int = 65536, gather_rows: bool = True
) -> dict[str, int]:
    """Symmetric per-channel int8 for large MatMul weights (per output column) and Gather tables
    (per row).

    With ``gather_rows`` a Gather table is not dequantized whole on every run (30k x 384 for the
    word embeddings): the int8 rows and their scales are gathered first, then multiplied; the same
    arithmetic, on only the rows the batch uses.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    inits = {init.name: init for init in graph.initializer}
    consumers: dict[str, list[tuple[Any, int]]] = {}
    for node in graph.node:
        for k, name in enumerate(node.input):
            consumers.setdefault(name, []).append((node, k))
    new_nodes = []
    after: dict[int, list[Any]] = {}  # id(node) -> nodes to place right after it
    stats = {"quantized": 0, "kept_fp32": 0}
    for name, init in list(inits.items()):
        uses = consumers.get(name, [])
        weight = numpy_helper.to_array(init)
        if weight.dtype != np.float32 or weight.ndim != 2 or weight.size < min_elements or not uses:
            stats["kept_fp32"] += 1
            continue
        if all(n.op_type == "MatMul" and k == 1 for n, k in uses):
            axis = 1
        elif all(n.op_type == "Gather" and k == 0 for n, k in uses):
            axis = 0
        else:
            stats["kept_fp32"] += 1
            continue
        reduce_axis = 1 - axis
        scale = np.abs(weight).max(axis=reduce_axis) / 127.0
        scale = np.where(scale == 0, 1.0, scale).astype(np.float32)
        shape = (1, -1) if axis == 1 else (-1, 1)
        q = np.clip(np.round(weight / scale.reshape(shape)), -127, 127).astype(np.int8)
        graph.initializer.remove(init)
        if gather_rows and all(_gather_axis(n) == 0 for n, _ in uses):
            graph.initializer.extend(
                [
                    numpy_helper.from_array(q, f"{name}_int8"),
                    numpy_helper.from_array(scale.reshape(-1, 1), f"{name}_row_scale"),
                ]
            )
            for j, (node, _) in enumerate(uses):
                out, base = node.output[0], f"{name}_{j}"
                node.input[0] = f"{name}_int8"
                node.output[0] = f"{base}_rows_int8"
                after.setdefault(id(node), []).extend(
                    [
                        helper.make_node(
                            "Gather",
                            [f"{name}_row_scale", node.input[1]],
                            [f"{base}_scales"],
                            name=f"{base}_GatherScale",
                        ),
                        helper.make_node(
                            "Cast",
                            [f"{base}_rows_int8"],
                            [f"{base}_rows"],
                            name=f"{base}_Cast",
                            to=onnx.TensorProto.FLOAT,
                        ),
                        helper.make_node(
                            "Mul", [f"{base}_rows", f"{base}_scales"], [out], name=f"{base}_Scale"
                        ),
                    ]
                )
            stats["quantized"] += 1
            continue
        graph.initializer.extend(
            [
                numpy_helper.from_array(q, f"{name}_int8"),
                numpy_helper.from_array(scale, f"{name}_scale"),
                numpy_helper.from_array(np.zeros_like(scale, dtype=np.int8), f"{name}_zero_point"),
            ]
        )
        new_nodes.append(
            helper.make_node(
                "DequantizeLinear",
                [f"{name}_int8", f"{name}_scale", f"{name}_zero_point"],
                [f"{name}_dequantized"],
                name=f"{name}_DequantizeLinear",
                axis=axis,
            )
        )
        for node, k in uses:
            node.input[k] = f"{name}_dequantized"
        stats["quantized"] += 1
    nodes = list(new_nodes)
    for node in graph.node:
        nodes.append(node)
        nodes.extend(after.get(id(node), []))
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(dst))
    return stats


def _gather_axis(node: Any) -> int | None:
    if node.op_type != "Gather":
        return None
    return next((int(a.i) for a in node.attribute if a.name == "axis"), 0)


def session(path: Path, threads: int = 2) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def batch_invariance(sess: Any, tokenizer: Any, text: str, others: list[str]) -> float:
    """Max |softmax(alone) - softmax(same text padded inside a batch with longer texts)| over its
    rows."""
    alone = tokenizer([text], return_tensors="np")
    batch = tokenizer([*others, text], return_tensors="np", padding=True)

    def run(enc: Any) -> np.ndarray:
        feeds = {
            k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")
        }
        return _softmax(sess.run(["logits"], feeds)[0])

    a = run(alone)[0]
    b = run(batch)[-1][: a.shape[0]]
    return float(np.abs(a - b).max())
