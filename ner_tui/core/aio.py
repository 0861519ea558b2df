"""Small asyncio helpers shared by the client, the connection steps and the commands."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Sequence
from typing import TypeVar

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741


async def gather_all(coros: Sequence[Awaitable[T]]) -> list[T]:
    """Run ``coros`` concurrently, results in order; on the first failure cancel the rest
    and raise it (what ``asyncio.TaskGroup`` does, on Python 3.10 too)."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def map_ordered(
    func: Callable[[I], Awaitable[T]], items: Iterable[I], *, limit: int
) -> AsyncGenerator[T, None]:
    """``func`` over ``items`` with at most ``limit`` calls running at once, results yielded in
    input order as soon as every earlier one is done.

    Items are taken lazily, a few windows ahead of the oldest unfinished one, so memory is
    bounded by the calls in flight, not by the input. When a call raises, the exception comes
    out at that item's turn; the calls still running are cancelled (also when the caller stops
    iterating)."""
    slots = asyncio.Semaphore(max(1, limit))

    async def run(item: I) -> T:
        async with slots:
            return await func(item)

    pending: deque[asyncio.Future[T]] = deque()
    try:
        for item in items:
            pending.append(asyncio.ensure_future(run(item)))
            if len(pending) >= 4 * max(1, limit):
                yield await pending.popleft()
        while pending:
            yield await pending.popleft()
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
