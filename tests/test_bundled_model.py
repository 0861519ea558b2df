"""The bundled English model: files load offline, ONNX runs, entities are real, scores are
batch-invariant."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from ner_tui.models import bundled_model_path

MODEL = bundled_model_path()
pytestmark = pytest.mark.skipif(
    not (MODEL / "onnx" / "model_quantized.onnx").exists(), reason="bundled model not built"
)


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    os.environ["HF_HUB_OFFLINE"] = "1"
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(MODEL))


@pytest.fixture(scope="module")
def session():  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(
        str(MODEL / "onnx" / "model_quantized.onnx"), options, providers=["CPUExecutionProvider"]
    )


def _probs(session, enc) -> np.ndarray:  # type: ignore[no-untyped-def]
    feeds = {
        k: np.asarray(enc[k], dtype=np.int64)
        for k in ("input_ids", "attention_mask", "token_type_ids")
    }
    logits = session.run(["logits"], feeds)[0]
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _entities(tokenizer, session, text: str) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    from transformers import AutoConfig

    id2label = AutoConfig.from_pretrained(str(MODEL)).id2label
    enc = tokenizer([text], return_offsets_mapping=True, return_special_tokens_mask=True)
    labels = [id2label[int(i)] for i in _probs(session, enc)[0].argmax(-1)]
    out: list[list] = []
    for (start, end), special, label in zip(
        enc["offset_mapping"][0], enc["special_tokens_mask"][0], labels, strict=False
    ):
        if special or label == "O":
            continue
        if label.startswith("I-") and out and out[-1][2] == label[2:] and out[-1][1] <= start:
            out[-1][1] = end
        else:
            out.append([start, end, label[2:]])
    return [(text[s:e], k) for s, e, k in out]


def test_config_declares_a_bert_token_classifier_with_iob2_labels() -> None:
    from transformers import AutoConfig

    os.environ["HF_HUB_OFFLINE"] = "1"
    config = AutoConfig.from_pretrained(str(MODEL))
    assert config.architectures == ["BertForTokenClassification"]
    labels = set(config.id2label.values())
    assert labels == {"O"} | {
        f"{p}-{t}" for t in ("PER", "ORG", "LOC", "MISC", "DATE") for p in "BI"
    }
    assert config.label2id[config.id2label[3]] == 3


def test_headline_demo_sentences_get_real_entities(tokenizer, session) -> None:  # type: ignore[no-untyped-def]
    ents = _entities(
        tokenizer,
        session,
        "Barack Obama visited Microsoft headquarters in Seattle on January 2025.",
    )
    assert ("Barack Obama", "PER") in ents
    assert ("Seattle", "LOC") in ents
    ents = _entities(tokenizer, session, "Apple is looking at buying U.K. startup for $1 billion.")
    assert ("U.K.", "LOC") in ents  # one entity over four subwords


def test_the_tokenizer_sees_capital_letters(tokenizer) -> None:  # type: ignore[no-untyped-def]
    """The cased vocabulary: "Bush" and "bush" are different tokens, a capitalized word splits
    where its lower-case form does, and offsets still point at the text as typed."""
    text = "Bush flew over the bush near the PUK base in São Paulo."
    enc = tokenizer(text, return_offsets_mapping=True, add_special_tokens=False)
    pieces = tokenizer.convert_ids_to_tokens(enc["input_ids"])
    assert pieces[0] == "Bush" and "bush" in pieces
    assert enc["input_ids"][0] != enc["input_ids"][pieces.index("bush")]
    assert [p for p in pieces if p.upper() == p and p.strip("#").isalpha()][:2] == ["PU", "##K"]
    assert "[UNK]" not in pieces
    for (start, end), piece in zip(enc["offset_mapping"], pieces, strict=True):
        shown = text[start:end]
        assert shown == piece.removeprefix("##") or (piece == "Sao" and shown == "São")


def test_capitalisation_changes_what_is_a_name(tokenizer, session) -> None:  # type: ignore[no-untyped-def]
    ents = _entities(tokenizer, session, "President Bush flew over the bush fires near Sydney.")
    assert ("Bush", "PER") in ents
    assert not any(text.lower().startswith("bush") and text != "Bush" for text, _ in ents)


def test_a_texts_scores_do_not_depend_on_its_batch(tokenizer, session) -> None:  # type: ignore[no-untyped-def]
    text = "Angela Merkel met Emmanuel Macron in Paris."
    longer = (
        "The United Nations said on Monday that talks in Geneva between the two delegations "
        "had failed. " * 3
    )
    alone = _probs(session, tokenizer([text]))[0]
    batch = _probs(session, tokenizer([longer, text], padding=True))[1][: alone.shape[0]]
    assert np.abs(alone - batch).max() < 1e-2


def test_eval_report_is_shipped_with_per_type_scores() -> None:
    report = json.loads((MODEL / "eval_report.json").read_text())
    for evaluation in report["evaluations"].values():
        for scores in evaluation["results"].values():
            assert "micro avg" in scores
    assert not list(MODEL.rglob("*.safetensors"))
