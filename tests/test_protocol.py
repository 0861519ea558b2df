"""The pooling protocol as data: array codecs, both sides' requests and responses, errors.

The client's side (:mod:`ner_tui.core.protocol`: request bodies, response parsing) and the
server's (:mod:`ner_tui.server.protocol`: request validation, response encoding) are tested
together, since what one encodes the other must parse."""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from pydantic import ValidationError

from ner_tui.core import codecs as c
from ner_tui.core import protocol as p
from ner_tui.core.backend import ModelCard
from ner_tui.core.errors import MalformedResponse
from ner_tui.server import protocol as sp

# --- codecs ---------------------------------------------------------------------------------

finite_f32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
arrays_2d = hnp.arrays(
    np.float32,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12),
    elements=finite_f32,
)
prob_arrays = hnp.arrays(
    np.float32,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12),
    elements=st.floats(0.0, 1.0, width=32),
)


@settings(max_examples=60, deadline=None)
@given(arr=arrays_2d, endianness=st.sampled_from(c.ENDIANNESS))
def test_float32_round_trip_is_exact(arr: np.ndarray, endianness: str) -> None:
    buf = c.encode_array(arr, "float32", endianness)
    assert len(buf) == arr.size * 4
    out = c.decode_array(buf, "float32", endianness, arr.shape)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, arr)


@settings(max_examples=60, deadline=None)
@given(arr=prob_arrays, endianness=st.sampled_from(c.ENDIANNESS))
def test_half_precisions_round_trip_within_their_precision(
    arr: np.ndarray, endianness: str
) -> None:
    # Relative error of round-to-nearest is at most 2**-(mantissa bits + 1); values below the
    # smallest normal get an absolute error instead (half the subnormal step).
    for dtype, man_bits, abs_tol in [
        ("float16", 10, 2.0**-25),
        ("bfloat16", 7, 2.0**-134),
        ("fp8_e4m3", 3, 2.0**-10),
        ("fp8_e5m2", 2, 2.0**-17),
    ]:
        out = c.decode_array(c.encode_array(arr, dtype, endianness), dtype, endianness, arr.shape)
        assert out.dtype == np.float32 and out.shape == arr.shape
        tol = np.abs(arr) * 2.0 ** -(man_bits + 1) + abs_tol
        assert np.all(np.abs(out - arr) <= tol), dtype


@settings(max_examples=40, deadline=None)
@given(arr=prob_arrays)
def test_argmax_survives_every_dtype_when_the_winner_is_clear(arr: np.ndarray) -> None:
    # What ner-tui needs from a lossy encoding: the same label wins when it wins clearly.
    top2 = np.sort(arr, axis=1)[:, -2:] if arr.shape[1] > 1 else None
    for dtype in c.EMBED_DTYPES:
        out = c.decode_array(c.encode_array(arr, dtype), dtype, "native", arr.shape)
        clear = (top2[:, 1] > 2 * top2[:, 0] + 0.01) if top2 is not None else slice(None)
        np.testing.assert_array_equal(out.argmax(1)[clear], arr.argmax(1)[clear])


def test_byte_order_is_what_was_asked() -> None:
    arr = np.array([[1.5, -2.0]], dtype=np.float32)
    assert c.encode_array(arr, "float32", "big") == struct.pack(">2f", 1.5, -2.0)
    assert c.encode_array(arr, "float32", "little") == struct.pack("<2f", 1.5, -2.0)
    assert c.encode_array(arr, "float16", "big") == struct.pack(">2e", 1.5, -2.0)
    # bfloat16 is the high half of the float32 bit pattern: 1.5 = 0x3FC00000.
    assert c.encode_array(arr, "bfloat16", "big") == bytes.fromhex("3fc0c000")
    assert c.encode_array(arr, "bfloat16", "little") == bytes.fromhex("c03f00c0")


