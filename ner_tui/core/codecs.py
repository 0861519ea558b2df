"""Array codecs of vLLM's binary pooling encodings: float32, float16, bfloat16 and fp8.

``encoding_format: "base64"`` and ``"bytes"`` carry the row-major flattened tensor in
``embed_dtype`` with ``endianness``, without its shape. Plain numpy (no ml_dtypes): bfloat16
is the high half of float32 rounded to nearest even; fp8 (e4m3fn, e5m2) goes through 256-entry
tables. Client and server both use these, so both sides agree byte for byte.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

from ner_tui.core.errors import MalformedResponse

EmbedDType = Literal["float32", "float16", "bfloat16", "fp8_e4m3", "fp8_e5m2"]
Endianness = Literal["native", "big", "little"]
EMBED_DTYPES: tuple[EmbedDType, ...] = ("float32", "float16", "bfloat16", "fp8_e4m3", "fp8_e5m2")
ENDIANNESS: tuple[Endianness, ...] = ("native", "big", "little")

#: Bytes per element of each ``embed_dtype``.
ITEMSIZE: dict[str, int] = {
    "float32": 4,
    "float16": 2,
    "bfloat16": 2,
    "fp8_e4m3": 1,
    "fp8_e5m2": 1,
}

BYTEORDER = {"native": "=", "big": ">", "little": "<"}


def _fp8_table(exp_bits: int, man_bits: int, *, has_inf: bool) -> np.ndarray:
    """The float32 value of each of the 256 codes of an 8-bit float (sign, exponent, mantissa).

    ``has_inf=False`` is the "fn" variant (float8_e4m3fn, as torch and vLLM use it): no
    infinities, only the all-ones code of each sign is NaN. ``has_inf=True`` is IEEE-like
    (float8_e5m2): the top exponent holds +-inf and NaNs."""
    bias = (1 << (exp_bits - 1)) - 1
    top_exp = (1 << exp_bits) - 1
    values = np.empty(256, dtype=np.float32)
    for code in range(256):
        sign = -1.0 if code & 0x80 else 1.0
        exp = (code >> man_bits) & top_exp
        man = code & ((1 << man_bits) - 1)
        if has_inf and exp == top_exp:
            value = math.inf if man == 0 else math.nan
        elif not has_inf and exp == top_exp and man == (1 << man_bits) - 1:
            value = math.nan
        elif exp == 0:
            value = man / (1 << man_bits) * 2.0 ** (1 - bias)
        else:
            value = (1 + man / (1 << man_bits)) * 2.0 ** (exp - bias)
        values[code] = sign * value
    return values


_FP8_TABLES: dict[str, np.ndarray] = {
    "fp8_e4m3": _fp8_table(4, 3, has_inf=False),
    "fp8_e5m2": _fp8_table(5, 2, has_inf=True),
}
# Largest finite positive code (codes 0..max are finite and increase with the value).
_FP8_MAX_CODE = {"fp8_e4m3": 0x7E, "fp8_e5m2": 0x7B}
# Where positive overflow starts: halfway between the largest finite value and the next
# power-of-two step that the format cannot hold (torch rounds, then overflows to NaN / inf).
_FP8_OVERFLOW = {"fp8_e4m3": 464.0, "fp8_e5m2": 61440.0}
_FP8_NAN = {"fp8_e4m3": 0x7F, "fp8_e5m2": 0x7F}
_FP8_INF = {"fp8_e4m3": 0x7F, "fp8_e5m2": 0x7C}  # e4m3fn has no inf: inf becomes NaN


def _encode_fp8(x: np.ndarray, embed_dtype: str) -> np.ndarray:
    """Round float32 values to the nearest fp8 code (ties to even code), as uint8."""
    table = _FP8_TABLES[embed_dtype]
    max_code = _FP8_MAX_CODE[embed_dtype]
    positive = table[: max_code + 1]  # ascending finite magnitudes
    sign = np.signbit(x).astype(np.uint8) << 7
    mag = np.abs(x)
    hi = np.searchsorted(positive, mag, side="left").clip(0, max_code)
    lo = (hi - 1).clip(0, max_code)
    d_lo = np.abs(mag - positive[lo])
    d_hi = np.abs(positive[hi] - mag)
    take_hi = (d_hi < d_lo) | ((d_hi == d_lo) & (hi % 2 == 0))
    code = np.where(take_hi, hi, lo).astype(np.uint8)
    overflow = mag > _FP8_OVERFLOW[embed_dtype]
    if embed_dtype == "fp8_e5m2":
        overflow |= mag == _FP8_OVERFLOW[embed_dtype]  # tie with inf goes to the even code
    code = np.where(overflow, np.uint8(_FP8_INF[embed_dtype]), code)
    code = np.where(np.isnan(mag), np.uint8(_FP8_NAN[embed_dtype]), code)
    return (code | sign).astype(np.uint8)


def _float32_to_bfloat16_bits(x: np.ndarray) -> np.ndarray:
    """The high 16 bits of each float32, rounded to nearest even; NaN stays a (quiet) NaN."""
    bits = x.view(np.uint32)
    rounded = (bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)
    quiet_nan = (bits >> np.uint32(16)) | np.uint32(0x0040)
    return np.where(np.isnan(x), quiet_nan, rounded).astype(np.uint16)


def check_codec_args(embed_dtype: str, endianness: str) -> None:
    if embed_dtype not in ITEMSIZE:
        raise ValueError(f"embed_dtype must be one of {list(EMBED_DTYPES)}, got {embed_dtype!r}")
    if endianness not in BYTEORDER:
        raise ValueError(f"endianness must be one of {list(ENDIANNESS)}, got {endianness!r}")


def encode_array(
    arr: np.ndarray, embed_dtype: str = "float32", endianness: str = "native"
) -> bytes:
    """Row-major bytes of ``arr`` in ``embed_dtype``/``endianness``, as vLLM's binary encodings.

    ``native`` is this machine's byte order. fp8 is float8_e4m3fn / float8_e5m2 rounded to
    nearest even; bfloat16 is the high half of float32, rounded to nearest even."""
    check_codec_args(embed_dtype, endianness)
    order = BYTEORDER[endianness]
    x = np.ascontiguousarray(arr, dtype=np.float32).reshape(-1)
    if embed_dtype == "float32":
        return x.astype(order + "f4", copy=False).tobytes()
    if embed_dtype == "float16":
        with np.errstate(over="ignore"):  # beyond 65504 becomes inf, as in torch
            return x.astype(order + "f2").tobytes()
    if embed_dtype == "bfloat16":
        bits = _float32_to_bfloat16_bits(x)
        return bits.astype(order + "u2", copy=False).tobytes()
    return _encode_fp8(x, embed_dtype).tobytes()


def decode_array(
    buf: bytes | bytearray | memoryview,
    embed_dtype: str = "float32",
    endianness: str = "native",
    shape: Sequence[int] | None = None,
) -> np.ndarray:
    """The float32 array encoded in ``buf``; ``shape`` may hold one ``-1``.

    Raises :class:`MalformedResponse` when the byte count does not fit the dtype or the shape."""
    check_codec_args(embed_dtype, endianness)
    itemsize = ITEMSIZE[embed_dtype]
    nbytes = len(buf)
    if nbytes % itemsize:
        raise MalformedResponse(
            f"{nbytes} bytes cannot hold {embed_dtype} values ({itemsize} bytes each)"
        )
    order = BYTEORDER[endianness]
    if embed_dtype == "float32":
        out = np.frombuffer(buf, dtype=order + "f4").astype(np.float32)
    elif embed_dtype == "float16":
        out = np.frombuffer(buf, dtype=order + "f2").astype(np.float32)
    elif embed_dtype == "bfloat16":
        half = np.frombuffer(buf, dtype=order + "u2")
        out = (half.astype(np.uint32) << np.uint32(16)).view(np.float32)
    else:
        out = _FP8_TABLES[embed_dtype][np.frombuffer(buf, dtype=np.uint8)]
    if shape is None:
        return out
    return _reshape(out, tuple(int(s) for s in shape), what=f"{embed_dtype} array")


def _reshape(flat: np.ndarray, shape: tuple[int, ...], *, what: str) -> np.ndarray:
    known = math.prod(s for s in shape if s != -1)
    unknown = sum(1 for s in shape if s == -1)
    fits = (
        (unknown == 0 and known == flat.size)
        or (unknown == 1 and known > 0 and flat.size % known == 0)
    ) and all(s >= -1 for s in shape)
    if unknown > 1 or not fits:
        raise MalformedResponse(f"{what} of {flat.size} values cannot be shaped {list(shape)}")
    return flat.reshape(shape)


def encode_array_base64(
    arr: np.ndarray, embed_dtype: str = "float32", endianness: str = "native"
) -> str:
    """:func:`encode_array`, as the base64 text that ``encoding_format: "base64"`` carries."""
    return base64.b64encode(encode_array(arr, embed_dtype, endianness)).decode("ascii")
