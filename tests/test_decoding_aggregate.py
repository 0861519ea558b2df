"""Word aggregation (none / simple / first / average / max) as transformers' pipeline does it.

Hand-checked cases first, then random rows checked against the pipeline's own
``aggregate`` (transformers' code, no torch and no model needed: it only reads scores,
``is_subword`` flags and ``id2label``), with ``is_subword`` derived from our word_ids.
"""

from __future__ import annotations

import os
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ner_tui.core.decoding import aggregate, decode, word_units
from ner_tui.core.labels import LabelSet
from ner_tui.core.types import DecodeOptions, ScoredText

os.environ.setdefault("HF_HUB_OFFLINE", "1")

NAMES = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC")
# One word of three tokens, chosen so that every strategy gives a different answer:
#   first   -> B-PER 0.40 (token 0's argmax)
#   max     -> B-LOC 0.90 (tokens 1 and 2 both peak at 0.90: the first one wins)
#   average -> O 0.4333   (means: O 1.30/3, B-LOC 1.20/3, B-PER 0.50/3)
WORD = np.array(
    [
        [0.35, 0.40, 0.00, 0.25, 0.00],
        [0.05, 0.05, 0.00, 0.90, 0.00],
        [0.90, 0.05, 0.00, 0.05, 0.00],
    ],
    dtype=np.float32,
)


def _one_word(strategy: str) -> tuple[list[str], list[float]]:
    ids, scores = aggregate(WORD, [0, 0, 0], np.zeros(3, bool), strategy)
    return [NAMES[i] for i in ids], scores.tolist()


def test_none_and_simple_take_each_tokens_argmax() -> None:
    for strategy in ("none", "simple"):
        labels, scores = _one_word(strategy)
        assert labels == ["B-PER", "B-LOC", "O"]
        assert scores == pytest.approx([0.40, 0.90, 0.90])


def test_first_takes_the_first_subwords_label_for_the_whole_word() -> None:
    labels, scores = _one_word("first")
    assert labels == ["B-PER"] * 3
    assert scores == pytest.approx([0.40] * 3)


def test_max_takes_the_most_confident_token_first_on_ties() -> None:
    labels, scores = _one_word("max")
    assert labels == ["B-LOC"] * 3
    assert scores == pytest.approx([0.90] * 3)


def test_average_takes_the_argmax_of_the_mean_vector() -> None:
    labels, scores = _one_word("average")
    assert labels == ["O"] * 3
    assert scores == pytest.approx([1.30 / 3] * 3)


def test_words_come_from_word_ids_and_specials_stand_alone() -> None:
    special = np.array([True, False, False, False, False, True])
    word_ids = [None, 0, 0, 1, None, None]  # a non-special token without a word is alone too
    assert word_units(word_ids, special).tolist() == [0, 1, 3, 4, 5]
    # Same word id on both sides of a special token (a chunk edge): two units.
    assert word_units([0, None, 0], np.array([False, True, False])).tolist() == [0, 1, 2]
    # Newlines do not split SentencePiece words: whatever word_ids say goes.
    assert word_units([0, 0, 0, 1], np.zeros(4, bool)).tolist() == [0, 3]
    assert word_units([], np.zeros(0, bool)).tolist() == []


def test_word_label_and_score_apply_to_every_token_of_the_word() -> None:
    probs = np.vstack([np.eye(5, dtype=np.float32)[0], WORD, np.eye(5, dtype=np.float32)[3]])
    special = np.array([True, False, False, False, False])
    ids, scores = aggregate(probs, [None, 0, 0, 0, 1], special, "first")
    assert [NAMES[i] for i in ids] == ["O", "B-PER", "B-PER", "B-PER", "B-LOC"]
    assert scores.tolist() == pytest.approx([1.0, 0.4, 0.4, 0.4, 1.0])


def test_empty_input_and_bad_arguments() -> None:
    ids, scores = aggregate(np.zeros((0, 5), np.float32), [], np.zeros(0, bool), "average")
    assert ids.shape == scores.shape == (0,)
    with pytest.raises(ValueError, match="unknown aggregation"):
        aggregate(WORD, [0, 0, 0], np.zeros(3, bool), "mean")
    with pytest.raises(ValueError, match="word ids"):
        aggregate(WORD, [0, 0], np.zeros(3, bool), "first")
    with pytest.raises(ValueError, match="columns"):
        aggregate(WORD, [0, 0, 0], np.zeros(3, bool), "first", LabelSet.from_names(["O", "B-X"]))