def test_bfloat16_rounds_to_nearest_even() -> None:
    # 1 + 2**-8 is halfway between 1 and 1 + 2**-7: ties go to the even mantissa (1.0).
    # 1 + 3 * 2**-8 is halfway between 1 + 2**-7 (odd) and 1 + 2**-6 (even): rounds up.
    arr = np.array([1 + 2**-8, 1 + 3 * 2**-8, 1 + 2**-8 + 2**-20], dtype=np.float32)
    out = c.decode_array(c.encode_array(arr, "bfloat16"), "bfloat16")
    np.testing.assert_array_equal(out, np.array([1.0, 1 + 2**-6, 1 + 2**-7], dtype=np.float32))
    nan = c.decode_array(c.encode_array(np.array([np.nan], np.float32), "bfloat16"), "bfloat16")
    assert np.isnan(nan).all()


def test_fp8_tables_known_values() -> None:
    def one(value: float, dtype: str) -> tuple[int, float]:
        buf = c.encode_array(np.array([value], np.float32), dtype)
        return buf[0], float(c.decode_array(buf, dtype)[0])

    assert one(1.0, "fp8_e4m3") == (0x38, 1.0)
    assert one(448.0, "fp8_e4m3") == (0x7E, 448.0)  # the largest e4m3fn value
    assert one(-(2.0**-9), "fp8_e4m3") == (0x81, -(2.0**-9))  # the smallest subnormal
    assert one(1.0, "fp8_e5m2") == (0x3C, 1.0)
    assert one(57344.0, "fp8_e5m2") == (0x7B, 57344.0)
    code, value = one(1e6, "fp8_e4m3")  # e4m3fn has no inf: overflow is NaN
    assert code == 0x7F and np.isnan(value)
    assert one(1e6, "fp8_e5m2") == (0x7C, float("inf"))


def test_fp8_and_bfloat16_agree_with_ml_dtypes_when_it_is_installed() -> None:
    ml_dtypes = pytest.importorskip("ml_dtypes")
    rng = np.random.default_rng(7)
    x = np.concatenate(
        [rng.normal(size=4000).astype(np.float32) * s for s in (1e-4, 1e-2, 1, 30, 1e3, 1e5)]
        + [np.array([0, -0.0, np.inf, -np.inf, np.nan, 464, 465, 61440, 61439], np.float32)]
    )
    for dtype, ref in [
        ("bfloat16", ml_dtypes.bfloat16),
        ("fp8_e4m3", ml_dtypes.float8_e4m3fn),
        ("fp8_e5m2", ml_dtypes.float8_e5m2),
    ]:
        ours = c.decode_array(c.encode_array(x, dtype), dtype)
        theirs = x.astype(ref).astype(np.float32)
        np.testing.assert_array_equal(ours, theirs, err_msg=dtype)


def test_base64_wrappers_round_trip() -> None:
    arr = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    text = c.encode_array_base64(arr, "float16", "big")
    assert base64.b64decode(text) == c.encode_array(arr, "float16", "big")
    out = c.decode_array(base64.b64decode(text), "float16", "big", (-1, 4))
    assert out.shape == (3, 4)
    np.testing.assert_allclose(out, arr, rtol=2**-11)


def test_decode_rejects_bytes_that_do_not_fit() -> None:
    with pytest.raises(MalformedResponse, match="7 bytes cannot hold float32"):
        c.decode_array(b"\0" * 7, "float32")
    with pytest.raises(MalformedResponse, match=r"6 values cannot be shaped \[-1, 4\]"):
        c.decode_array(b"\0" * 12, "float16", "native", (-1, 4))
    with pytest.raises(MalformedResponse, match=r"cannot be shaped \[2, 2\]"):
        c.decode_array(b"\0" * 12, "float32", "native", (2, 2))


def test_codec_rejects_unknown_literals() -> None:
    with pytest.raises(ValueError, match="embed_dtype must be one of"):
        c.encode_array(np.zeros(2), "int8")
    with pytest.raises(ValueError, match="endianness must be one of"):
        c.decode_array(b"", "float32", "middle")


# --- requests -------------------------------------------------------------------------------


