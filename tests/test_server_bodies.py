"""Big bodies parsed off the event loop, in steps (:mod:`ner_tui.server.bodies`): the same
value as ``json.loads`` or the same exception, whatever the document and wherever the chunks
fall. (The server side, against a real ``ner-tui serve``, is in test_server_hostile.py.)"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from ner_tui.server.bodies import loads_in_steps

# Strings that make a cut at a comma land inside a string or a nested value.
_NASTY = ["a,b", "],", '",', '\\",[', '{"k": [1,2]},', "\u00e9\u4e2d", "\U0001f600", "\\u0022,"]


def _value(rng: random.Random, depth: int) -> Any:
    kind = rng.randrange(9 if depth < 4 else 5)
    if kind == 0:
        return rng.randrange(-(10**6), 10**6)
    if kind == 1:
        return rng.choice([rng.random() * 1e6, -0.5, 1e-300, 10**30, True, False, None])
    if kind in (2, 3, 4):
        pieces = [*_NASTY, "x", " ", "\n", "\\", '"']
        return "".join(rng.choice(pieces) for _ in range(rng.randrange(6)))
    if kind in (5, 6):
        return [_value(rng, depth + 1) for _ in range(rng.randrange(12))]
    return {
        rng.choice(["input", "a,b", '"', "k"]) + str(rng.randrange(4)): _value(rng, depth + 1)
        for _ in range(rng.randrange(6))
    }


def _text(rng: random.Random, doc: Any) -> str:
    style = rng.randrange(4)
    if style == 0:
        return json.dumps(doc)
    if style == 1:
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    if style == 2:
        return json.dumps(doc, indent=rng.randrange(4))
    return " \n" + json.dumps(doc, separators=(" , ", " : ")) + "\t\r\n"


@pytest.mark.parametrize("seed", range(40))
def test_the_same_value_as_json_loads_wherever_the_chunks_fall(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(25):
        doc = {"input": [_value(rng, 2) for _ in range(rng.randrange(40))], "x": _value(rng, 1)}
        if rng.random() < 0.2:
            doc = [_value(rng, 1) for _ in range(20)]  # type: ignore[assignment]
        raw = _text(rng, doc).encode(rng.choice(["utf-8", "utf-8", "utf-16", "utf-8-sig"]))
        expected = json.loads(raw)
        for chunk in (1, 2, 3, 7, 16, 64, 1 << 20):
            assert loads_in_steps(raw, chunk_chars=chunk) == expected


@pytest.mark.parametrize("seed", range(20))
def test_the_same_exception_as_json_loads_for_a_broken_body(seed: int) -> None:
    rng = random.Random(1000 + seed)
    for _ in range(25):
        doc = {"input": [_value(rng, 2) for _ in range(rng.randrange(1, 30))], "y": [1, 2]}
        text = _text(rng, doc)
        at = rng.randrange(len(text) + 1)
        broken = rng.choice(
            [
                text[:at],  # cut short
                text[:at] + rng.choice([",", "]", "}", ":", "x", ",,", '"']) + text[at:],
                text + rng.choice([" x", "[]", ","]),  # extra data
                text.replace(",", ",,", 1),
                text.replace("]", ",]", 1),
            ]
        ).encode()
        try:
            json.loads(broken)
        except ValueError as exc:
            for chunk in (1, 5, 64):
                with pytest.raises(type(exc)) as got:
                    loads_in_steps(broken, chunk_chars=chunk)
                assert str(got.value) == str(exc)
        else:
            assert loads_in_steps(broken, chunk_chars=5) == json.loads(broken)


def test_a_max_size_body_of_token_ids_parses_in_chunks_to_the_same_value() -> None:
    raw = json.dumps({"input": [[101] + [7592] * 510 + [102]] * 512, "model": "m"}).encode()
    assert loads_in_steps(raw) == json.loads(raw)
    flat = json.dumps({"input": list(range(200_000))}).encode()
    assert loads_in_steps(flat) == json.loads(flat)


def test_non_finite_numbers_and_duplicate_keys_as_json_loads_has_them() -> None:
    raw = b'{"a": [NaN, Infinity, -Infinity, 1], "a": [2, 3], "b": {"c": 1, "c": 2}}'
    got = loads_in_steps(raw, chunk_chars=2)
    assert repr(got) == repr(json.loads(raw))


@pytest.mark.parametrize("chunk", [1, 2, 3, 100])
def test_an_answer_written_in_steps_has_json_responses_bytes(chunk: int) -> None:
    from ner_tui.server.bodies import dumps_in_steps
    from ner_tui.server.http import json_response

    rng = random.Random(chunk)
    for _ in range(30):
        doc = {
            "count": rng.randrange(10),
            "max_model_len": rng.choice([None, 512]),
            "tokens": [rng.randrange(30_000) for _ in range(rng.randrange(12))],
            "token_strs": rng.choice([None, [_value(rng, 4) for _ in range(rng.randrange(9))]]),
            '\u00e9 "key"': "\ud800 lone",  # escaped as json_response escapes it
        }
        assert dumps_in_steps(doc, chunk) == json_response(doc).body
