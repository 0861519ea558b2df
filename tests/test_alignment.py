"""Alignment on real tokenizer families (built locally) and a real local model.

Every tokenizer here is a real ``tokenizers`` tokenizer saved as a model directory and loaded
through ``AutoTokenizer``/``AutoConfig`` (see ``tokenizers_factory``). Score rows are data:
seeded random rows where the claim is about alignment, a real ONNX model through
:class:`~ner_tui.core.engine.LocalEngine` where the claim is end to end.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers_factory import (
    FAMILIES,
    IOB2_LABELS,
    NEVER_SEEN,
    build_all,
    build_tokenizer,
    write_model_dir,
)

from ner_tui.core.aio import map_ordered
from ner_tui.core.alignment import EncodedText, encode, merge, score
from ner_tui.core.backend import ModelCard, PoolingBackend, PoolingResult
from ner_tui.core.decoding import decode
from ner_tui.core.errors import (
    InputTooLong,
    MalformedResponse,
    ModelLoadError,
    NerTuiError,
    RowMismatch,
)
from ner_tui.core.model_info import ModelInfo, load_model_info
from ner_tui.core.types import AGGREGATIONS, DECODE_MODES, DecodeOptions, ScoredText

FAMILY_NAMES = tuple(f.name for f in FAMILIES)
TINY_BERT = Path(__file__).parent / "fixtures" / "tiny-bert-ner"

_SENTENCE = (
    "Barack Obama visited Seattle on Tuesday with Angela Merkel and the United Nations "
    "delegation, then flew to New York; Jean-Luc Picard met Marie Curie in Zürich at 10:30 "
    "on 2024-03-15 and wrote to alice@example.com about https://example.org/about."
)
_WORDS = _SENTENCE.split()
LONG_TEXT = " ".join(_WORDS[i % len(_WORDS)] for i in range(640))  # 640 words

# decoding.md, "Inputs every alignment/decoding test suite should include".
INPUTS: dict[str, str] = {
    "empty": "",
    "spaces": "   ",
    "lead-trail": "   Obama visited Seattle   ",
    "space-runs": "Obama    visited     Seattle",
    "newlines-tab": "Obama\n\n\tvisited\r\nSeattle",
    "crlf": "Barack Obama\r\nvisited Seattle\r\n",
    "nbsp-thin": "Angela\u00a0Merkel met\u2009Obama in\u202fParis",
    "line-separator": "Obama\u2028Seattle\u2029Paris",
    "emoji-zwj": "I ❤️ Seattle 👨‍👩‍👧 and 👍🏽 with Obama",
    "flags": "🇯🇵 Tokyo 🇺🇸 Washington 🇫🇷",
    "cjk": "東京都に住む",
    "cjk-mixed": "山田さんは東京都に住む and Obama in 北京",
    "thai": "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย",
    "arabic": "محمد يعيش في القاهرة",
    "hebrew": "שלום ירושלים and Obama",
    "ansi": "\x1b[31mObama\x1b[0m visited \x1b[1mSeattle\x1b[0m",
    "markup": "[bold]Obama[/bold] met [link=x]Lee[/]",
    "literal-specials": "Obama [SEP] Seattle [CLS] x <s> y </s> <mask> [MASK] [PAD] <pad>",
    "literal-unk": "The [UNK] and <unk> tokens",
    "unk-chars": f"{NEVER_SEEN} Obama {NEVER_SEEN[0]}visited{NEVER_SEEN[1]} Seattle",
    "email-url": "Write to alice@example.com or see https://example.org/about?q=1&x=2#top",
    "hyphenated": "Jean-Luc Picard and Dr. Smith-Jones met O'Neill",
    "numbers-dates": "On 2024-03-15 at 10:30 we paid $1,000,000.42 (3.14159%)",
    "repeated": "Obama met Obama and Obama; Seattle, Seattle, Seattle",
    "entity-at-end": "He lives in Seattle",
    "lone-entity": "Obama",
    "compat-chars": "ﬁnance ½ ﬀ Ǆ ＡＢＣ ①",
    "combining": "Zoe\u0308 and Jose\u0301 met Zoë Müller",
    "tabs": "Obama\tSeattle\t\tParis\t",
    "controls": "Obama\x00\x07\x08visited\x7f Seattle",
    "long-word": "x" * 150 + " Obama",
    "long-text": LONG_TEXT,
}


# Pieces that trip tokenizers up, glued together at random by the property test.
_PIECES = (
    "Obama",
    "Seattle",
    " ",
    "  ",
    "\n",
    "\r\n",
    "\t",
    "\u00a0",
    "\u2009",
    "\u2028",
    "[SEP]",
    "[CLS]",
    "<s>",
    "</s>",
    "<mask>",
    "[UNK]",
    "👨‍👩‍👧",
    "👍🏽",
    "🇯🇵",
    "❤️",
    "東京",
    "กรุงเทพ",
    "القاهرة",
    "é",
    "e\u0301",
    "\u0301",
    "\u200d",
    "ﬁ",
    "Ǆ",
    "\x1b[31m",
    "[bold]",
    "-",
    "'s",
    "@",
    "https://x.org/a?b=1",
    "2024-03-15",
    NEVER_SEEN,
    "\x00",
    "\ufeff",
    "İ",
    "ß",
)
NASTY_TEXT = st.lists(st.sampled_from(_PIECES), max_size=30).map("".join)

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_all(tmp_path_factory.mktemp("tokenizers"))


@pytest.fixture(scope="session")
def infos(model_dirs: dict[str, Path]) -> dict[str, ModelInfo]:
    return {name: load_model_info(path) for name, path in model_dirs.items()}


@pytest.fixture(params=FAMILY_NAMES)
def info(request: pytest.FixtureRequest, infos: dict[str, ModelInfo]) -> ModelInfo:
    return infos[request.param]


def random_rows(encoded: EncodedText, seed: int, *, alpha: float = 0.3) -> list[np.ndarray]:
    """Peaked random probability rows, one array per window (different per window)."""
    rng = np.random.default_rng(seed)
    k = len(encoded.id2label)
    return [
        rng.dirichlet(np.full(k, alpha), size=len(w)).astype(np.float32) for w in encoded.windows
    ]


def check_scored(scored: ScoredText, encoded: EncodedText) -> None:
    """Invariants every ScoredText must satisfy, whatever the text and tokenizer."""
    text = scored.text
    n = len(scored)
    assert scored.token_ids.shape == (n,)
    assert scored.offsets.shape == (n, 2)
    assert scored.special.shape == (n,)
    assert len(scored.word_ids) == n
    assert scored.probs.shape == (n, len(scored.id2label))
    assert scored.probs.dtype == np.float32
    assert scored.chunk_of.shape == (n,)
    if n:
        np.testing.assert_allclose(scored.probs.sum(axis=1), 1.0, atol=1e-3)
    starts, ends = scored.offsets[:, 0], scored.offsets[:, 1]
    assert (starts >= 0).all() and (starts <= ends).all() and (ends <= len(text)).all()
    # Specials are exactly the first window's leading and last window's trailing tokens.
    p, s = len(encoded.prefix_ids), len(encoded.suffix_ids)
    expected_special = np.zeros(n, dtype=bool)
    if n:
        expected_special[:p] = True
        expected_special[n - s :] = True
    np.testing.assert_array_equal(scored.special, expected_special)
    assert (scored.offsets[scored.special] == 0).all()
    assert all(scored.word_ids[i] is None for i in np.nonzero(scored.special)[0])
    # Every content token exactly once, in document order.
    content = ~scored.special
    np.testing.assert_array_equal(scored.token_ids[content], encoded.token_ids)
    np.testing.assert_array_equal(scored.offsets[content], encoded.offsets)
    assert [scored.token_strs[i] for i in np.nonzero(content)[0]] == list(encoded.token_strs)
    assert len(scored.chunks) == len(encoded.windows)
    if n:
        assert set(np.unique(scored.chunk_of)) <= set(range(len(scored.chunks)))


def check_prediction(scored: ScoredText, *, all_options: bool = False) -> None:
    """Decoded spans are well-formed, under the default options or all of them."""
    text = scored.text
    options = [DecodeOptions()]
    if all_options:
        options = [DecodeOptions(aggregation=a, mode=m) for a in AGGREGATIONS for m in DECODE_MODES]
    for option in options:
        prediction = decode(scored, option)
        previous_end = 0
        for entity in prediction.entities:
            assert 0 <= entity.start < entity.end <= len(text), (option, entity)
            assert entity.text == text[entity.start : entity.end]
            assert entity.start >= previous_end, f"entities overlap or are unsorted ({option})"
            previous_end = entity.end
        assert [t.special for t in prediction.tokens] == scored.special.tolist()


# --------------------------------------------------------------------------- loading


def test_loads_every_family_through_auto_classes(infos: dict[str, ModelInfo]) -> None:
    for family in FAMILIES:
        info = infos[family.name]
        assert info.tokenizer.is_fast
        assert info.id2label == IOB2_LABELS
        # bert: model_max_length 512; roberta/xlmr: 514 positions minus padding offset.
        assert info.max_model_len == 512, family.name
        assert (len(info.prefix_ids) + len(info.suffix_ids)) == 2
        tok = info.tokenizer
        assert info.prefix_ids == (tok.cls_token_id,)
        assert info.suffix_ids == (tok.sep_token_id,)
        assert info.warnings == ()


def test_model_info_made_directly_reads_the_template(infos: dict[str, ModelInfo]) -> None:
    loaded = infos["xlmr"]
    made = ModelInfo("mine", loaded.tokenizer, IOB2_LABELS)
    assert (made.prefix_ids, made.suffix_ids) == (loaded.prefix_ids, loaded.suffix_ids)
    text = "Obama visited Seattle"
    assert encode(made, text).window_ids == encode(loaded, text).window_ids


def test_max_model_len_argument_overrides_config(model_dirs: dict[str, Path]) -> None:
    assert load_model_info(model_dirs["bert-cased"], max_model_len=64).max_model_len == 64


def test_window_from_config_when_tokenizer_has_no_limit(tmp_path: Path) -> None:
    family = next(f for f in FAMILIES if f.name == "roberta")
    path = write_model_dir(
        family, tmp_path / "m", max_position_embeddings=514, model_max_length=None
    )
    # transformers reports int(1e30) without a model_max_length; the config's 514 positions
    # minus RoBERTa's padding offset give the real window.
    assert load_model_info(path).max_model_len == 512


def test_missing_directory_is_a_model_load_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelLoadError, match="does not exist") as info:
        load_model_info(missing)
    assert str(missing) in str(info.value)
    assert info.value.hint


def test_unreachable_hub_id_says_what_was_tried() -> None:
    with pytest.raises(ModelLoadError) as info:
        load_model_info("no-such-org/no-such-ner-model")
    message = str(info.value)
    assert "no-such-org/no-such-ner-model" in message
    assert "hub" in message


def test_a_file_is_not_a_model_directory(model_dirs: dict[str, Path]) -> None:
    config = model_dirs["bert-cased"] / "config.json"
    with pytest.raises(ModelLoadError, match="is a file, not a model directory"):
        load_model_info(config)


def test_directory_without_tokenizer(tmp_path: Path, model_dirs: dict[str, Path]) -> None:
    shutil.copy(model_dirs["bert-cased"] / "config.json", tmp_path / "config.json")
    with pytest.raises(ModelLoadError, match=r"no tokenizer.*found: config\.json"):
        load_model_info(tmp_path)


def test_directory_without_config(tmp_path: Path, model_dirs: dict[str, Path]) -> None:
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(model_dirs["bert-cased"] / name, tmp_path / name)
    with pytest.raises(ModelLoadError, match=r"config\.json"):
        load_model_info(tmp_path)


def test_generic_labels_load_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    family = FAMILIES[0]
    path = write_model_dir(family, tmp_path / "m")
    config = json.loads((path / "config.json").read_text())
    del config["id2label"], config["label2id"]
    (path / "config.json").write_text(json.dumps(config))
    with caplog.at_level(logging.WARNING, logger="ner_tui.core.alignment"):
        info = load_model_info(path)
    assert info.id2label == ("LABEL_0", "LABEL_1")  # transformers' default for no names
    assert info.warnings and "generic" in info.warnings[0]
    assert caplog.text == ""  # returned, for the caller to show once; not logged as well


def test_label_ids_with_a_gap_are_refused(tmp_path: Path) -> None:
    path = write_model_dir(FAMILIES[0], tmp_path / "m")
    config = json.loads((path / "config.json").read_text())
    config["id2label"] = {"0": "O", "2": "B-PER"}
    config["label2id"] = {"O": 0, "B-PER": 2}
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match=r"exactly 0\.\.1"):
        load_model_info(path)


@pytest.mark.parametrize(
    "labels",
    [
        ("O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"),
        ("O", "B-PER", "I-PER", "L-PER", "U-PER", "B-ARGM-LOC", "I-ARGM-LOC", "L-ARGM-LOC"),
        ("O", "B-O", "I-O", "B-PER", "I-PER"),
        ("LABEL_0", "LABEL_1", "LABEL_2"),
        ("O", "PER", "LOC"),
    ],
    ids=["iobes", "bilou", "b-o", "label-n", "prefixless"],
)
def test_label_sets_from_config(tmp_path: Path, labels: tuple[str, ...]) -> None:
    path = write_model_dir(FAMILIES[0], tmp_path / "m", labels=labels)
    info = load_model_info(path)
    assert info.id2label == labels
    for key in ("literal-specials", "repeated", "newlines-tab"):
        encoded = encode(info, INPUTS[key])
        scored = merge(encoded, random_rows(encoded, 7), model="m", source="test")
        check_scored(scored, encoded)
        check_prediction(scored)


# --------------------------------------------------------------------------- encoding


@pytest.mark.parametrize("key", [k for k in INPUTS if k != "long-text"])
def test_single_window_equals_the_tokenizers_own_encoding(info: ModelInfo, key: str) -> None:
    """The special tokens added per window reproduce the tokenizer's own post-processor, and
    the mask is the tokenizer's special_tokens_mask (a typed ``[SEP]`` is content)."""
    text = INPUTS[key]
    encoded = encode(info, text)
    reference = info.tokenizer(
        text, return_offsets_mapping=True, return_special_tokens_mask=True, verbose=False
    )
    if not reference["special_tokens_mask"].count(0):
        assert encoded.windows == ()  # no content: nothing to send
        return
    (window,) = encoded.windows
    assert list(window.input_ids) == reference["input_ids"]
    assert window.special_mask.astype(int).tolist() == reference["special_tokens_mask"]
    scored = merge(encoded, random_rows(encoded, 0), model="m", source="test")
    assert scored.offsets.tolist() == [list(o) for o in reference["offset_mapping"]]
    assert list(scored.word_ids) == reference.word_ids()