def test_aggregate_is_vectorised_for_long_documents() -> None:
    """20k tokens in one call; the result matches a per-word loop (timing lives in bench/)."""
    rng = np.random.default_rng(1)
    n = 20_000
    probs = rng.dirichlet(np.ones(5), size=n).astype(np.float32)
    word_ids = list(np.repeat(np.arange(n // 4), 4))
    ids, scores = aggregate(probs, word_ids, np.zeros(n, bool), "average")
    means = probs.reshape(-1, 4, 5).mean(axis=1)
    assert np.array_equal(ids.reshape(-1, 4)[:, 0], means.argmax(axis=1))
    assert np.allclose(scores.reshape(-1, 4)[:, 0], means.max(axis=1), atol=1e-6)


# --- The transformers pipeline as the oracle ---------------------------------------------------


def _pipeline() -> object:
    from transformers.pipelines.token_classification import TokenClassificationPipeline

    pipe = object.__new__(TokenClassificationPipeline)  # no model: aggregate only reads these
    pipe.model = SimpleNamespace(config=SimpleNamespace(id2label=dict(enumerate(NAMES))))
    pipe.tokenizer = SimpleNamespace(convert_tokens_to_string=lambda tokens: "".join(tokens))
    return pipe


def _pipeline_entities(probs: np.ndarray, word_ids: list[int], strategy: str) -> list[tuple]:
    from transformers.pipelines.token_classification import AggregationStrategy

    pre = [
        {
            "word": f"t{i}",
            "scores": probs[i],
            "start": 2 * i,
            "end": 2 * i + 1,
            "index": i,
            "is_subword": i > 0 and word_ids[i] == word_ids[i - 1],
        }
        for i in range(len(word_ids))
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = _pipeline().aggregate(pre, AggregationStrategy(strategy))  # type: ignore[attr-defined]
    entities = []
    for e in out:
        label = e.get("entity_group", e.get("entity"))
        if label == "O":
            continue
        entities.append((label.split("-", 1)[-1], e["start"], e["end"], float(e["score"])))
    return entities


@st.composite
def word_rows(draw: st.DrawFn) -> tuple[np.ndarray, list[int]]:
    sizes = draw(st.lists(st.integers(1, 4), min_size=1, max_size=10))
    word_ids = [w for w, size in enumerate(sizes) for _ in range(size)]
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    # Peaked rows so that B-/I- structure and ties between words both occur.
    probs = rng.dirichlet(np.full(len(NAMES), 0.3), size=len(word_ids)).astype(np.float32)
    return probs, word_ids


@pytest.mark.parametrize("strategy", ["none", "simple", "first", "average", "max"])
@settings(max_examples=60, deadline=None)
@given(case=word_rows())
def test_entities_equal_the_transformers_pipeline(
    strategy: str, case: tuple[np.ndarray, list[int]]
) -> None:
    probs, word_ids = case
    n = len(word_ids)
    # [CLS] ... [SEP] around the text, as the pipeline sees it (it drops special tokens).
    all_probs = np.vstack([np.eye(5, dtype=np.float32)[:1], probs, np.eye(5, dtype=np.float32)[:1]])
    text = " ".join(f"t{i}" for i in range(n))
    offsets = [(0, 0)] + [(2 * i, 2 * i + 1) for i in range(n)] + [(0, 0)]
    scored = ScoredText(
        text=text,
        token_ids=np.arange(n + 2),
        token_strs=("[CLS]", *(f"t{i}" for i in range(n)), "[SEP]"),
        offsets=np.array(offsets, dtype=np.int64),
        special=np.array([True] + [False] * n + [True]),
        word_ids=(None, *word_ids, None),
        probs=all_probs,
        id2label=NAMES,
        chunk_of=np.zeros(n + 2, dtype=np.int64),
        chunks=(),
        model="m",
        source="test",
    )
    prediction = decode(scored, DecodeOptions(aggregation=strategy))  # type: ignore[arg-type]
    ours = [(e.label, e.start, e.end, e.score) for e in prediction.entities]
    theirs = _pipeline_entities(probs, word_ids, strategy)
    assert [x[:3] for x in ours] == [x[:3] for x in theirs]
    assert [x[3] for x in ours] == pytest.approx([x[3] for x in theirs], rel=1e-5)
