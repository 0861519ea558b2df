"""Build ``tests/fixtures/tiny-bert-ner/``: a real, tiny BERT token classifier for plumbing tests.

Run with the torch venv (the test suite itself never needs torch)::

    /work/torchenv/bin/python tools/make_tiny_model.py [--out tests/fixtures/tiny-bert-ner]

What it writes (Hugging Face layout, loadable offline by AutoTokenizer/AutoConfig):

- ``tokenizer.json`` + ``tokenizer_config.json`` + ``special_tokens_map.json``: a cased WordPiece
  vocabulary trained with ``tokenizers`` on the small English corpus below;
- ``config.json``: BertForTokenClassification, 2 layers, hidden 32, 2 heads, 128 positions,
  IOB2 labels O/B-PER/I-PER/B-ORG/I-ORG/B-LOC/I-LOC/B-MISC/I-MISC;
- ``model.safetensors`` (torch path) and ``onnx/model.onnx`` (fp32; inputs input_ids,
  attention_mask, token_type_ids with dynamic batch/sequence axes; output logits), plus
  ``onnx/model_no_token_type_ids.onnx`` (same weights, a graph without token_type_ids, to test
  that the engine feeds only the inputs a graph declares);
- ``reference.npz``: transformers' logits and softmax(logits) for a few fixed texts.

The weights are trained for a few seconds on templated sentences with exact labels, so the
model finds some entities; it is a plumbing fixture, not a useful NER model. Fixed seed.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from pathlib import Path

LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]

PEOPLE = [
    "Barack Obama",
    "Angela Merkel",
    "Marie Curie",
    "John Smith",
    "Ada Lovelace",
    "Alan Turing",
    "Serena Williams",
    "Nelson Mandela",
    "Emma Watson",
    "Jacinda Ardern",
    "Li Wei",
    "Kofi Annan",
]
ORGS = [
    "Microsoft",
    "Apple",
    "Google",
    "the United Nations",
    "Siemens",
    "Reuters",
    "Toyota",
    "the World Bank",
    "Deutsche Bank",
    "Airbus",
    "Nokia",
    "BBC",
]
PLACES = [
    "Seattle",
    "Berlin",
    "Paris",
    "New York",
    "Tokyo",
    "London",
    "Cape Town",
    "Sydney",
    "Brazil",
    "Germany",
    "Canada",
    "Kenya",
]
MISC = ["English", "German", "French", "Olympic", "Japanese", "Nobel", "Christmas", "Dutch"]

TEMPLATES = [
    "{PER} visited {ORG} headquarters in {LOC} .",
    "{PER} works for {ORG} in {LOC} .",
    "{ORG} opened a new office in {LOC} last year .",
    "The {MISC} minister met {PER} in {LOC} on Monday .",
    "{PER} said that {ORG} would hire more staff .",
    "Shares of {ORG} fell after {PER} resigned .",
    "{PER} won the {MISC} prize in {LOC} .",
    "Is {ORG} looking at buying a startup in {LOC} for $ 1 billion ?",
    "In {LOC} , {PER} gave a speech in {MISC} .",
    "{ORG} and {ORG} signed a deal in {LOC} .",
    "It rained all day and nobody went outside .",
    "The report was published on 3 March 2024 .",
]

PLAIN = [
    "The quick brown fox jumps over the lazy dog.",
    "She sells sea shells by the sea shore, and the shells she sells are surely sea shells.",
    "Prices rose by 4.5 percent in the second quarter, analysts said on Tuesday.",
    "A small team built the first prototype in a garage in 1998.",
    "Weather: sunny, 21 degrees; wind from the north-west at 15 km/h.",
]

# Fixed texts whose transformers outputs are stored in reference.npz.
REFERENCE_TEXTS = [
    "Barack Obama visited Microsoft headquarters in Seattle.",
    "Angela Merkel met the French president in Paris on Monday.",
    "Hi",
    "Shares of Toyota fell after Li Wei resigned, Reuters reported from Tokyo and London.",
    "Zyxw qqq, unknown wörds & symbols #42!",
]


def _sentences(rng: random.Random, n: int) -> list[tuple[list[str], list[str]]]:
    """Templated sentences as (words, word-level entity types or 'O')."""
    pools = {"PER": PEOPLE, "ORG": ORGS, "LOC": PLACES, "MISC": MISC}
    out: list[tuple[list[str], list[str]]] = []
    for _ in range(n):
        words: list[str] = []
        tags: list[str] = []
        for piece in rng.choice(TEMPLATES).split():
            if piece.startswith("{") and piece.endswith("}"):
                kind = piece[1:-1]
                for i, w in enumerate(rng.choice(pools[kind]).split()):
                    words.append(w)
                    tags.append(("B-" if i == 0 else "I-") + kind)
            else:
                words.append(piece)
                tags.append("O")
        out.append((words, tags))
    return out


def _train_tokenizer(corpus: list[str], out: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers.trainers import WordPieceTrainer

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    trainer = WordPieceTrainer(vocab_size=600, special_tokens=special, min_frequency=1)
    tok.train_from_iterator(corpus, trainer=trainer)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    from transformers import BertTokenizerFast

    fast = BertTokenizerFast(
        tokenizer_object=tok,
        do_lower_case=False,
        unk_token="[UNK]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        mask_token="[MASK]",
        model_max_length=128,
    )
    fast.save_pretrained(out)
    # Keep only what a fast tokenizer needs (no vocab.txt duplicate is required, but it is
    # tiny and lets slow-tokenizer code paths work too).
    smap = {
        "cls_token": "[CLS]",
        "mask_token": "[MASK]",
        "pad_token": "[PAD]",
        "sep_token": "[SEP]",
        "unk_token": "[UNK]",
    }
    (out / "special_tokens_map.json").write_text(json.dumps(smap, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/fixtures/tiny-bert-ner")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--steps", type=int, default=400)
    args = parser.parse_args()

    import numpy as np
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    (out / "onnx").mkdir(parents=True)

    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)

    train = _sentences(rng, 800)
    corpus = [" ".join(w) for w, _ in train] + PLAIN + REFERENCE_TEXTS
    corpus += [" ".join(PEOPLE + ORGS + PLACES + MISC)]
    _train_tokenizer(corpus, out)
    tokenizer = AutoTokenizer.from_pretrained(out)

    label2id = {label: i for i, label in enumerate(LABELS)}
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        type_vocab_size=2,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        id2label=dict(enumerate(LABELS)),
        label2id=label2id,
        pad_token_id=tokenizer.pad_token_id,
        architectures=["BertForTokenClassification"],
    )
    model = BertForTokenClassification(config)

    # Label every subword: B- on a word's first piece, I- on the rest; specials ignored.
    enc = tokenizer(
        [w for w, _ in train], is_split_into_words=True, padding=True, return_tensors="pt"
    )
    labels = torch.full(enc["input_ids"].shape, -100, dtype=torch.long)
    for row, (_, tags) in enumerate(train):
        prev = None
        for col, wid in enumerate(enc.word_ids(row)):
            if wid is None:
                continue
            tag = tags[wid]
            if wid == prev and tag.startswith("B-"):
                tag = "I-" + tag[2:]
            labels[row, col] = label2id[tag]
            prev = wid
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    n = labels.shape[0]
    for step in range(args.steps):
        idx = torch.randint(0, n, (32,))
        loss = model(
            input_ids=enc["input_ids"][idx],
            attention_mask=enc["attention_mask"][idx],
            token_type_ids=enc["token_type_ids"][idx],
            labels=labels[idx],
        ).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == args.steps - 1:
            print(f"step {step} loss {loss.item():.4f}")
    model.eval()
    model.save_pretrained(out, safe_serialization=True)

    _export_onnx(model, tokenizer, out)
    _write_reference(model, tokenizer, out)
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out} ({total / 1024:.0f} KiB)")


def _export_onnx(model, tokenizer, out: Path) -> None:  # type: ignore[no-untyped-def]
    import torch

    sample = tokenizer(["Barack Obama visited Seattle.", "Hi"], padding=True, return_tensors="pt")
    dyn = {0: "batch", 1: "sequence"}

    class Logits(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).logits

    class LogitsNoTT(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):  # type: ignore[no-untyped-def]
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).logits

    with torch.no_grad():
        torch.onnx.export(
            Logits(model),
            (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
            str(out / "onnx" / "model.onnx"),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["logits"],
            dynamic_axes={
                "input_ids": dyn,
                "attention_mask": dyn,
                "token_type_ids": dyn,
                "logits": dyn,
            },
            opset_version=17,
            dynamo=False,
        )
        torch.onnx.export(
            LogitsNoTT(model),
            (sample["input_ids"], sample["attention_mask"]),
            str(out / "onnx" / "model_no_token_type_ids.onnx"),
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes={"input_ids": dyn, "attention_mask": dyn, "logits": dyn},
            opset_version=17,
            dynamo=False,
        )


def _write_reference(model, tokenizer, out: Path) -> None:  # type: ignore[no-untyped-def]
    """Logits and softmax(logits) from transformers, one text at a time (no padding)."""
    import numpy as np
    import torch

    arrays: dict[str, np.ndarray] = {"texts": np.array(REFERENCE_TEXTS)}
    with torch.no_grad():
        for i, text in enumerate(REFERENCE_TEXTS):
            enc = tokenizer(text, return_tensors="pt")
            logits = model(**enc).logits[0]
            arrays[f"ids_{i}"] = enc["input_ids"][0].numpy().astype(np.int64)
            arrays[f"logits_{i}"] = logits.numpy().astype(np.float32)
            arrays[f"probs_{i}"] = torch.softmax(logits, dim=-1).numpy().astype(np.float32)
    np.savez_compressed(out / "reference.npz", **arrays)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
