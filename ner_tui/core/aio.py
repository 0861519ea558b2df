"""Small asyncio helpers shared by the client, the connection steps and the commands."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import TypeVar

T = TypeVar("T")


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
