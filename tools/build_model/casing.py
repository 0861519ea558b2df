"""A cased vocabulary for the uncased MiniLM encoder, so the student can see capital letters.

The encoder's WordPiece vocabulary is lower-case only and its tokenizer lower-cases the input, so
"Apple" and "apple", "Bush" and "bush", "Union" and "union" are the same tokens: in news text the
biggest cue for a name is invisible. No small cased English encoder is available here, so this
module gives the uncased one a cased vocabulary:

- Every lower-case alphabetic word in the vocabulary also gets a ``Capitalized`` form, short words
  (up to ``UPPER_WORD_MAX`` letters) an ``UPPER`` form ("UK", "NASA"), and short continuation
  pieces (up to ``UPPER_PIECE_MAX``) an upper-case form ("##K", so "PUK" and "McDonald" still
  tokenize). The original tokens keep their ids; the new ones are appended.
- The tokenizer no longer lower-cases (it still strips accents, as before). Greedy WordPiece then
  splits a capitalized word exactly where it split the lower-case one.
- A new token's embedding is tied: the row of the lower-case token it came from plus one learned
  vector per case kind (``CasedWordEmbedding``). Nothing is learned per new token, so the case
  vectors carry what capitalisation means to every word, including words the training data never
  showed capitalized. Before training, the model is exactly the uncased one.

The ONNX export keeps the tie (a gather of the base id and case kind, then of the rows), so the
shipped embedding table stays the encoder's 30,522 rows. ``materialize`` writes out one plain row
per token for the safetensors export (for vLLM / transformers), and ``untie`` recovers the tied
form from such a model exactly.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

AS_IS, CAPITALIZED, UPPER = 0, 1, 2
CASE_KINDS = ("as-is", "Capitalized", "UPPER")
UPPER_WORD_MAX = 5
UPPER_PIECE_MAX = 3


@dataclass(frozen=True)
class CasedVocab:
    tokens: list[str]
    base_ids: list[int]  # per token id: the id of the lower-case token it was made from
    case_ids: list[int]  # per token id: AS_IS, CAPITALIZED or UPPER
    base_size: int

    @property
    def added(self) -> int:
        return len(self.tokens) - self.base_size


def _lower_alpha(text: str) -> bool:
    return text.isalpha() and text == text.lower()


def cased_vocab(base_tokens: list[str]) -> CasedVocab:
    tokens = list(base_tokens)
    base_ids = list(range(len(tokens)))
    case_ids = [AS_IS] * len(tokens)
    known = set(tokens)

    def add(token: str, base: int, case: int) -> None:
        if token not in known:
            known.add(token)
            tokens.append(token)
            base_ids.append(base)
            case_ids.append(case)

    for i, token in enumerate(base_tokens):
        if token.startswith("##"):
            piece = token[2:]
            if _lower_alpha(piece) and len(piece) <= UPPER_PIECE_MAX:
                add("##" + piece.upper(), i, UPPER)
        elif _lower_alpha(token):
            add(token[0].upper() + token[1:], i, CAPITALIZED)
            if 2 <= len(token) <= UPPER_WORD_MAX:
                add(token.upper(), i, UPPER)
    return CasedVocab(tokens, base_ids, case_ids, len(base_tokens))


def cased_tokenizer(base_dir: Path, vocab: CasedVocab) -> Any:
    """The base tokenizer with the cased vocabulary and no lower-casing (accents still stripped),
    and no truncation or padding built in (the base tokenizer.json truncates at 128)."""
    from tokenizers import Tokenizer, models, normalizers

    backend = Tokenizer.from_file(str(base_dir / "tokenizer.json"))
    backend.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=True, lowercase=False
    )
    backend.model = models.WordPiece(
        {token: i for i, token in enumerate(vocab.tokens)},
        unk_token="[UNK]",
        max_input_chars_per_word=100,
    )
    backend.no_truncation()
    backend.no_padding()
    return backend


def save_tokenizer(base_dir: Path, vocab: CasedVocab, out: Path) -> Any:
    """Writes tokenizer.json, vocab.txt, tokenizer_config.json and special_tokens_map.json (the
    files AutoTokenizer and vLLM read) and returns the tokenizer loaded back from them."""
    import json
    import shutil

    from transformers import AutoTokenizer

    out.mkdir(parents=True, exist_ok=True)
    cased_tokenizer(base_dir, vocab).save(str(out / "tokenizer.json"))
    (out / "vocab.txt").write_text("".join(f"{t}\n" for t in vocab.tokens), encoding="utf-8")
    config = json.loads((base_dir / "tokenizer_config.json").read_text())
    config.pop("name_or_path", None)
    config.update(do_lower_case=False, strip_accents=True, tokenizer_class="BertTokenizer")
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    shutil.copy(base_dir / "special_tokens_map.json", out / "special_tokens_map.json")
    return AutoTokenizer.from_pretrained(str(out))


@functools.cache
def _torch_module() -> Any:
    """The CasedWordEmbedding class, defined once on first use (torch is imported lazily)."""
    import torch

    class CasedWordEmbedding(torch.nn.Module):
        """Row of the base (lower-case) token + a learned vector for the token's case kind."""

        def __init__(self, base: Any, vocab: CasedVocab) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(base.weight.detach().clone())
            self.case = torch.nn.Parameter(torch.zeros(len(CASE_KINDS) - 1, base.weight.shape[1]))
            self.register_buffer("base_ids", torch.tensor(vocab.base_ids, dtype=torch.long))
            self.register_buffer("case_ids", torch.tensor(vocab.case_ids, dtype=torch.long))
            self.num_embeddings = len(vocab.tokens)
            self.embedding_dim = base.weight.shape[1]
            self.padding_idx = base.padding_idx

        def case_table(self) -> Any:
            return torch.cat([torch.zeros_like(self.case[:1]), self.case])

        def forward(self, input_ids: Any) -> Any:
            rows = torch.nn.functional.embedding(self.base_ids[input_ids], self.weight)
            return rows + torch.nn.functional.embedding(self.case_ids[input_ids], self.case_table())

        def materialized(self) -> Any:
            with torch.no_grad():
                table = self.weight[self.base_ids] + self.case_table()[self.case_ids]
            out = torch.nn.Embedding(self.num_embeddings, self.embedding_dim, self.padding_idx)
            out.weight = torch.nn.Parameter(table.detach().clone())
            return out

    return CasedWordEmbedding