def test_request_sends_only_what_differs_from_the_protocol_defaults() -> None:
    assert p.PoolingRequest(input="hi").to_json() == {"input": "hi"}
    body = p.PoolingRequest(
        input=[101, 7, 102], model="m", task="token_classify", use_activation=False
    ).to_json()
    assert body == {
        "input": [101, 7, 102],
        "model": "m",
        "task": "token_classify",
        "use_activation": False,
    }
    body = p.PoolingRequest(input=["a"], encoding_format="base64", embed_dtype="bfloat16").to_json()
    assert body == {"input": ["a"], "encoding_format": "base64", "embed_dtype": "bfloat16"}


def test_request_from_json_round_trips_and_ignores_unknown_fields() -> None:
    req = p.PoolingRequest(
        input=[[1, 2], [3]],
        model="m",
        task="token_classify",
        encoding_format="bytes",
        embed_dtype="fp8_e5m2",
        endianness="big",
        use_activation=False,
        add_special_tokens=False,
        truncate_prompt_tokens=-1,
        truncation_side="left",
        request_id="r1",
        priority=3,
        padding="do_not_pad",
    )
    assert sp.validate_pooling_request({**req.to_json(), "something_new": 1}) == req
    assert sp.request_prompts(req) == [[1, 2], [3]]
    assert sp.request_prompts(p.PoolingRequest(input=[5, 6])) == [[5, 6]]
    assert sp.request_prompts(p.PoolingRequest(input="x")) == ["x"]


@pytest.mark.parametrize(
    ("body", "kind", "param"),
    [
        ({"input": "x", "encoding_format": "npy"}, "literal_error", "body.encoding_format"),
        ({"input": "x", "embed_dtype": "int8"}, "literal_error", "body.embed_dtype"),
        ({"input": "x", "endianness": "middle"}, "literal_error", "body.endianness"),
        ({"input": "x", "task": "encode"}, "literal_error", "body.task"),
        ({"input": "x", "padding": "longest"}, "literal_error", "body.padding"),
        ({"model": "m"}, "missing", "body.input"),
        ({"input": "x", "dimensions": "8x"}, "int_parsing", "body.dimensions"),
        ({"input": ["a", 1]}, "int_parsing", "body.input.0"),
        ({"input": {"text": "x"}}, "list_type", "body.input"),
        ({"input": "x", "use_activation": "maybe"}, "bool_parsing", "body.use_activation"),
        (
            {"input": "x", "truncate_prompt_tokens": -2},
            "greater_than_equal",
            "body.truncate_prompt_tokens",
        ),
        ([1, 2], "model_type", "body"),
    ],
)
def test_request_validation_names_the_problem(body: object, kind: str, param: str) -> None:
    """pydantic's errors, worded as vLLM 0.32 words them: the kind of the first, and where."""
    with pytest.raises(sp.InvalidRequest) as info:
        sp.validate_pooling_request(body)
    assert str(info.value).split("\n")[0].endswith(("validation error:", "validation errors:"))
    assert str(info.value).split("\n")[1].startswith(f"  {{'type': '{kind}', 'loc': '{param}'")
    assert info.value.param == param


def test_lax_values_are_coerced_as_vllm_coerces_them() -> None:
    """vLLM's models are pydantic's lax mode: seen on vLLM 0.32, "3" is 3 and "yes" is true."""
    req = sp.validate_pooling_request(
        {"input": "x", "truncate_prompt_tokens": "3", "use_activation": "yes"}
    )
    assert (req.truncate_prompt_tokens, req.use_activation) == (3, True)


def test_what_the_schema_accepts_and_serving_refuses() -> None:
    """An empty ``input`` and an integer ``dimensions`` fit vLLM's request schema; its serving
    code refuses them afterwards as "BadRequestError" (test_server checks those answers)."""
    assert sp.validate_pooling_request({"input": []}).input == []
    assert sp.request_prompts(sp.validate_pooling_request({"input": []})) == []
    assert sp.validate_pooling_request({"input": "x", "dimensions": 8}).dimensions == 8


