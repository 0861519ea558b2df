"""A second real model for the comparison tests: other tokenizer family, other label names."""

from __future__ import annotations

import shutil
from pathlib import Path

from tokenizers_factory import FAMILIES, build_tokenizer, write_model_dir

FIXTURES = Path(__file__).parent / "fixtures"
OTHER_LABELS = (
    "O",
    "B-PERSON",
    "I-PERSON",
    "B-COMPANY",
    "I-COMPANY",
    "B-PLACE",
    "I-PLACE",
    "B-THING",
    "I-THING",
)
#: ``--compare-map`` from those names to the bundled and tiny models' own.
B_TO_A = "PERSON=PER,COMPANY=ORG,PLACE=LOC,THING=MISC"


def bpe_model_dir(root: Path) -> Path:
    """The tiny fixture model's real ONNX weights behind a byte-level BPE tokenizer (RoBERTa
    style; the fixture's own is WordPiece) of at most 560 ids (its embedding has 572 rows),
    with the labels above: a real model that tokenizes and names types otherwise."""
    family = next(f for f in FAMILIES if f.name == "roberta")
    directory = root / "tiny-bpe-ner"
    shutil.copytree(FIXTURES / "tiny-bert-ner" / "onnx", directory / "onnx")
    write_model_dir(
        family,
        directory,
        labels=OTHER_LABELS,
        max_position_embeddings=130,  # RoBERTa counts 2 positions for padding: a 128 window
        tokenizer=build_tokenizer(family, vocab_size=560),
    )
    return directory
