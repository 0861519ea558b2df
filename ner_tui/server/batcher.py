"""Dynamic batching: pooling requests that arrive within a few milliseconds share one forward pass.

Requests put their token-id prompts on an asyncio queue; one batcher task takes the first,
gathers more until the batch holds ``max_batch`` prompts or ``window_ms`` have passed since
the first was queued (with ``wait="auto"``, only while more requests are expected),
and runs them all in the inference thread. While a pass runs, new requests queue up and go in
the next pass without further waiting, so under load batches grow by themselves. With
``window_ms <= 0`` or ``max_batch <= 1`` every request runs on its own (batching off).
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
    queued_at: float  # loop time


class Arrival:
    """A request on its way to the batcher (being read, parsed, tokenized): while any are
    open, a batch waits for them (up to the window) instead of leaving without them."""

    def __init__(self, batcher: DynamicBatcher) -> None:
        self._batcher = batcher
        self._open = True
        batcher._arriving += 1

    def close(self) -> None:
        if self._open:
            self._open = False
            self._batcher._arriving -= 1
            if self._batcher._wakeup is not None:
                self._batcher._wakeup.set()


class DynamicBatcher:
    """Runs ``run(prompts) -> rows`` for many requests at once, off the event loop.

    ``wait="auto"`` waits (up to ``window_ms`` after the first job was queued) only while
    other requests are still being read, or while the batch holds fewer requests than the
    previous one (clients answered together come back together), so a lone client pays no
    delay; ``"always"`` waits the whole window whenever the batch is not full."""

    def __init__(
        self,
        run: RunFn,
        executor: Executor,
        *,
        window_ms: float = 5.0,
        max_batch: int = 64,
        wait: str = "auto",
    ) -> None:
        if wait not in ("auto", "always"):
            raise ValueError(f"wait must be 'auto' or 'always', got {wait!r}")
        self._run = run
        self._executor = executor
        self.window_s = max(0.0, window_ms) / 1000.0
        self.max_batch = max(1, max_batch)
        self.wait = wait
        self.enabled = window_ms > 0 and max_batch > 1
        self.stats = BatchStats()
        self._queue: asyncio.Queue[_Job] | None = None
        self._wakeup: asyncio.Event | None = None
        self._arriving = 0
        self._expected = 1
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
            self._wakeup = asyncio.Event()
            self._task = asyncio.create_task(self._loop(), name="ner-tui-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def arrival(self) -> Arrival:
        """Announce a request; close the Arrival when it is submitted or given up."""
        return Arrival(self)

    async def submit(
        self, prompts: list[list[int]], arrival: Arrival | None = None
    ) -> list[np.ndarray]:
        """Rows for ``prompts`` (in order), computed alone or together with other requests."""
        loop = asyncio.get_running_loop()
        if not self.enabled:
            if arrival is not None:
                arrival.close()
            rows = await loop.run_in_executor(self._executor, self._run, prompts)
            self._count([prompts])
            return rows
        if self._queue is None or not self.alive:
            raise RuntimeError("the inference engine is not running")
        job = _Job(prompts, loop.create_future(), loop.time())
        self._queue.put_nowait(job)
        if arrival is not None:
            arrival.close()
        if self._wakeup is not None:
            self._wakeup.set()
        return await job.future

    def _count(self, batch: list[list[list[int]]]) -> None:
        prompts = sum(len(p) for p in batch)
        self.stats.forward_batches += 1
        self.stats.batched_requests += len(batch)
        self.stats.batched_prompts += prompts
        self.stats.largest_batch = max(self.stats.largest_batch, prompts)

    async def _loop(self) -> None:
        assert self._queue is not None and self._wakeup is not None
        queue, wakeup = self._queue, self._wakeup
        loop = asyncio.get_running_loop()
        try:
            while True:
                jobs = [await queue.get()]
                size = len(jobs[0].prompts)
                # Jobs that queued up behind the previous forward pass go at once: the window
                # counts from when the first job was queued.
                deadline = jobs[0].queued_at + self.window_s
                while True:
                    while size < self.max_batch and not queue.empty():
                        job = queue.get_nowait()
                        jobs.append(job)
                        size += len(job.prompts)
                    remaining = deadline - loop.time()
                    if size >= self.max_batch or remaining <= 0:
                        break
                    if self.wait == "auto" and self._arriving <= 0 and len(jobs) >= self._expected:
                        break
                    wakeup.clear()
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(wakeup.wait(), remaining)
                # Clients that got answers together tend to come back together: expect as
                # many requests next time (a lone client expects one and never waits).
                self._expected = len(jobs)
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
