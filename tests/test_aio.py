"""The two ways ner-tui runs work concurrently: all-or-nothing (``gather_all``) and a stream in
input order with bounded work in flight (``map_ordered``, what ``predict`` writes from)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

import pytest

from ner_tui.core.aio import gather_all, map_ordered


async def test_gather_all_cancels_the_rest_on_the_first_failure() -> None:
    cancelled: list[int] = []

    async def slow(i: int) -> int:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(i)
            raise
        return i

    async def boom() -> int:
        await asyncio.sleep(0.01)
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await gather_all([slow(0), boom(), slow(2)])
    assert sorted(cancelled) == [0, 2]
    assert await gather_all([asyncio.sleep(0, result=i) for i in range(3)]) == [0, 1, 2]


async def test_map_ordered_keeps_input_order_and_bounds_concurrency() -> None:
    running = peak = 0

    async def work(i: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.001 * ((7 * i) % 5))  # finish out of order
        running -= 1
        return i * i

    results = [r async for r in map_ordered(work, range(40), limit=3)]
    assert results == [i * i for i in range(40)]
    assert peak == 3
    assert [r async for r in map_ordered(work, [], limit=3)] == []


async def test_map_ordered_takes_items_lazily() -> None:
    """Memory is bounded by the work in flight: an endless input is fine if we stop reading."""
    taken = itertools.count()

    def endless() -> Iterator[int]:
        for i in itertools.count():
            next(taken)
            yield i

    stream = map_ordered(lambda i: asyncio.sleep(0, result=i), endless(), limit=2)
    first = [await anext(stream) for _ in range(5)]
    await stream.aclose()
    assert first == [0, 1, 2, 3, 4]
    assert next(taken) <= 5 + 4 * 2 + 1  # a few windows ahead, never the whole input


async def test_map_ordered_raises_at_the_failing_item_and_cancels_the_rest() -> None:
    cancelled: list[int] = []

    async def work(i: int) -> int:
        if i == 2:
            raise KeyError(i)
        try:
            await asyncio.sleep(0 if i < 2 else 10)
        except asyncio.CancelledError:
            cancelled.append(i)
            raise
        return i

    seen: list[int] = []
    with pytest.raises(KeyError):
        async for result in map_ordered(work, range(6), limit=6):
            seen.append(result)
    assert seen == [0, 1]
    assert sorted(cancelled) == [3, 4, 5]