@pytest.mark.parametrize("key", list(INPUTS))
def test_every_input_aligns_and_decodes(info: ModelInfo, key: str) -> None:
    text = INPUTS[key]
    encoded = encode(info, text)
    scored = merge(
        encoded, random_rows(encoded, zlib.crc32(key.encode())), model="m", source="test"
    )
    check_scored(scored, encoded)
    check_prediction(scored)


def test_typed_special_tokens_are_content(infos: dict[str, ModelInfo]) -> None:
    """A literal ``[SEP]``/``<s>`` gets the real special id but is content (decoding.md #2):
    it keeps its offsets and word, and can be (part of) an entity."""
    cases = {
        "bert-cased": ("[SEP]", "sep_token_id"),
        "modernbert": ("[CLS]", "cls_token_id"),
        "xlmr": ("<s>", "bos_token_id"),
        "roberta": ("<mask>", "mask_token_id"),
    }
    for family, (literal, attr) in cases.items():
        info = infos[family]
        text = f"Obama {literal} Seattle"
        encoded = encode(info, text)
        special_id = getattr(info.tokenizer, attr)
        (doc_i,) = np.nonzero(encoded.token_ids == special_id)[0]
        (window,) = encoded.windows
        rows = np.zeros((len(window), len(IOB2_LABELS)), dtype=np.float32)
        rows[:, IOB2_LABELS.index("O")] = 1.0
        at = len(info.prefix_ids) + doc_i
        rows[at] = 0.0
        rows[at, IOB2_LABELS.index("B-MISC")] = 1.0
        scored = merge(encoded, [rows], model="m", source="test")
        assert scored.token_ids[at] == special_id and not scored.special[at]
        start, end = scored.offsets[at]
        assert text[start:end] == literal
        assert scored.word_ids[at] is not None
        assert scored.special.sum() == 2  # only the real ones around the text
        entities = decode(scored).entities
        assert [(e.label, e.text) for e in entities] == [("MISC", literal)], family


