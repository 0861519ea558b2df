"""BIO-family tag sequences -> entity spans, vectorised with numpy.

Two decoders, both reproducing seqeval 1.2.2 exactly (the tests use seqeval as the oracle):

- ``lenient``: ``seqeval.metrics.sequence_labeling.get_entities`` (conlleval): an orphan ``I-X``
  starts an X entity, a type change ends one, ``B-X`` always starts a new one, ``E-``/``S-`` close
  one. BILOU tags are read as IOBES (``L-`` = ``E-``, ``U-`` = ``S-``).
- ``strict``: ``seqeval.scheme.Entities(..., scheme=IOB2/IOB1/IOBES/BILOU)``: a sequence that is
  invalid in the scheme is dropped, not repaired; its tokens are reported as rejected.

Prefix-less labels (scheme ``IO``) are read as ``I-`` tags, so a run of equal labels is one
entity in both modes.

The decoders work on canonical prefix codes (:data:`ner_tui.core.labels.OUT` ...) and integer
type ids, one per position; the string API :func:`decode_tags` parses labels first.
Spans are ``(start, end)`` over positions with an exclusive end (seqeval's ``get_entities``
uses an inclusive end, ``Entities`` an exclusive one).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ner_tui.core.labels import BEGIN, END, INSIDE, OUT, SCHEMES, SINGLE, prefix_code, split_label
from ner_tui.core.types import DECODE_MODES


def decode_tags(
    tags: Sequence[str], scheme: str = "IOB2", mode: str = "lenient"
) -> tuple[list[tuple[str, int, int]], set[int]]:
    """Entities ``(type, start, end)`` (exclusive end, sorted) of a tag sequence, and the
    positions a strict decoder rejected (non-O tags that ended up in no entity).

    ``scheme`` is one of ``IOB2``, ``IOB1``, ``IOBES``, ``BILOU``, ``IO``; ``mode`` is
    ``lenient`` or ``strict``. Labels are parsed by :func:`split_label` (so ``B-O`` is outside
    and ``B-ARGM-LOC`` has type ``ARGM-LOC``); under ``IO`` every non-O label is taken whole.
    Raises ``ValueError`` for an unknown scheme or mode, and in
    strict IOB1/IOB2 mode for ``E-``/``S-``/``L-``/``U-`` tags (as seqeval does)."""
    _check(scheme, mode)
    parsed = [split_label(tag) for tag in tags]
    if scheme == "IO":
        parsed = [
            ("O", "") if p == "O" else ("", tag) for tag, (p, _) in zip(tags, parsed, strict=True)
        ]
    elif mode == "strict" and scheme in ("IOB1", "IOB2"):
        bad = sorted(
            {tag for tag, (p, _) in zip(tags, parsed, strict=True) if p not in ("B", "I", "O", "")}
        )
        if bad:
            raise ValueError(f"tags {', '.join(bad[:5])} are not valid in the {scheme} scheme")
    type_index: dict[str, int] = {}
    codes = np.array([prefix_code(p) for p, _ in parsed], dtype=np.int8)
    type_ids = np.array(
        [-1 if p == "O" else type_index.setdefault(t, len(type_index)) for p, t in parsed],
        dtype=np.int32,
    )
    names = list(type_index)
    starts, ends, rejected = decode_codes(codes, type_ids, scheme, mode)
    spans = [
        (names[type_ids[s]], s, e) for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
    ]
    return spans, set(np.flatnonzero(rejected).tolist())


def decode_codes(
    codes: np.ndarray, type_ids: np.ndarray, scheme: str, mode: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised core of :func:`decode_tags`: ``(starts, ends, rejected)`` where ``starts`` and
    ``ends`` are int arrays of entity bounds (exclusive end, sorted) and ``rejected`` a bool
    mask of the positions a strict decoder dropped. The type of entity ``k`` is
    ``type_ids[starts[k]]``."""
    _check(scheme, mode)
    c = np.asarray(codes, dtype=np.int8)
    t = np.asarray(type_ids, dtype=np.int64)
    if c.shape != t.shape or c.ndim != 1:
        raise ValueError("codes and type_ids must be 1-D arrays of the same length")
    if mode == "lenient" or scheme == "IO":
        starts, ends = _lenient(c, t)
        return starts, ends, np.zeros(len(c), dtype=bool)
    if scheme == "IOB1":
        return _strict_iob1(c, t)
    return _strict_segments(c, t, scheme)


def _check(scheme: str, mode: str) -> None:
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tagging scheme {scheme!r}; use one of {', '.join(SCHEMES)}")
    if mode not in DECODE_MODES:
        raise ValueError(f"unknown decoding mode {mode!r}; use lenient or strict")