def test_literal_error_lists_the_allowed_values() -> None:
    with pytest.raises(sp.InvalidRequest) as info:
        sp.validate_pooling_request({"input": "x", "encoding_format": "npy"})
    assert "'float', 'base64', 'bytes' or 'bytes_only'" in str(info.value)
    assert "'input': 'npy'" in str(info.value)


def test_tokenize_requests() -> None:
    req = p.TokenizeRequest("Hi there", model="m", return_token_strs=True)
    assert req.to_json() == {
        "prompt": "Hi there",
        "model": "m",
        "add_special_tokens": True,
        "return_token_strs": True,
    }
    assert sp.validate_tokenize_request(req.to_json()) == req
    with pytest.raises(sp.InvalidRequest, match=r"'type': 'string_type', 'loc': 'body\.prompt'"):
        sp.validate_tokenize_request({"prompt": 3})


def test_negative_token_ids_fail_detokenize_validation_like_pydantic() -> None:
    """vLLM's ``tokens`` are non-negative ints: -5 is pydantic's greater_than_equal error, and
    the envelope's ``param`` names where it is, as vLLM 0.32 answered. Ids past the
    vocabulary pass the schema."""
    with pytest.raises(ValidationError) as info:
        sp.DetokenizeRequest.model_validate({"tokens": [7, -5]})
    errors = [{**e, "loc": ("body", *e["loc"])} for e in info.value.errors(include_url=False)]
    assert sp.validation_error_param(errors) == "body.tokens.1"
    assert sp.validation_error_message(errors) == (
        "1 validation error:\n  {'type': 'greater_than_equal', 'loc': 'body.tokens.1', 'msg': "
        "'Input should be greater than or equal to 0', 'input': '-5', 'ctx': {'ge': 0}}"
    )
    assert sp.DetokenizeRequest.model_validate({"tokens": [0, 10**9]}).tokens == [0, 10**9]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"model": "\ud800"}, ("body", "model")),
        ({"input": ["ok", "a\udfffb"]}, ("body", "input", 1)),
        ({"messages": [{"role": "user", "content": [{"text": "\ud83d"}]}]},
         ("body", "messages", 0, "content", 0, "text")),
        ({"input": "x", "\ud800": 1}, ("body",)),
    ],
)  # fmt: skip
def test_lone_surrogates_are_found_anywhere(body: object, where: tuple[object, ...]) -> None:
    (error,) = sp.lone_surrogates(body)
    assert (error["type"], error["loc"]) == ("string_unicode", where)
    assert list(sp.lone_surrogates({"input": ["fine", "\U0001f600"]})) == []


# --- responses ------------------------------------------------------------------------------


def _response(*shapes: tuple[int, int]) -> p.PoolingResponse:
    rng = np.random.default_rng(sum(a * b for a, b in shapes))
    data = [rng.random(shape, dtype=np.float32) for shape in shapes]
    tokens = sum(s[0] for s in shapes)
    return p.PoolingResponse(
        data=data,
        model="tiny",
        id="pooling-abc",
        created=1764201600,
        usage=p.Usage(prompt_tokens=tokens, total_tokens=tokens),
    )


def test_float_response_round_trip_through_json_text() -> None:
    resp = _response((5, 9), (1, 9))
    body = json.dumps(sp.pooling_response_json(resp)).encode()
    doc = json.loads(body)
    assert doc["object"] == "list" and doc["data"][1] == {
        "index": 1,
        "object": "pooling",
        "data": resp.data[1].tolist(),
    }
    assert doc["usage"]["prompt_tokens"] == 6 and doc["usage"]["completion_tokens"] == 0
    back = p.parse_pooling_response(body, expected_items=2)
    assert (back.model, back.id, back.created, back.usage) == (
        "tiny",
        "pooling-abc",
        1764201600,
        resp.usage,
    )
    for a, b in zip(back.data, resp.data, strict=True):
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a, b)


