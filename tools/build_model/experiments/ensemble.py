"""Seed ensembles on the hand-checked news: each model alone, their averaged logits, and their
averaged weights (a "model soup"), all torch fp32 with default decoding.

Usage (models saved by ``build.py --safetensors DIR``):
    python tools/build_model/experiments/ensemble.py tools/work/s13-torch tools/work/s14-torch ...

Measured, not kept: neither gained more than the spread between seeds (see experiments/README.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import build  # noqa: E402
import data  # noqa: E402
import evaluate  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from transformers import AutoTokenizer, BertForTokenClassification  # noqa: E402

TYPES = ("PER", "ORG", "LOC", "MISC", "DATE", "micro avg")


def main() -> None:
    dirs = [Path(a) for a in sys.argv[1:]]
    if len(dirs) < 2:
        raise SystemExit(__doc__)
    torch.set_num_threads(2)
    tokenizer = AutoTokenizer.from_pretrained(str(dirs[0]))
    # The hand-checked news is the same chunks at every seed (cut by the base tokenizer, as build.py
    # does); seed 13's cached data has them.
    base_tokenizer = AutoTokenizer.from_pretrained(str(build.base_model_dir()))
    records = data.build(HERE.parent.parent / "work", 13, base_tokenizer, 128, print)
    chunks, gold = build.hand_gold(records)
    sets = {"news": [r["text"] for r in chunks]}
    sets["lower"] = [build.lower_case(t) for t in sets["news"]]
    models = [BertForTokenClassification.from_pretrained(str(d)).eval() for d in dirs]

    def show(name: str, fn: evaluate.Logits) -> None:
        for label, batch in sets.items():
            pred = evaluate.predict_spans(tokenizer, fn, batch, 128)
            s = evaluate.score(tokenizer, batch, gold, pred, 128)
            print(f"{name:24s} {label:5s}", " ".join(f"{t}={s[t]['f1']:.3f}" for t in TYPES))

    fns = [evaluate.torch_logits(m) for m in models]
    for d, fn in zip(dirs, fns, strict=True):
        show(d.name, fn)

    def mean_logits(ids: list[list[int]]) -> list[np.ndarray]:
        return [np.mean(rows, axis=0) for rows in zip(*(f(ids) for f in fns), strict=True)]

    show("ensemble (mean logits)", mean_logits)
    soup = BertForTokenClassification.from_pretrained(str(dirs[0])).eval()
    soup.load_state_dict(
        {k: sum(m.state_dict()[k].float() for m in models) / len(models) for k in soup.state_dict()}
    )
    show("soup (mean weights)", evaluate.torch_logits(soup))


if __name__ == "__main__":
    main()
