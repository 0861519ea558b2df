"""The inputs decoding.md lists, through decode(): the entity is exactly the marked text.

Tokens come from a simple stand-in tokenizer (ASCII alphanumeric runs, every other
non-space character alone, as BERT does for CJK), with real character offsets into the
text; the tokens covering the target are labelled B-PER I-PER..., everything else O. Real
tokenizer families are covered by the alignment tests; this checks the decoder keeps the
original text whatever it contains.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from ner_tui.core.decoding import decode
from ner_tui.core.types import AGGREGATIONS, DecodeOptions, ScoredText

NAMES = ("O", "B-PER", "I-PER")
TOKEN = re.compile(r"[A-Za-z0-9]+|\S")

LONG = " ".join(["word"] * 650) + " Obama"
CASES = [
    # id, text, target, occurrence (0 = first, -1 = last)
    ("empty", "", "", 0),
    ("spaces", "   ", "", 0),
    ("leading-trailing", "  Obama  ", "Obama", 0),
    ("runs-of-spaces", "met    Obama   twice", "Obama", 0),
    ("newlines-tabs", "Obama\n\n\tvisited\r\nSeattle", "Seattle", 0),
    ("crlf", "Hi\r\nObama\r\n", "Obama", 0),
    ("nbsp-thin", "Mr\u00a0Barack\u2009Obama", "Barack\u2009Obama", 0),
    ("u2028", "Obama\u2028Lee", "Lee", 0),
    ("emoji-vs-zwj", "hi ❤️ 👩‍👩‍👧 Lee", "👩‍👩‍👧", 0),
    ("flags", "from 🇯🇵 to 🇫🇷", "🇫🇷", 0),
    ("cjk", "東京都に住む", "東京都", 0),
    ("thai", "ฉันอยู่กรุงเทพ", "กรุงเทพ", 0),
    ("arabic", "التقى أوباما في القاهرة", "أوباما", 0),
    ("hebrew", "אובמה ביקר", "אובמה", 0),
    ("ansi", "\x1b[31mObama\x1b[0m", "\x1b[31mObama", 0),  # escapes stay data
    ("markup", "[bold]Obama[/bold] met [link=x]Lee[/]", "[link=x]Lee", 0),
    ("literal-specials", "[SEP] [CLS] <s> <mask> Lee", "[SEP] [CLS]", 0),
    ("unk-chars", "Lee \ufffd\u0000 went", "\ufffd\u0000", 0),
    ("email-url", "mail ann@example.com or https://x.org/a?b=1", "ann@example.com", 0),
    ("hyphenated", "Jean-Luc Picard", "Jean-Luc", 0),
    ("dates-numbers", "on 2024-05-01 at 10:30", "2024-05-01", 0),
    ("repeated-last", "Paris and Paris", "Paris", -1),
    ("lone-entity-at-end", "we met Obama", "Obama", 0),
    ("tabs", "a\tObama\tb", "Obama", 0),
    ("600-words", LONG, "Obama", -1),
]


def build(text: str, target: str, occurrence: int) -> ScoredText:
    matches = list(TOKEN.finditer(text))
    if target:
        begin = text.find(target) if occurrence == 0 else text.rfind(target)
        end = begin + len(target)
    else:
        begin = end = -1
    labels = []
    inside = False
    for m in matches:
        if m.start() >= begin and m.end() <= end:
            labels.append("I-PER" if inside else "B-PER")
            inside = True
        else:
            labels.append("O")
            inside = False
    n = len(matches) + 2
    probs = np.full((n, 3), 0.05, dtype=np.float32)
    for i, label in enumerate(["O", *labels, "O"]):
        probs[i, NAMES.index(label)] = 0.9
    return ScoredText(
        text=text,
        token_ids=np.arange(n, dtype=np.int64),
        token_strs=("[CLS]", *(m.group() for m in matches), "[SEP]"),
        offsets=np.array([(0, 0), *(m.span() for m in matches), (0, 0)], dtype=np.int64),
        special=np.array([True] + [False] * (n - 2) + [True]),
        word_ids=(None, *range(n - 2), None),
        probs=probs,
        id2label=NAMES,
        chunk_of=np.zeros(n, dtype=np.int64),
        chunks=(),
        model="regex",
        source="test",
    )


@pytest.mark.parametrize(
    ("text", "target", "occurrence"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_entity_is_exactly_the_target(text: str, target: str, occurrence: int) -> None:
    scored = build(text, target, occurrence)
    for aggregation in AGGREGATIONS:
        if aggregation == "none":
            continue  # one entity per token by design
        p = decode(scored, DecodeOptions(aggregation=aggregation))
        expected = [] if not target else [target]
        assert [e.text for e in p.entities] == expected, aggregation
        for e in p.entities:
            assert e.text == text[e.start : e.end]
            assert e.label == "PER"
            if occurrence == -1:
                assert e.start == text.rfind(target)


def test_none_gives_one_entity_per_token_of_the_target() -> None:
    p = decode(build("hi 👩‍👩‍👧 Lee", "👩‍👩‍👧", 0), DecodeOptions(aggregation="none"))
    assert "".join(e.text for e in p.entities) == "👩‍👩‍👧"
    assert len(p.entities) == len("👩‍👩‍👧")  # one per code point token