def test_unknown_characters_keep_their_offsets(infos: dict[str, ModelInfo]) -> None:
    for family in ("bert-cased", "xlmr"):
        info = infos[family]
        text = f"Obama {NEVER_SEEN} Seattle"
        encoded = encode(info, text)
        unk = info.tokenizer.unk_token_id
        at = [i for i, t in enumerate(encoded.token_ids) if t == unk]
        assert at, f"{family}: expected {NEVER_SEEN!r} to be unknown"
        covered = "".join(text[s:e] for s, e in encoded.offsets[at])
        assert set(covered) <= set(NEVER_SEEN) and covered


def test_uncased_offsets_point_at_the_original_text(infos: dict[str, ModelInfo]) -> None:
    info = infos["bert-uncased"]
    text = "ZOË Müller visited SÃO PAULO"
    encoded = encode(info, text)
    pieces = "".join(encoded.token_strs)
    assert pieces == pieces.lower() and not set("ËëüÃ") & set(pieces)  # lowercased, no accents
    spans = [text[s:e] for s, e in encoded.offsets]
    assert "".join(spans) == text.replace(" ", "")


def test_surrogates_do_not_break_offsets(infos: dict[str, ModelInfo]) -> None:
    text = "Obama \udcff visited Seattle"  # what surrogateescape makes of a stray byte
    for info in infos.values():
        encoded = encode(info, text)
        scored = merge(encoded, random_rows(encoded, 3), model="m", source="test")
        check_scored(scored, encoded)
        assert text[scored.offsets[1][0] : scored.offsets[1][1]] == "Obama"


