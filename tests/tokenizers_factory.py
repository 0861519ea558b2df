"""Real tokenizer directories for tests, built locally with the ``tokenizers`` library.

Each family is trained on a small built-in corpus and saved the way a model on the hub is
(``tokenizer.json``, ``tokenizer_config.json``, ``special_tokens_map.json``, ``config.json`` with
``id2label``), so :func:`ner_tui.core.alignment.load_model_info` loads it through
``AutoTokenizer``/``AutoConfig`` exactly as it loads a real model. No hub, no torch.

Families:

- ``bert-cased``: WordPiece, BertNormalizer without lowercasing, ``[CLS] $A [SEP]``.
- ``bert-uncased``: WordPiece, lowercase + strip accents (offsets still point at the original).
- ``roberta``: byte-level BPE, ``<s> $A </s>``, ``trim_offsets`` (emoji split into bytes).
- ``xlmr``: Unigram + Metaspace (SentencePiece style), NFKC, ``<s> $A </s>``.
- ``modernbert``: byte-level BPE with ``[CLS] $A [SEP]`` and the generic
  ``PreTrainedTokenizerFast`` class (how ModernBERT ships).

Characters in :data:`NEVER_SEEN` are absent from the corpus, so WordPiece and Unigram map
them to their unknown token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tokenizers import (
    Regex,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)

IOB2_LABELS = (
    "O",
    "B-PER",
    "I-PER",
    "B-ORG",
    "I-ORG",
    "B-LOC",
    "I-LOC",
    "B-MISC",
    "I-MISC",
)

# Not in the corpus: WordPiece and Unigram turn these into their unknown token.
NEVER_SEEN = "ꙮ𓀀"

_ENGLISH = """\
Barack Obama visited Seattle on Tuesday with Angela Merkel.
The United Nations met in New York and Geneva last year.
Jean-Luc Picard works for Starfleet Command in San Francisco.
Apple Inc. opened a new office in London near the River Thames.
Marie Curie won the Nobel Prize in 1903 and again in 1911.
Contact alice@example.com or visit https://example.org/about for details.
On 2024-03-15 the meeting moved to 10:30 in Room 42B.
Dr. Smith-Jones and Prof. O'Neill published a paper with Microsoft Research.
The quick brown fox jumps over the lazy dog near the Amazon River.
Tokyo, Paris and Berlin are capitals; Sydney is not the capital of Australia.
Ms. García and Mr. Müller met José in Zürich and São Paulo.
Google, Amazon and Meta reported earnings on Thursday evening.
The European Union and the World Health Organization signed an agreement.
Serena Williams played at Wimbledon while Roger Federer watched from Basel.
He said: "I will fly to Los Angeles on Friday, then to Chicago."
Numbers like 3.14159, 1,000,000 and 42% appear in reports from the IMF.
The email was sent from bob.smith@mail.example.co.uk at 9 a.m.
Visit www.wikipedia.org or http://localhost:8000/pooling to read more.
Obama met Obama's advisers; Seattle, Seattle and Seattle again.
Elizabeth II was Queen of the United Kingdom and of Canada.
Lee met Kim at Samsung in Seoul; Nguyen flew from Hanoi to Bangkok.
Rich markup like [bold] and [link=x] is plain text to a model.
The model sees [SEP] and [CLS] and <s> and <mask> only as characters here.
Mohammed bin Salman visited Riyadh and Cairo with officials from OPEC.
a b c d e f g h i j k l m n o p q r s t u v w x y z 0 1 2 3 4 5 6 7 8 9
A B C D E F G H I J K L M N O P Q R S T U V W X Y Z
. , ; : ! ? - _ / @ # ( ) [ ] < > = + * & % $ ' "
"""

_OTHER_SCRIPTS = """\
東京都に住む山田さんは大阪へ行った。
北京和上海是中国的城市。
กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย
محمد يعيش في القاهرة
שלום ירושלים
Привет, Москва! Владимир живёт в Санкт-Петербурге.
Ελλάδα Αθήνα
👍🏽 👨‍👩‍👧 🇯🇵 🇺🇸 ❤️ ☺️ 😀 ﬁ ½ ﬀ
"""

CORPUS: tuple[str, ...] = tuple((_ENGLISH + _OTHER_SCRIPTS).splitlines())


@dataclass(frozen=True)
class Family:
    """One tokenizer family: how it is built and what a real model of that kind declares."""

    name: str
    model_type: str  # config.json model_type
    architecture: str
    tokenizer_class: str
    special: dict[str, str]  # special_tokens_map.json
    uncased: bool = False


# Special tokens of the RoBERTa and XLM-R families (<s> doubles as CLS, </s> as SEP).
ROBERTA_STYLE_SPECIALS = {
    "bos_token": "<s>",
    "eos_token": "</s>",
    "unk_token": "<unk>",
    "sep_token": "</s>",
    "pad_token": "<pad>",
    "cls_token": "<s>",
    "mask_token": "<mask>",
}

FAMILIES: tuple[Family, ...] = (
    Family(
        "bert-cased",
        "bert",
        "BertForTokenClassification",
        "BertTokenizer",
        {
            "unk_token": "[UNK]",
            "sep_token": "[SEP]",
            "pad_token": "[PAD]",
            "cls_token": "[CLS]",
            "mask_token": "[MASK]",
        },
    ),
    Family(
        "bert-uncased",
        "bert",
        "BertForTokenClassification",
        "BertTokenizer",
        {
            "unk_token": "[UNK]",
            "sep_token": "[SEP]",
            "pad_token": "[PAD]",
            "cls_token": "[CLS]",
            "mask_token": "[MASK]",
        },
        uncased=True,
    ),
    Family(
        "roberta",
        "roberta",
        "RobertaForTokenClassification",
        "RobertaTokenizer",
        ROBERTA_STYLE_SPECIALS,
    ),
    Family(
        "xlmr",
        "xlm-roberta",
        "XLMRobertaForTokenClassification",
        "XLMRobertaTokenizer",
        ROBERTA_STYLE_SPECIALS,
    ),
    Family(
        "modernbert",
        "modernbert",
        "ModernBertForTokenClassification",
        "PreTrainedTokenizerFast",
        {
            "unk_token": "[UNK]",
            "sep_token": "[SEP]",
            "pad_token": "[PAD]",
            "cls_token": "[CLS]",
            "mask_token": "[MASK]",
        },
    ),
)


def _id(tok: Tokenizer, token: str) -> int:
    found = tok.token_to_id(token)
    assert found is not None, f"{token!r} is not in the vocabulary"
    return found


def _special_list(family: Family) -> list[str]:
    """Special tokens in id order (the order real vocabularies use)."""
    if family.special.get("cls_token") == "[CLS]":
        return ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    return ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def _wordpiece(family: Family, specials: list[str], vocab_size: int = 900) -> Tokenizer:
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True,
        handle_chinese_chars=True,
        strip_accents=family.uncased,
        lowercase=family.uncased,
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, min_frequency=1, special_tokens=specials, show_progress=False
    )
    tok.train_from_iterator(CORPUS, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0",
        pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", _id(tok, "[CLS]")), ("[SEP]", _id(tok, "[SEP]"))],
    )
    return tok


def _byte_level(family: Family, specials: list[str], vocab_size: int = 900) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer=trainer)
    if family.name == "roberta":
        tok.post_processor = processors.RobertaProcessing(
            ("</s>", _id(tok, "</s>")),
            ("<s>", _id(tok, "<s>")),
            trim_offsets=True,
            add_prefix_space=False,
        )
    else:
        tok.post_processor = processors.Sequence(
            [
                processors.ByteLevel(trim_offsets=True),
                processors.TemplateProcessing(
                    single="[CLS]:0 $A:0 [SEP]:0",
                    pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
                    special_tokens=[
                        ("[CLS]", _id(tok, "[CLS]")),
                        ("[SEP]", _id(tok, "[SEP]")),
                    ],
                ),
            ]
        )
    return tok


def _unigram(family: Family, specials: list[str], vocab_size: int = 700) -> Tokenizer:
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence(
        [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size, special_tokens=specials, unk_token="<unk>", show_progress=False
    )
    tok.train_from_iterator(CORPUS, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s>:0 $A:0 </s>:0",
        pair="<s>:0 $A:0 </s>:0 </s>:0 $B:0 </s>:0",
        special_tokens=[("<s>", _id(tok, "<s>")), ("</s>", _id(tok, "</s>"))],
    )
    return tok


def build_tokenizer(family: Family, vocab_size: int | None = None) -> Tokenizer:
    """Train the family's tokenizer on :data:`CORPUS` (deterministic, well under a second).

    ``vocab_size``: at most this many ids (to fit real weights with a small embedding)."""
    specials = _special_list(family)
    size = {} if vocab_size is None else {"vocab_size": vocab_size}
    if family.name.startswith("bert"):
        return _wordpiece(family, specials, **size)
    if family.name in ("roberta", "modernbert"):
        return _byte_level(family, specials, **size)
    return _unigram(family, specials, **size)


def write_model_dir(
    family: Family,
    directory: Path,
    *,
    labels: tuple[str, ...] = IOB2_LABELS,
    max_position_embeddings: int = 512,
    model_max_length: int | None = 512,
    tokenizer: Tokenizer | None = None,
) -> Path:
    """Save a model directory (everything but weights) for ``family`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    tok = tokenizer if tokenizer is not None else build_tokenizer(family)
    tok.save(str(directory / "tokenizer.json"))
    tokenizer_config: dict[str, object] = {
        "tokenizer_class": family.tokenizer_class,
        "clean_up_tokenization_spaces": False,
        **family.special,
    }
    if model_max_length is not None:
        tokenizer_config["model_max_length"] = model_max_length
    if family.name.startswith("bert"):
        tokenizer_config["do_lower_case"] = family.uncased
        tokenizer_config["strip_accents"] = family.uncased
    if family.name == "roberta":
        tokenizer_config["add_prefix_space"] = False
        tokenizer_config["trim_offsets"] = True
    (directory / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2))
    (directory / "special_tokens_map.json").write_text(json.dumps(family.special, indent=2))
    pad_id = _id(tok, family.special["pad_token"])
    config = {
        "architectures": [family.architecture],
        "model_type": family.model_type,
        "hidden_size": 16,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 32,
        "max_position_embeddings": max_position_embeddings,
        "vocab_size": tok.get_vocab_size(),
        "pad_token_id": pad_id,
        **_special_ids(family, tok),
        # JSON keys are strings, as in every real config.json.
        "id2label": {str(i): label for i, label in enumerate(labels)},
        "label2id": {label: i for i, label in enumerate(labels)},
    }
    (directory / "config.json").write_text(json.dumps(config, indent=2))
    return directory


def _special_ids(family: Family, tok: Tokenizer) -> dict[str, int]:
    """The ``*_token_id`` entries a real config.json of this kind carries."""
    ids = {}
    for key in ("bos", "eos", "cls", "sep"):
        token = family.special.get(f"{key}_token")
        if token is not None:
            ids[f"{key}_token_id"] = _id(tok, token)
    if "bos_token_id" not in ids:  # ModernBERT's config uses [CLS]/[SEP] as bos/eos
        ids["bos_token_id"], ids["eos_token_id"] = ids["cls_token_id"], ids["sep_token_id"]
    return ids


def build_all(root: Path) -> dict[str, Path]:
    """One model directory per family under ``root``; returns ``{family name: directory}``."""
    return {
        f.name: write_model_dir(
            f,
            root / f.name,
            # RoBERTa-style position ids start after the padding index: 514 for 512 tokens.
            max_position_embeddings=514 if f.model_type in ("roberta", "xlm-roberta") else 512,
        )
        for f in FAMILIES
    }
