"""Truncation tokenizes a piece of a long text, not all of it: the same ids as tokenizing the
whole text and truncating, for every tokenizer family, both sides, with and without special
tokens (:func:`ner_tui.server.app.piece_ids`); and against a real ``ner-tui serve``."""

from __future__ import annotations

import random
from pathlib import Path

import httpx
import pytest
from servers import serve_process
from tokenizers_factory import CORPUS, build_all

from ner_tui.core.model_info import special_template
from ner_tui.server.app import piece_ids, splits_at_whitespace, truncate_ids

BUNDLED = Path(__file__).parents[1] / "ner_tui" / "models" / "ner-tui-minilm-en"
TINY = Path(__file__).parent / "fixtures" / "tiny-bert-ner"
MARGIN = 16  # the server's margin (_PIECE_MARGIN_TOKENS)


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    from transformers import AutoTokenizer

    dirs = {**build_all(tmp_path_factory.mktemp("tok")), "bundled": BUNDLED, "tiny": TINY}
    return {name: AutoTokenizer.from_pretrained(str(d)) for name, d in dirs.items()}


def _texts(rng: random.Random) -> list[str]:
    words = [*" ".join(CORPUS).split(), "naïve", "Zürich", "東京", "😀", "e.g.", "U.S.", "--"]
    out = []
    for _ in range(12):
        n = rng.randrange(1, 3000)
        gaps = [" ", " ", " ", "  ", "\n", " \n ", "\t", "   "]
        out.append("".join(rng.choice(words) + rng.choice(gaps) for _ in range(n)).strip())
    out.append("word " * 5000)
    out.append(" lead and trail spaces " * 400 + "   ")
    out.append("x" * 20_000 + " end")  # one huge word, then a short one
    out.append("short text")
    return out


@pytest.mark.parametrize(
    "family", ["bert-cased", "bert-uncased", "roberta", "xlmr", "modernbert", "bundled", "tiny"]
)
def test_a_piece_gives_the_ids_of_the_whole_text_truncated(
    tokenizers: dict[str, object], family: str
) -> None:
    tok = tokenizers[family]
    assert splits_at_whitespace(tok), family
    rng = random.Random(family)
    before, after = special_template(tok, family)
    for with_specials in (True, False):
        specials = (len(before), len(after)) if with_specials else (0, 0)

        def tokenize(text: str, s: bool = with_specials) -> list[int]:
            return list(tok(text, add_special_tokens=s)["input_ids"])  # type: ignore[operator]

        for text in _texts(rng):
            full = tokenize(text)
            for k in (1, 3, 17, 128, 512):
                for side in ("right", "left"):
                    got = piece_ids(text, tokenize, sum(specials), k + MARGIN, side)
                    assert truncate_ids(got, k, side, specials) == truncate_ids(
                        full, k, side, specials
                    ), (family, with_specials, k, side, text[:80])


def test_a_tokenizer_without_a_whitespace_split_is_tokenized_whole(
    tokenizers: dict[str, object],
) -> None:
    from tokenizers import pre_tokenizers

    tok = tokenizers["xlmr"]
    backend = tok.backend_tokenizer  # type: ignore[attr-defined]
    kept = backend.pre_tokenizer
    try:
        backend.pre_tokenizer = pre_tokenizers.Metaspace(split=False)
        assert not splits_at_whitespace(tok)
        backend.pre_tokenizer = pre_tokenizers.Split("x", "isolated")
        assert not splits_at_whitespace(tok)
    finally:
        backend.pre_tokenizer = kept
    assert splits_at_whitespace(tok)


def _tokenized(url: str) -> float:
    for line in httpx.get(f"{url}/metrics", timeout=30).text.splitlines():
        if line.startswith("ner_tui_tokenized_chars_total"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError("no ner_tui_tokenized_chars_total")


def test_the_server_tokenizes_a_piece_of_a_huge_text_it_truncates() -> None:
    """A 1.5 MB text truncated (to the window and to 20 tokens, right and left) is scored as
    the ids the tokenizer's own truncation of the whole text gives, and under 1% of it is
    tokenized (before: all of it)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(TINY))
    rng = random.Random(7)
    words = " ".join(CORPUS).split()
    text = " ".join(rng.choice(words) for _ in range(250_000))
    with serve_process("--model", str(TINY), "--threads", "1") as proc:
        for side in ("right", "left"):
            for k in (-1, 20):
                before = _tokenized(proc.url)
                cut = httpx.post(
                    f"{proc.url}/pooling",
                    json={"input": text, "truncate_prompt_tokens": k, "truncation_side": side},
                    timeout=120,
                )
                assert cut.status_code == 200, cut.text
                tokenized = _tokenized(proc.url) - before
                assert 0 < tokenized < len(text) // 100
                tok.truncation_side = side  # the tokenizer's own truncation, whole text
                kept = tok(text, truncation=True, max_length=128 if k == -1 else k)["input_ids"]
                same = httpx.post(f"{proc.url}/pooling", json={"input": [list(kept)]}, timeout=120)
                assert same.status_code == 200
                assert cut.json()["data"][0]["data"] == same.json()["data"][0]["data"]
                assert cut.json()["usage"] == same.json()["usage"]
        # /tokenize answers every token (no piece will do): a long answer is written off the
        # loop in steps, with the same ids and strings as the tokenizer's.
        long = text[:400_000]
        answer = httpx.post(
            f"{proc.url}/tokenize", json={"prompt": long, "return_token_strs": True}, timeout=120
        )
        assert answer.status_code == 200
        ids = list(tok(long)["input_ids"])
        assert len(ids) > 65_536
        assert answer.json()["tokens"] == ids and answer.json()["count"] == len(ids)
        assert answer.json()["token_strs"] == tok.convert_ids_to_tokens(ids)