def test_items_are_put_back_in_index_order() -> None:
    doc = sp.pooling_response_json(_response((2, 3), (4, 3)))
    doc["data"] = list(reversed(doc["data"]))  # type: ignore[call-overload]
    back = p.parse_pooling_response(doc)
    assert [a.shape for a in back.data] == [(2, 3), (4, 3)]


@pytest.mark.parametrize("dtype", c.EMBED_DTYPES)
@pytest.mark.parametrize("endianness", c.ENDIANNESS)
def test_base64_response_recovers_rows_from_usage(dtype: str, endianness: str) -> None:
    resp = _response((5, 9), (3, 9))
    doc = sp.pooling_response_json(resp, "base64", dtype, endianness)
    assert isinstance(doc["data"][0]["data"], str)  # type: ignore[index]
    back = p.parse_pooling_response(doc, embed_dtype=dtype, endianness=endianness)
    assert [a.shape for a in back.data] == [(5, 9), (3, 9)]
    for a, b in zip(back.data, resp.data, strict=True):
        np.testing.assert_allclose(a, b, atol=0.07)  # fp8_e5m2 keeps 2 mantissa bits


def test_base64_rows_from_token_counts_or_num_labels() -> None:
    resp = _response((4, 6))
    doc = sp.pooling_response_json(resp, "base64")
    doc["usage"] = {}  # a server that sends no usage
    assert p.parse_pooling_response(doc, token_counts=[4]).data[0].shape == (4, 6)
    assert p.parse_pooling_response(doc, num_labels=6).data[0].shape == (4, 6)
    with pytest.raises(MalformedResponse, match="no shape"):
        p.parse_pooling_response(doc)
    with pytest.raises(MalformedResponse, match=r"96 bytes of base64 do not hold whole rows of 5"):
        p.parse_pooling_response(doc, num_labels=5)
    with pytest.raises(MalformedResponse, match="24 values do not split into rows for 5 tokens"):
        p.parse_pooling_response(doc, token_counts=[5])


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "fp8_e4m3"])
def test_bytes_response_with_metadata_header(dtype: str) -> None:
    resp = _response((3, 4), (2, 4))
    body, metadata = sp.pooling_response_bytes(resp, dtype, "big")
    meta = json.loads(metadata)
    assert meta["data"][1]["start"] == meta["data"][0]["end"] == 3 * 4 * c.ITEMSIZE[dtype]
    assert meta["data"][1]["shape"] == [2, 4] and meta["data"][1]["endianness"] == "big"
    back = p.parse_pooling_bytes(body, metadata, expected_items=2)
    assert back.model == "tiny" and back.usage.prompt_tokens == 5
    for a, b in zip(back.data, resp.data, strict=True):
        np.testing.assert_allclose(a, b, atol=0.07)


