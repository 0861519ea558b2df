"""Dynamic batching: pooling requests that arrive within a few milliseconds share one forward pass.

Requests put their token-id prompts on an asyncio queue; one batcher task takes the first,
waits ``window_ms`` for company, drains the queue up to ``max_batch`` prompts and runs them
all in the inference thread. While a pass runs, new requests queue up and form the next
batch, so under load batches grow by themselves. With ``window_ms <= 0`` or ``max_batch <= 1``
every request runs on its own (batching off, for comparison).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger("ner_tui.server")

RunFn = Callable[[list[list[int]]], list[np.ndarray]]


@dataclass(slots=True)
class BatchStats:
    """Counters for /metrics."""

    forward_batches: int = 0
    batched_prompts: int = 0
    batched_requests: int = 0
    largest_batch: int = 0


@dataclass(slots=True)
class _Job:
    prompts: list[list[int]]
    future: asyncio.Future[list[np.ndarray]] = field(repr=False)


class DynamicBatcher:
    """Runs ``run(prompts) -> rows`` for many requests at once, off the event loop."""

    def __init__(
        self, run: RunFn, executor: Executor, *, window_ms: float = 3.0, max_batch: int = 64
    ) -> None:
        self._run = run
        self._executor = executor
        self.window_s = max(0.0, window_ms) / 1000.0
        self.max_batch = max(1, max_batch)
        self.enabled = window_ms > 0 and max_batch > 1
        self.stats = BatchStats()
        self._queue: asyncio.Queue[_Job] | None = None
        self._task: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None

    @property
    def alive(self) -> bool:
        """False once the batcher task has died (the server then reports 503 on /health)."""
        return self._failure is None and (
            not self.enabled or (self._task is not None and not self._task.done())
        )

    @property
    def waiting(self) -> int:
        return self._queue.qsize() if self._queue is not None else 0

    def start(self) -> None:
        if self.enabled and self._task is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.create_task(self._loop(), name="ner-tui-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def submit(self, prompts: list[list[int]]) -> list[np.ndarray]:
        """Rows for ``prompts`` (in order), computed alone or together with other requests."""
        loop = asyncio.get_running_loop()
        if not self.enabled:
            rows = await loop.run_in_executor(self._executor, self._run, prompts)
            self._count([prompts])
            return rows
        if self._queue is None or not self.alive:
            raise RuntimeError("the inference engine is not running")
        job = _Job(prompts, loop.create_future())
        self._queue.put_nowait(job)
        return await job.future

    def _count(self, batch: list[list[list[int]]]) -> None:
        prompts = sum(len(p) for p in batch)
        self.stats.forward_batches += 1
        self.stats.batched_requests += len(batch)
        self.stats.batched_prompts += prompts
        self.stats.largest_batch = max(self.stats.largest_batch, prompts)

    async def _loop(self) -> None:
        assert self._queue is not None
        queue = self._queue
        loop = asyncio.get_running_loop()
        try:
            while True:
                jobs = [await queue.get()]
                if self.window_s:
                    await asyncio.sleep(self.window_s)
                size = len(jobs[0].prompts)
                while size < self.max_batch and not queue.empty():
                    job = queue.get_nowait()
                    jobs.append(job)
                    size += len(job.prompts)
                jobs = [j for j in jobs if not j.future.done()]  # callers that gave up
                if not jobs:
                    continue
                prompts = [p for j in jobs for p in j.prompts]
                try:
                    rows = await loop.run_in_executor(self._executor, self._run, prompts)
                except Exception as exc:  # a bad batch fails its requests, not the server
                    for j in jobs:
                        if not j.future.done():
                            j.future.set_exception(exc)
                    continue
                self._count([j.prompts for j in jobs])
                start = 0
                for j in jobs:
                    end = start + len(j.prompts)
                    if not j.future.done():
                        j.future.set_result(rows[start:end])
                    start = end
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # pragma: no cover - defensive: report, don't hang
            self._failure = exc
            log.exception("batcher died")
            while not queue.empty():
                job = queue.get_nowait()
                if not job.future.done():
                    job.future.set_exception(RuntimeError("the inference engine died"))
            raise
