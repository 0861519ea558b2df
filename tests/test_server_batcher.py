"""The dynamic batcher on its own: who shares a pass, in what order, and what a failure does."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from ner_tui.server.batcher import DynamicBatcher


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=1)
    yield pool
    pool.shutdown(wait=True)


class Recorder:
    """A run function that scores a prompt as its own ids (so results can be checked) and
    records the prompts of every pass."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.passes: list[list[list[int]]] = []
        self.fail_on = fail_on

    def __call__(self, prompts: list[list[int]]) -> list[np.ndarray]:
        self.passes.append(prompts)
        if self.fail_on is not None and any(self.fail_on in p for p in prompts):
            raise ValueError(f"cannot score {self.fail_on}")
        return [np.array(p, dtype=np.float32)[:, None] for p in prompts]


async def _burst(batcher: DynamicBatcher, prompts: list[list[list[int]]]) -> list[object]:
    return await asyncio.gather(*(batcher.submit(p) for p in prompts), return_exceptions=True)


async def test_requests_queued_together_share_one_pass(executor: ThreadPoolExecutor) -> None:
    run = Recorder()
    batcher = DynamicBatcher(run, executor, window_ms=50, max_batch=64)
    batcher.start()
    jobs = [[[i, i + 1]] for i in range(5)] + [[[7], [8, 9]]]
    results = await _burst(batcher, jobs)
    await batcher.stop()
    assert len(run.passes) == 1 and len(run.passes[0]) == 7
    for job, rows in zip(jobs, results, strict=True):
        assert isinstance(rows, list)
        assert [r[:, 0].tolist() for r in rows] == job  # each request gets its own rows back
    assert batcher.stats.forward_batches == 1 and batcher.stats.batched_requests == 6


async def test_max_batch_bounds_a_pass(executor: ThreadPoolExecutor) -> None:
    run = Recorder()
    batcher = DynamicBatcher(run, executor, window_ms=1, max_batch=4)
    batcher.start()
    await _burst(batcher, [[[i]] for i in range(10)])
    await batcher.stop()
    assert [len(p) for p in run.passes] == [4, 4, 2]
    assert [p[0] for batch in run.passes for p in batch] == list(range(10))  # FIFO


async def test_batching_off_runs_each_request_alone(executor: ThreadPoolExecutor) -> None:
    run = Recorder()
    batcher = DynamicBatcher(run, executor, window_ms=0, max_batch=64)
    batcher.start()
    assert not batcher.enabled
    await _burst(batcher, [[[i]] for i in range(4)])
    assert [len(p) for p in run.passes] == [1, 1, 1, 1]


async def test_a_failing_pass_fails_its_requests_not_the_batcher(
    executor: ThreadPoolExecutor,
) -> None:
    run = Recorder(fail_on=13)
    batcher = DynamicBatcher(run, executor, window_ms=20, max_batch=64)
    batcher.start()
    results = await _burst(batcher, [[[1]], [[13]], [[2]]])
    assert all(isinstance(r, ValueError) for r in results)
    assert batcher.alive
    (row,) = await batcher.submit([[5]])
    assert row[:, 0].tolist() == [5]
    await batcher.stop()


async def test_a_caller_that_gave_up_is_skipped(executor: ThreadPoolExecutor) -> None:
    run = Recorder()
    batcher = DynamicBatcher(run, executor, window_ms=30, max_batch=64, wait="always")
    batcher.start()
    gone = asyncio.ensure_future(batcher.submit([[99]]))
    kept = asyncio.ensure_future(batcher.submit([[1]]))
    await asyncio.sleep(0)  # both queued; the batcher waits out its window
    gone.cancel()
    (row,) = await kept
    await batcher.stop()
    assert row[:, 0].tolist() == [1]
    assert run.passes == [[[1]]]


def test_wait_must_be_known(executor: ThreadPoolExecutor) -> None:
    with pytest.raises(ValueError, match="auto"):
        DynamicBatcher(Recorder(), executor, wait="sometimes")