# --------------------------------------------------------------------------- chunking


@pytest.mark.parametrize(("window", "stride"), [(64, 16), (40, 64), (100, 0), (512, 64)])
def test_long_text_windows(info: ModelInfo, window: int, stride: int) -> None:
    encoded = encode(info, LONG_TEXT, max_model_len=window, stride=stride)
    reference = info.tokenizer(
        LONG_TEXT, add_special_tokens=False, return_offsets_mapping=True, verbose=False
    )
    m = len(reference["input_ids"])
    assert m + 2 > window, "the text must be longer than the window"
    capacity = window - (len(info.prefix_ids) + len(info.suffix_ids))
    overlap = min(stride, capacity // 2)
    assert encoded.stride == overlap
    assert len(encoded.windows) > 1
    covered = np.zeros(m, dtype=int)
    for i, w in enumerate(encoded.windows):
        assert len(w) <= window
        assert w.input_ids[:1] == info.prefix_ids and w.input_ids[-1:] == info.suffix_ids
        assert list(w.input_ids[1:-1]) == reference["input_ids"][w.start : w.end]
        assert w.special_mask.tolist() == [True] + [False] * (w.end - w.start) + [True]
        covered[w.start : w.end] += 1
        if i + 1 < len(encoded.windows):
            assert w.end - capacity == w.start  # every window but the last is full
            assert encoded.windows[i + 1].start == w.end - overlap
    assert encoded.windows[0].start == 0 and encoded.windows[-1].end == m
    assert (covered >= 1).all()

    scored = merge(encoded, random_rows(encoded, 11), model="m", source="test")
    check_scored(scored, encoded)
    # The merged arrays are the unchunked tokenization.
    content = ~scored.special
    assert scored.token_ids[content].tolist() == reference["input_ids"]
    assert scored.offsets[content].tolist() == [list(o) for o in reference["offset_mapping"]]
    # Chunk edges are recorded with their text ranges.
    for chunk, w in zip(scored.chunks, encoded.windows, strict=True):
        assert (chunk.token_start, chunk.token_end) == (w.start + 1, w.end + 1)
        assert chunk.char_start == scored.offsets[chunk.token_start][0]
        assert chunk.char_end == scored.offsets[chunk.token_end - 1][1]
    check_prediction(scored)


def test_overlap_rows_come_from_the_window_farther_from_the_cut(
    infos: dict[str, ModelInfo],
) -> None:
    info = infos["bert-cased"]
    encoded = encode(info, LONG_TEXT, max_model_len=50, stride=20)
    # Window w says "label w" for every token, so argmax tells which window a row came from.
    k = len(IOB2_LABELS)
    rows = []
    for w in encoded.windows:
        r = np.full((len(w), k), 0.01, dtype=np.float32)
        r[:, w.index % k] = 1.0 - 0.01 * (k - 1)
        rows.append(r)
    scored = merge(encoded, rows, model="m", source="test")
    np.testing.assert_array_equal(scored.probs.argmax(axis=1), scored.chunk_of % k)
    p = len(info.prefix_ids)
    for a, b in zip(encoded.windows, encoded.windows[1:], strict=False):
        for i in range(b.start, a.end):  # the overlap of a and b
            from_a = i - a.start if a.start > 0 else 10**9
            dist_a = min(from_a, a.end - 1 - i)
            dist_b = min(i - b.start, b.end - 1 - i if b.end < len(encoded.token_ids) else 10**9)
            chosen = scored.chunk_of[p + i]
            assert chosen in (a.index, b.index)
            assert (dist_a if chosen == a.index else dist_b) >= min(dist_a, dist_b)
            assert (dist_a if chosen == a.index else dist_b) == max(dist_a, dist_b)


def test_entity_straddling_a_chunk_edge_is_one_entity(infos: dict[str, ModelInfo]) -> None:
    info = infos["bert-cased"]
    encoded = encode(info, LONG_TEXT, max_model_len=48, stride=16)
    p = len(info.prefix_ids)
    # Where the merge switches from window 0's rows to window 1's.
    probe = merge(encoded, random_rows(encoded, 0), model="m", source="test")
    cut = int(np.argmax(probe.chunk_of[p:] == 1))  # first content token taken from window 1
    assert cut > 0
    b_per, i_per = IOB2_LABELS.index("B-PER"), IOB2_LABELS.index("I-PER")
    rows = []
    for w in encoded.windows:
        r = np.zeros((len(w), len(IOB2_LABELS)), dtype=np.float32)
        r[:, 0] = 1.0
        for doc_i, label in ((cut - 1, b_per), (cut, i_per)):
            if w.start <= doc_i < w.end:
                r[p + doc_i - w.start] = 0.0
                r[p + doc_i - w.start, label] = 1.0
        rows.append(r)
    scored = merge(encoded, rows, model="m", source="test")
    assert scored.chunk_of[p + cut - 1] == 0 and scored.chunk_of[p + cut] == 1
    prediction = decode(scored)
    (entity,) = prediction.entities
    assert entity.label == "PER"
    start, end = scored.offsets[p + cut - 1][0], scored.offsets[p + cut][1]
    assert (entity.start, entity.end) == (start, end)
    assert entity.text == LONG_TEXT[start:end]


@pytest.mark.parametrize(
    ("template", "prefix", "suffix"),
    [(None, 0, 0), ("[CLS]:0 $A:0", 1, 0), ("[CLS]:0 [CLS]:0 $A:0 [SEP]:0", 2, 1)],
    ids=["no-specials", "prefix-only", "two-before-one-after"],
)
async def test_other_special_token_templates(
    tmp_path: Path, template: str | None, prefix: int, suffix: int
) -> None:
    """Decoder-style tokenizers (vLLM's auto-converted *ForTokenClassification) add nothing
    or only a BOS; windows and merging follow whatever the post-processor adds."""
    from tokenizers import processors

    family = next(f for f in FAMILIES if f.name == "modernbert")
    tok = build_tokenizer(family)
    if template is None:
        tok.post_processor = processors.ByteLevel(trim_offsets=True)
    else:
        ids = [("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))]
        tok.post_processor = processors.TemplateProcessing(single=template, special_tokens=ids)
    info = load_model_info(write_model_dir(family, tmp_path / "m", tokenizer=tok))
    assert (len(info.prefix_ids), len(info.suffix_ids)) == (prefix, suffix)
    assert (len(info.prefix_ids) + len(info.suffix_ids)) == prefix + suffix

    short = encode(info, "Obama visited Seattle")
    assert list(short.windows[0].input_ids) == info.tokenizer("Obama visited Seattle")["input_ids"]
    backend = IdEchoBackend(len(info.id2label))
    scored = await score(backend, info, LONG_TEXT, max_model_len=24, stride=6)
    encoded = encode(info, LONG_TEXT, max_model_len=24, stride=6)
    assert all(len(w) <= 24 for w in encoded.windows) and len(encoded.windows) > 1
    assert backend.calls[0][0] == encoded.window_ids
    check_scored(scored, encoded)
    by_id = scored.token_ids % len(info.id2label)
    np.testing.assert_array_equal(scored.probs.argmax(axis=1), by_id)
    check_prediction(scored)


def test_tiny_windows_clamp_the_overlap(infos: dict[str, ModelInfo]) -> None:
    info = infos["bert-cased"]
    text = "Obama visited Seattle and Paris"
    encoded = encode(info, text, max_model_len=3, stride=64)  # one content token per window
    assert encoded.stride == 0
    assert [w.end - w.start for w in encoded.windows] == [1] * len(encoded.token_ids)
    scored = merge(encoded, random_rows(encoded, 1), model="m", source="test")
    check_scored(scored, encoded)
    encoded = encode(info, text, max_model_len=5, stride=64)  # 3 content tokens: overlap 1
    assert encoded.stride == 1


def test_window_without_room_for_text_is_refused(infos: dict[str, ModelInfo]) -> None:
    with pytest.raises(InputTooLong, match="2 special tokens"):
        encode(infos["bert-cased"], "Obama visited Seattle", max_model_len=2)


def test_text_without_tokens_sends_nothing(info: ModelInfo) -> None:
    """No content tokens: no request. Blank text has none, except for byte-level BPE, which
    turns spaces into tokens the model does see (those are sent)."""
    byte_level = info.tokenizer.backend_tokenizer.pre_tokenizer.__class__.__name__ == "ByteLevel"
    for text in ("", "   ", "\n\t "):
        encoded = encode(info, text)
        if text and byte_level:
            assert len(encoded.token_ids) == len(text) and len(encoded.windows) == 1
            continue
        assert encoded.windows == () and encoded.window_ids == []
        scored = merge(encoded, [], model="m", source="test")
        assert len(scored) == 0 and scored.chunks == ()
        assert scored.probs.shape == (0, len(IOB2_LABELS))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.one_of(st.text(max_size=80), NASTY_TEXT),
    family=st.sampled_from(FAMILY_NAMES),
    window=st.one_of(st.none(), st.integers(min_value=3, max_value=24)),
    stride=st.integers(min_value=0, max_value=12),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_random_text_property(
    infos: dict[str, ModelInfo],
    text: str,
    family: str,
    window: int | None,
    stride: int,
    seed: int,
) -> None:
    info = infos[family]
    encoded = encode(info, text, max_model_len=window, stride=stride)
    limit = window if window is not None else info.max_model_len
    assert limit is not None and all(len(w) <= limit for w in encoded.windows)
    scored = merge(encoded, random_rows(encoded, seed), model="m", source="test")
    check_scored(scored, encoded)
    check_prediction(scored, all_options=True)


# --------------------------------------------------------------------------- scores


def _logits(encoded: EncodedText, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    k = len(encoded.id2label)
    return [rng.normal(0, 3, (len(w), k)).astype(np.float32) for w in encoded.windows]


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture
def short(infos: dict[str, ModelInfo]) -> EncodedText:
    return encode(infos["bert-cased"], "Barack Obama visited Seattle")


def test_logits_are_softmaxed_once(short: EncodedText) -> None:
    logits = _logits(short, 5)
    scored = merge(short, logits, model="m", source="t", activation="logits")
    np.testing.assert_allclose(scored.probs, _softmax(logits[0]), rtol=1e-5, atol=1e-6)


def test_probabilities_are_kept_as_they_are(
    short: EncodedText, caplog: pytest.LogCaptureFixture
) -> None:
    rows = random_rows(short, 5)
    with caplog.at_level(logging.WARNING):
        scored = merge(short, rows, model="m", source="t", activation="probabilities")
    np.testing.assert_array_equal(scored.probs, rows[0])
    assert not np.allclose(scored.probs, _softmax(rows[0]), atol=1e-3)  # not softmaxed again
    assert caplog.text == ""
    assert scored.notes == ()


def test_server_ignoring_use_activation_false(
    short: EncodedText, caplog: pytest.LogCaptureFixture
) -> None:
    """Asked for logits, got probabilities (vLLM 0.11.0 ignores use_activation)."""
    rows = random_rows(short, 6)
    with caplog.at_level(logging.WARNING, logger="ner_tui.core.alignment"):
        scored = merge(short, rows, model="m", source="t", activation="logits")
    np.testing.assert_array_equal(scored.probs, rows[0])
    assert caplog.text == ""  # in the notes, shown once by whoever shows the prediction
    assert len(scored.notes) == 1 and "logits were asked" in scored.notes[0]
    assert scored.notes[0] in decode(scored).warnings  # the user sees it, not just the log


def test_server_ignoring_use_activation_true(
    short: EncodedText, caplog: pytest.LogCaptureFixture
) -> None:
    """Asked for probabilities, got logits."""
    logits = _logits(short, 8)
    with caplog.at_level(logging.WARNING, logger="ner_tui.core.alignment"):
        scored = merge(short, logits, model="m", source="t", activation="probabilities")
    np.testing.assert_allclose(scored.probs, _softmax(logits[0]), rtol=1e-5, atol=1e-6)
    assert caplog.text == ""
    assert len(scored.notes) == 1 and "ignored use_activation" in scored.notes[0]
    assert scored.notes[0] in decode(scored).warnings


@pytest.mark.parametrize("embed_dtype", ["float16", "bfloat16", "fp8_e4m3", "fp8_e5m2"])
def test_low_precision_probabilities_are_not_softmaxed_again(
    infos: dict[str, ModelInfo], embed_dtype: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Probabilities that crossed the wire in a binary encoding no longer sum to exactly 1;
    they are still probabilities."""
    from ner_tui.core.codecs import decode_array, encode_array

    encoded = encode(infos["bert-cased"], LONG_TEXT, max_model_len=128)
    wire = [
        decode_array(encode_array(r, embed_dtype), embed_dtype, shape=r.shape)
        for r in random_rows(encoded, 4)
    ]
    assert (
        any(not np.allclose(r.sum(axis=1), 1.0, atol=1e-3) for r in wire)
        or embed_dtype == "float16"
    )
    with caplog.at_level(logging.WARNING, logger="ner_tui.core.alignment"):
        scored = merge(encoded, wire, model="m", source="t", activation="probabilities")
    assert caplog.text == ""
    p = len(encoded.prefix_ids)
    for w, r in zip(encoded.windows, wire, strict=True):
        mine = np.nonzero(scored.chunk_of[p + w.start : p + w.end] == w.index)[0]
        np.testing.assert_array_equal(scored.probs[p + w.start + mine], r[p + mine])
    # ...and decoding them does not warn that they look like logits.
    assert not any("not probabilities" in w for w in decode(scored).warnings)


def test_non_finite_scores_are_malformed(short: EncodedText) -> None:
    rows = random_rows(short, 1)
    rows[0][2, 3] = np.nan
    with pytest.raises(MalformedResponse, match="NaN"):
        merge(short, rows, model="m", source="t")


# --------------------------------------------------------------------------- row checks


def test_fewer_rows_than_tokens(short: EncodedText) -> None:
    rows = random_rows(short, 1)
    sent = len(short.windows[0])
    with pytest.raises(RowMismatch) as info:
        merge(short, [rows[0][:-1]], model="served-model", source="t")
    message = str(info.value)
    assert f"{sent - 1} score rows for the {sent} tokens sent" in message
    assert "truncated" in message and "'served-model'" in message
    assert info.value.hint


def test_more_rows_than_tokens(short: EncodedText) -> None:
    rows = random_rows(short, 1)
    with pytest.raises(RowMismatch, match="added tokens of its own"):
        merge(short, [np.concatenate([rows[0], rows[0][:1]])], model="m", source="t")


def test_row_mismatch_names_the_window(infos: dict[str, ModelInfo]) -> None:
    encoded = encode(infos["xlmr"], LONG_TEXT, max_model_len=64)
    rows = random_rows(encoded, 1)
    rows[2] = rows[2][:-3]
    with pytest.raises(RowMismatch, match=f"window 3 of {len(encoded.windows)}"):
        merge(encoded, rows, model="m", source="t")


def test_wrong_number_of_arrays(short: EncodedText) -> None:
    rows = random_rows(short, 1)
    with pytest.raises(RowMismatch, match="Sent 1 prompt"):
        merge(short, rows + rows, model="m", source="t")


def test_wrong_number_of_labels(short: EncodedText) -> None:
    rows = [np.full((len(short.windows[0]), 5), 0.2, dtype=np.float32)]
    with pytest.raises(RowMismatch, match="5 scores per token but the loaded config has 9 labels"):
        merge(short, rows, model="m", source="t")


def test_one_dimensional_rows_are_malformed(short: EncodedText) -> None:
    with pytest.raises(MalformedResponse, match="2-D"):
        merge(short, [np.ones(len(short.windows[0]))], model="m", source="t")


# --------------------------------------------------------------------------- score()


class IdEchoBackend:
    """Plumbing check: scores each token by its id (one-hot of ``id % num_labels``).

    Records the prompts it receives, so a test sees that the ids sent are the ids encoded and
    that rows come back aligned with them."""

    def __init__(self, num_labels: int, *, gate: int = 0) -> None:
        self.num_labels = num_labels
        self.calls: list[tuple[list[list[int]], str | None, bool | None]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._gate = gate
        self._open = asyncio.Event()

    @property
    def describe(self) -> str:
        return "id-echo"

    async def list_models(self) -> list[ModelCard]:
        return [ModelCard(id="echo")]

    async def pool(
        self,
        prompts: Sequence[Sequence[int]] | Sequence[str],
        *,
        model: str | None = None,
        use_activation: bool | None = None,
    ) -> PoolingResult:
        ids = [[int(t) for t in p] for p in prompts]  # type: ignore[union-attr]
        self.calls.append((ids, model, use_activation))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if self.in_flight >= self._gate:
            self._open.set()
        await self._open.wait()  # the first `gate` calls wait until they are all in flight
        self.in_flight -= 1
        eye = np.eye(self.num_labels, dtype=np.float32)
        rows = [eye[np.asarray(p) % self.num_labels] for p in ids]
        return PoolingResult(rows=rows, model=model or "echo", elapsed_ms=1.5)

    async def aclose(self) -> None:
        return None


async def test_score_sends_the_encoded_ids(infos: dict[str, ModelInfo]) -> None:
    info = infos["roberta"]
    backend = IdEchoBackend(len(info.id2label))
    assert isinstance(backend, PoolingBackend)
    scored = await score(backend, info, LONG_TEXT, model="served", max_model_len=40, stride=8)
    expected = encode(info, LONG_TEXT, max_model_len=40, stride=8)
    ((sent, model, activation),) = backend.calls  # one request for all windows
    assert sent == expected.window_ids and model == "served" and activation is True
    # Rows line up with tokens: each token's row is the one-hot of its own id.
    np.testing.assert_array_equal(
        scored.probs.argmax(axis=1), scored.token_ids % len(info.id2label)
    )
    assert scored.model == "served" and scored.source == "id-echo" and scored.elapsed_ms == 1.5
    assert scored.max_model_len == 40
    check_scored(scored, expected)


async def test_score_empty_text_does_not_call_the_backend(infos: dict[str, ModelInfo]) -> None:
    backend = IdEchoBackend(len(IOB2_LABELS))
    scored = await score(backend, infos["xlmr"], "  \n ")
    assert backend.calls == [] and len(scored) == 0


async def _score_in_order(
    backend: PoolingBackend, info: ModelInfo, texts: list[str], limit: int, **kwargs: object
) -> list[ScoredText | NerTuiError]:
    """What ``predict`` does: score concurrently, in input order, failures in place."""

    async def one(text: str) -> ScoredText | NerTuiError:
        try:
            return await score(backend, info, text, **kwargs)  # type: ignore[arg-type]
        except NerTuiError as error:
            return error

    return [result async for result in map_ordered(one, texts, limit=limit)]


async def test_scoring_in_order_bounds_concurrency(infos: dict[str, ModelInfo]) -> None:
    info = infos["bert-cased"]
    backend = IdEchoBackend(len(info.id2label), gate=3)
    texts = [f"Text {i}: Obama visited Seattle {i} times" for i in range(10)]
    results = await _score_in_order(backend, info, texts, 3)
    assert backend.max_in_flight == 3
    assert [r.text for r in results if isinstance(r, ScoredText)] == texts
    assert await _score_in_order(backend, info, [], 3) == []


@pytest.fixture(scope="module")
def tiny_engine():  # type: ignore[no-untyped-def]
    from ner_tui.core.engine import LocalEngine

    engine = LocalEngine.load(TINY_BERT, served_model_name="tiny", threads=1)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def tiny_info() -> ModelInfo:
    return load_model_info(TINY_BERT)


async def test_score_against_the_local_engine(tiny_engine, tiny_info: ModelInfo) -> None:  # type: ignore[no-untyped-def]
    """A real model: our ids and rows equal the engine scoring the text by itself."""
    text = "Barack Obama visited Seattle with Angela Merkel [SEP] ok"
    scored = await score(tiny_engine, tiny_info, text, model="tiny")
    (own,) = tiny_engine.score([text])  # the engine tokenizes the text with special tokens
    np.testing.assert_allclose(scored.probs, own, rtol=1e-5, atol=1e-6)
    assert scored.token_ids.tolist() == tiny_engine.tokenize(text)
    check_prediction(scored)
    # Logits asked: softmax once here gives the same probabilities.
    from_logits = await score(tiny_engine, tiny_info, text, model="tiny", use_activation=False)
    np.testing.assert_allclose(from_logits.probs, scored.probs, rtol=1e-4, atol=1e-6)


async def test_long_text_against_the_local_engine(tiny_engine, tiny_info: ModelInfo) -> None:  # type: ignore[no-untyped-def]
    assert tiny_info.max_model_len == 128
    scored = await score(tiny_engine, tiny_info, LONG_TEXT, model="tiny")
    encoded = encode(tiny_info, LONG_TEXT)
    assert len(scored.chunks) == len(encoded.windows) > 1
    check_scored(scored, encoded)
    window_rows = tiny_engine.score(encoded.window_ids)
    p = len(tiny_info.prefix_ids)
    for w, rows in zip(encoded.windows, window_rows, strict=True):
        mine = np.nonzero(scored.chunk_of[p + w.start : p + w.end] == w.index)[0]
        np.testing.assert_allclose(scored.probs[p + w.start + mine], rows[p + mine], atol=1e-6)
    check_prediction(scored)


async def test_failures_stay_in_place(tiny_engine, tiny_info: ModelInfo) -> None:  # type: ignore[no-untyped-def]
    """Without chunking, texts over the engine's 128 tokens fail; the others still score."""
    texts = ["Obama visited Seattle", LONG_TEXT, "Angela Merkel", LONG_TEXT + " again", ""]
    results = await _score_in_order(
        tiny_engine, tiny_info, texts, 2, model="tiny", max_model_len=10_000
    )
    assert [type(r).__name__ for r in results] == [
        "ScoredText",
        "InputTooLong",
        "ScoredText",
        "InputTooLong",
        "ScoredText",
    ]
    assert all(isinstance(r, NerTuiError) and r.hint for r in results[1::2])
    assert [r.text for r in results if isinstance(r, ScoredText)] == texts[0::2]