def tie(model: Any, vocab: CasedVocab) -> Any:
    """Give a BertForTokenClassification with the base vocabulary the tied cased embedding."""
    embeddings = model.bert.embeddings
    assert embeddings.word_embeddings.weight.shape[0] == vocab.base_size
    embeddings.word_embeddings = _torch_module()(embeddings.word_embeddings, vocab)
    model.config.vocab_size = len(vocab.tokens)
    return model


def materialize(model: Any) -> Any:
    """One plain embedding row per token (a standard BERT checkpoint)."""
    embeddings = model.bert.embeddings
    embeddings.word_embeddings = embeddings.word_embeddings.materialized()
    return model


def untie(model: Any, vocab: CasedVocab) -> Any:
    """The tied form of a materialized model (exact: the base rows are the first ``base_size``
    rows, and each case vector is any new row minus its base row)."""
    import torch

    table = model.bert.embeddings.word_embeddings.weight.detach()
    base = torch.nn.Embedding(vocab.base_size, table.shape[1], padding_idx=0)
    base.weight = torch.nn.Parameter(table[: vocab.base_size].clone())
    module = _torch_module()(base, vocab)
    with torch.no_grad():
        for kind in (CAPITALIZED, UPPER):
            first = vocab.case_ids.index(kind)
            module.case[kind - 1] = table[first] - table[vocab.base_ids[first]]
    model.bert.embeddings.word_embeddings = module
    return model