def _shift(a: np.ndarray, fill: int | bool) -> np.ndarray:
    """``a`` moved one step right: ``out[i] = a[i-1]``, ``out[0] = fill``."""
    out = np.empty_like(a)
    if len(a):
        out[0] = fill
        out[1:] = a[:-1]
    return out


def _lenient(c: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """seqeval's ``start_of_chunk``/``end_of_chunk``, evaluated at every position at once.

    Boundary ``i`` (0..n) sits between positions ``i-1`` and ``i``, with an O before the first
    and after the last position, as ``get_entities`` appends one."""
    n = len(c)
    pc = np.empty(n + 1, dtype=np.int8)
    pc[0], pc[1:] = OUT, c
    cc = np.empty(n + 1, dtype=np.int8)
    cc[:n], cc[n] = c, OUT
    pt = np.empty(n + 1, dtype=np.int64)
    pt[0], pt[1:] = -1, t
    ct = np.empty(n + 1, dtype=np.int64)
    ct[:n], ct[n] = t, -1
    diff = pt != ct
    p_closed = (pc == END) | (pc == SINGLE)
    p_open = (pc == BEGIN) | (pc == INSIDE)
    c_opens = (cc == BEGIN) | (cc == SINGLE)
    c_continues = (cc == END) | (cc == INSIDE)
    end = p_closed | (p_open & (c_opens | (cc == OUT))) | ((pc != OUT) & diff)
    start = c_opens | ((p_closed | (pc == OUT)) & c_continues) | ((cc != OUT) & diff)
    # Every non-O position is a start or continues an open chunk, so starts and ends pair up.
    return np.flatnonzero(start[:n]), np.flatnonzero(end)


def _segments(consumed: np.ndarray, heads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Chains ``[head, next position that is not consumed)`` for every head position."""
    boundary = np.flatnonzero(np.append(~consumed, True))
    first = boundary[:-1]
    keep = heads[first]
    return first[keep], boundary[1:][keep]


def _rejected(n: int, c: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Non-O positions outside every accepted entity."""
    inside = np.zeros(n + 1, dtype=np.int64)
    np.add.at(inside, starts, 1)
    np.add.at(inside, ends, -1)
    covered = np.cumsum(inside[:n]) > 0
    return (c != OUT) & ~covered


def _strict_segments(
    c: np.ndarray, t: np.ndarray, scheme: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """seqeval strict IOB2 / IOBES / BILOU.

    A chain starts at ``B`` (or ``S``/``U``) and takes following ``I`` (and ``E``/``L``) tags of
    the same type while the previous tag is ``B`` or ``I``. IOB2 accepts every chain started by
    ``B``; IOBES/BILOU accept a chain started by ``B``/``S`` that ends on ``E``/``S``. Non-start
    tags outside chains are skipped."""
    n = len(c)
    pc = _shift(c, OUT)
    pt = _shift(t, -1)
    same = (pt == t) & ((pc == BEGIN) | (pc == INSIDE))
    consumed = (c == INSIDE) & same if scheme == "IOB2" else ((c == INSIDE) | (c == END)) & same
    heads = (c != OUT) & ~consumed
    first, after = _segments(consumed, heads)
    if scheme == "IOB2":
        ok = c[first] == BEGIN
    else:
        last = c[after - 1]
        ok = ((c[first] == BEGIN) | (c[first] == SINGLE)) & ((last == END) | (last == SINGLE))
    starts, ends = first[ok], after[ok]
    return starts, ends, _rejected(n, c, starts, ends)


def _strict_iob1(c: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """seqeval strict IOB1, derived from its start/inside/end patterns.

    ``I-X`` always belongs to a chain: it starts one unless it follows ``I-X`` or a ``B-X``
    that started a chain. ``B-X`` starts a chain only right after ``I-X``/``B-X`` (same type) and
    is otherwise rejected; a lone ``B-X`` chain followed by ``B-Y`` (another type) is rejected."""
    n = len(c)
    pc = _shift(c, OUT)
    pt = _shift(t, -1)
    same = (pt == t) & ((pc == BEGIN) | (pc == INSIDE))
    head_b = (c == BEGIN) & same
    consumed = (c == INSIDE) & same & ((pc == INSIDE) | _shift(head_b, False))
    heads = ((c == INSIDE) & ~consumed) | head_b
    first, after = _segments(consumed, heads)
    # A chain ending on B-X (a lone B-X: B is never consumed) must not be followed by B-Y.
    nxt = np.minimum(after, n - 1)
    bad = (c[after - 1] == BEGIN) & (after < n) & (c[nxt] == BEGIN) & (t[nxt] != t[first])
    starts, ends = first[~bad], after[~bad]
    return starts, ends, _rejected(n, c, starts, ends)