def test_bytes_only_response_needs_token_counts_for_several_items() -> None:
    resp = _response((3, 4), (2, 4))
    body, _ = sp.pooling_response_bytes(resp, "float16", "little")
    back = p.parse_pooling_bytes(
        body,
        None,
        embed_dtype="float16",
        endianness="little",
        expected_items=2,
        token_counts=[3, 2],
    )
    assert [a.shape for a in back.data] == [(3, 4), (2, 4)]
    assert back.usage.prompt_tokens == 5  # counted from the rows: bytes_only carries no usage
    np.testing.assert_allclose(back.data[1], resp.data[1], rtol=2**-10)
    with pytest.raises(MalformedResponse, match="token count of every prompt is needed"):
        p.parse_pooling_bytes(body, None, embed_dtype="float16", expected_items=2)
    one, _ = sp.pooling_response_bytes(_response((3, 4)))
    assert p.parse_pooling_bytes(one, None, num_labels=4).data[0].shape == (3, 4)
    assert p.parse_pooling_bytes(one, None, token_counts=[3]).data[0].shape == (3, 4)
    with pytest.raises(MalformedResponse, match="cannot be recovered"):
        p.parse_pooling_bytes(one, None)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html>oops</html>", "expected JSON, got '<html>oops</html>'"),
        (b"", "expected JSON, got 'an empty body'"),
        (b"\xff\xfe", "undecodable bytes"),
        ([1, 2], "expected a JSON object"),
        ({"object": "list"}, r"expected a 'data' list, got keys \['object'\]"),
        ({"data": {"x": 1}}, "'data' should be a list"),
        ({"data": [{"index": 0}]}, r"data\[0\] should be an object with a 'data' field"),
        ({"data": [{"index": 0, "data": [[0.1, 0.2], [0.3]]}]}, r"ragged rows"),
        ({"data": [{"index": 0, "data": [0.1, 0.2]}]}, r"2-D\), got a 1-D array \[2\]"),
        ({"data": [{"index": 0, "data": []}]}, r"got an empty list"),
        ({"data": [{"index": 0, "data": [[[0.1]]]}]}, r"got a 3-D array"),
        ({"data": [{"index": 0, "data": [["0.1", "0.9"]]}]}, "expected numbers"),
        ({"data": [{"index": 0, "data": [[0.1, None]]}]}, "expected numbers"),
        ({"data": [{"index": 0, "data": 0.5}]}, "expected a list of rows"),
        ({"data": [{"index": 3, "data": [[1.0]]}]}, r"indexes should be 0..0 once each"),
        ({"data": [{"index": 0, "data": "@@@"}]}, "do not decode"),
        (
            {"data": [{"index": 0, "data": [[1.0]]}], "usage": {"prompt_tokens": "x"}},
            "usage.prompt_tokens",
        ),
    ],
)
def test_malformed_pooling_responses_say_what_arrived(body: object, expected: str) -> None:
    with pytest.raises(MalformedResponse, match=expected):
        p.parse_pooling_response(body)


def test_item_count_must_match_the_prompts() -> None:
    doc = sp.pooling_response_json(_response((2, 3)))
    with pytest.raises(MalformedResponse, match=r"expected 2 item\(s\), one per prompt, got 1"):
        p.parse_pooling_response(doc, expected_items=2)


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"start": 0, "end": 999}, "do not lie within"),
        ({"shape": [12]}, "expected a 2-D shape"),
        ({"shape": [5, 5]}, r"cannot be shaped \[5, 5\]"),
        ({"embed_dtype": "int4"}, "unknown embed_dtype"),
    ],
)
def test_malformed_bytes_metadata(patch: dict[str, object], expected: str) -> None:
    body, metadata = sp.pooling_response_bytes(_response((3, 4)))
    meta = json.loads(metadata)
    meta["data"][0].update(patch)
    with pytest.raises(MalformedResponse, match=expected):
        p.parse_pooling_bytes(body, json.dumps(meta))
    with pytest.raises(MalformedResponse, match="metadata header: expected JSON"):
        p.parse_pooling_bytes(body, "not json")


def test_tokenize_and_model_list_bodies() -> None:
    tok = p.TokenizeResponse.from_json(
        b'{"count": 3, "max_model_len": 512, "tokens": [101, 7, 102], "token_strs": null}'
    )
    assert tok == p.TokenizeResponse(tokens=[101, 7, 102], count=3, max_model_len=512)
    assert p.TokenizeResponse.from_json(sp.tokenize_response_json(tok)) == tok
    with pytest.raises(MalformedResponse, match="'tokens' as a list of integers"):
        p.TokenizeResponse.from_json({"tokens": "101 7"})
    with pytest.raises(MalformedResponse, match="'token_strs' should be 1 strings"):
        p.TokenizeResponse.from_json({"tokens": [1], "token_strs": ["a", "b"]})
    cards = [ModelCard("a", root="/models/a", max_model_len=512), ModelCard("b")]
    doc = sp.model_list_json(cards)
    assert doc["data"][0]["owned_by"] == "vllm"  # type: ignore[index]
    assert p.parse_model_list(json.dumps(doc)) == [cards[0], ModelCard("b", root="b")]
    with pytest.raises(MalformedResponse, match="string 'id'"):
        p.parse_model_list({"data": [{"name": "a"}]})
    with pytest.raises(MalformedResponse, match="model list"):
        p.parse_model_list({"models": []})


