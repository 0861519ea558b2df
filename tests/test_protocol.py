"""The pooling protocol as data: array codecs, request/response models, error envelopes."""

from __future__ import annotations

import base64
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ner_tui.core import protocol as p
from ner_tui.core.errors import MalformedResponse

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
@given(arr=arrays_2d, endianness=st.sampled_from(p.ENDIANNESS))
def test_float32_round_trip_is_exact(arr: np.ndarray, endianness: str) -> None:
    buf = p.encode_array(arr, "float32", endianness)
    assert len(buf) == arr.size * 4
    out = p.decode_array(buf, "float32", endianness, arr.shape)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, arr)


@settings(max_examples=60, deadline=None)
@given(arr=prob_arrays, endianness=st.sampled_from(p.ENDIANNESS))
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
        out = p.decode_array(p.encode_array(arr, dtype, endianness), dtype, endianness, arr.shape)
        assert out.dtype == np.float32 and out.shape == arr.shape
        tol = np.abs(arr) * 2.0 ** -(man_bits + 1) + abs_tol
        assert np.all(np.abs(out - arr) <= tol), dtype


@settings(max_examples=40, deadline=None)
@given(arr=prob_arrays)
def test_argmax_survives_every_dtype_when_the_winner_is_clear(arr: np.ndarray) -> None:
    # What ner-tui needs from a lossy encoding: the same label wins when it wins clearly.
    top2 = np.sort(arr, axis=1)[:, -2:] if arr.shape[1] > 1 else None
    for dtype in p.EMBED_DTYPES:
        out = p.decode_array(p.encode_array(arr, dtype), dtype, "native", arr.shape)
        clear = (top2[:, 1] > 2 * top2[:, 0] + 0.01) if top2 is not None else slice(None)
        np.testing.assert_array_equal(out.argmax(1)[clear], arr.argmax(1)[clear])


def test_byte_order_is_what_was_asked() -> None:
    arr = np.array([[1.5, -2.0]], dtype=np.float32)
    assert p.encode_array(arr, "float32", "big") == struct.pack(">2f", 1.5, -2.0)
    assert p.encode_array(arr, "float32", "little") == struct.pack("<2f", 1.5, -2.0)
    assert p.encode_array(arr, "float16", "big") == struct.pack(">2e", 1.5, -2.0)
    # bfloat16 is the high half of the float32 bit pattern: 1.5 = 0x3FC00000.
    assert p.encode_array(arr, "bfloat16", "big") == bytes.fromhex("3fc0c000")
    assert p.encode_array(arr, "bfloat16", "little") == bytes.fromhex("c03f00c0")


def test_bfloat16_rounds_to_nearest_even() -> None:
    # 1 + 2**-8 is halfway between 1 and 1 + 2**-7: ties go to the even mantissa (1.0).
    # 1 + 3 * 2**-8 is halfway between 1 + 2**-7 (odd) and 1 + 2**-6 (even): rounds up.
    arr = np.array([1 + 2**-8, 1 + 3 * 2**-8, 1 + 2**-8 + 2**-20], dtype=np.float32)
    out = p.decode_array(p.encode_array(arr, "bfloat16"), "bfloat16")
    np.testing.assert_array_equal(out, np.array([1.0, 1 + 2**-6, 1 + 2**-7], dtype=np.float32))
    nan = p.decode_array(p.encode_array(np.array([np.nan], np.float32), "bfloat16"), "bfloat16")
    assert np.isnan(nan).all()


def test_fp8_tables_known_values() -> None:
    def one(value: float, dtype: str) -> tuple[int, float]:
        buf = p.encode_array(np.array([value], np.float32), dtype)
        return buf[0], float(p.decode_array(buf, dtype)[0])

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
        ours = p.decode_array(p.encode_array(x, dtype), dtype)
        theirs = x.astype(ref).astype(np.float32)
        np.testing.assert_array_equal(ours, theirs, err_msg=dtype)


def test_base64_wrappers_round_trip() -> None:
    arr = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    text = p.encode_array_base64(arr, "float16", "big")
    assert base64.b64decode(text) == p.encode_array(arr, "float16", "big")
    out = p.decode_array_base64(text, "float16", "big", (-1, 4))
    assert out.shape == (3, 4)
    np.testing.assert_allclose(out, arr, rtol=2**-11)


def test_decode_rejects_bytes_that_do_not_fit() -> None:
    with pytest.raises(MalformedResponse, match="7 bytes cannot hold float32"):
        p.decode_array(b"\0" * 7, "float32")
    with pytest.raises(MalformedResponse, match=r"6 values cannot be shaped \[-1, 4\]"):
        p.decode_array(b"\0" * 12, "float16", "native", (-1, 4))
    with pytest.raises(MalformedResponse, match=r"cannot be shaped \[2, 2\]"):
        p.decode_array(b"\0" * 12, "float32", "native", (2, 2))
    with pytest.raises(MalformedResponse, match="do not decode"):
        p.decode_array_base64("not base64!!", "float32")


def test_codec_rejects_unknown_literals() -> None:
    with pytest.raises(ValueError, match="embed_dtype must be one of"):
        p.encode_array(np.zeros(2), "int8")
    with pytest.raises(ValueError, match="endianness must be one of"):
        p.decode_array(b"", "float32", "middle")