# --- errors ---------------------------------------------------------------------------------


def test_parse_error_reads_both_envelopes() -> None:
    nested = sp.error_json("The model `x` does not exist.", "NotFoundError", 404)
    assert p.parse_error(404, json.dumps(nested).encode()) == (
        "The model `x` does not exist.",
        "NotFoundError",
        404,
    )
    flat = sp.error_json("too long", "BadRequestError", 400, flat=True)
    assert flat["object"] == "error"
    assert p.parse_error(400, flat) == ("too long", "BadRequestError", 400)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"detail": "Not Found"}', "Not Found"),
        (
            b'{"detail": [{"loc": ["body", "input"], "msg": "Field required"}]}',
            "input: Field required",
        ),
        (b"Internal Server Error", "Internal Server Error"),
        (b"", "HTTP 502 with an empty body"),
        (b'{"error": "rate limited"}', "rate limited"),
        (b"\xff\x00 garbage", "garbage"),
    ],
)
def test_parse_error_handles_other_shapes(body: bytes, message: str) -> None:
    text, err_type, code = p.parse_error(502, body)
    assert message in text and err_type is None and code == 502


def test_parse_error_reads_the_words_of_an_html_page() -> None:
    """A web server or proxy that is not vLLM answers with an HTML page: show its words."""
    page = (
        b'<!DOCTYPE HTML>\n<html lang="en"><head><meta charset="utf-8"><title>Error response'
        b"</title></head><body><h1>Error response</h1><p>Error code: 404</p></body></html>"
    )
    text, _, code = p.parse_error(404, page)
    assert text == "an HTML page: Error response Error response Error code: 404"
    assert code == 404


def test_parse_error_clips_huge_bodies() -> None:
    text, _, _ = p.parse_error(500, b"x" * 10_000)
    assert len(text) <= 303 and text.endswith("...")


def test_fastapi_not_found_is_recognised() -> None:
    assert p.is_fastapi_not_found(b'{"detail":"Not Found"}')
    assert not p.is_fastapi_not_found(json.dumps(sp.error_json("nope", "NotFoundError", 404)))
    assert not p.is_fastapi_not_found(b"<html>")


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 9), min_size=1, max_size=4),
    labels=st.integers(1, 7),
    fmt=st.sampled_from(p.ENCODING_FORMATS),
    dtype=st.sampled_from(c.EMBED_DTYPES),
    endianness=st.sampled_from(c.ENDIANNESS),
    data=st.data(),
)
def test_any_response_round_trips_through_its_encoding(
    lengths: list[int],
    labels: int,
    fmt: str,
    dtype: str,
    endianness: str,
    data: st.DataObject,
) -> None:
    arrays = [
        data.draw(hnp.arrays(np.float32, (n, labels), elements=st.floats(0, 1, width=32)))
        for n in lengths
    ]
    usage = p.Usage(prompt_tokens=sum(lengths), total_tokens=sum(lengths))
    resp = p.PoolingResponse(data=arrays, model="m", id="pooling-1", usage=usage)
    kwargs: dict[str, Any] = {"embed_dtype": dtype, "endianness": endianness}
    if fmt in ("float", "base64"):
        body = json.dumps(sp.pooling_response_json(resp, fmt, dtype, endianness)).encode()
        back = p.parse_pooling_response(body, expected_items=len(lengths), **kwargs)
    else:
        content, metadata = sp.pooling_response_bytes(resp, dtype, endianness)
        back = p.parse_pooling_bytes(
            content,
            metadata if fmt == "bytes" else None,
            expected_items=len(lengths),
            token_counts=lengths,
            **kwargs,
        )
    assert [a.shape for a in back.data] == [a.shape for a in arrays]
    lossless = fmt == "float" or dtype == "float32"
    for got, want in zip(back.data, arrays, strict=True):
        assert got.dtype == np.float32
        if lossless:
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_allclose(got, want, atol=0.07)
