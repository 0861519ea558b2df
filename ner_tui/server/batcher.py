"""The server's side of the engine's scheduler: requests go to the one
:class:`~ner_tui.core.scheduler.Scheduler` of the :class:`LocalEngine` (there is no second
batcher in the server), and a request whose client has gone is abandoned there.

``state.batcher`` is a :class:`ServerScheduler`; handlers take an :class:`Arrival` when a
request comes in, hand it to :meth:`ServerScheduler.submit`, and call :meth:`Arrival.abandon`
when the client disconnects (the HTTP layer also cancels the handler's task, which withdraws
the request from the scheduler the same way).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from starlette.requests import ClientDisconnect

from ner_tui.core.engine import LocalEngine
from ner_tui.core.scheduler import SchedulerStats

log = logging.getLogger("ner_tui.server")

# The old name, for code that imported the stats type from here.
BatchStats = SchedulerStats


class Arrival:
    """A request on its way through the server (being read, tokenized, scheduled).

    :meth:`abandon` tells the scheduler the client has gone: tokenizing stops at the next
    chunk, and the request's passes not yet run are dropped (its ``submit`` raises
    ``ClientDisconnect``)."""

    def __init__(self) -> None:
        self.open = True
        self.abandoned = False
        self._future: Any = None  # the scheduler's concurrent Future, once submitted

    def close(self) -> None:
        self.open = False

    def abandon(self) -> None:
        self.abandoned = True
        if self._future is not None:
            self._future.cancel()

    def check(self) -> None:
        """Raise ClientDisconnect if the client has gone."""
        if self.abandoned:
            raise ClientDisconnect()


class ServerScheduler:
    """What the routes and /metrics see of the engine's scheduler."""

    def __init__(
        self,
        engine: LocalEngine,
        *,
        max_num_batched_tokens: int,
        max_num_seqs: int,
        batch_window_ms: float = 0.0,
    ) -> None:
        self.engine = engine
        engine.configure(
            max_num_batched_tokens=max_num_batched_tokens,
            max_num_seqs=max_num_seqs,
            batch_window_s=batch_window_ms / 1000.0,
        )
        self.scheduler = engine.scheduler
        #: Called on the event loop, once per request, with the seconds from its submission
        #: to the start of its first pass (the API layer's queue-time histogram).
        self.on_queue_time: Callable[[float], None] | None = None
        #: Characters given to the tokenizer (the server counts them here for /metrics).
        self.tokenized_chars = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def max_num_batched_tokens(self) -> int:
        return self.scheduler.max_num_batched_tokens

    @property
    def max_num_seqs(self) -> int:
        return self.scheduler.max_num_seqs

    @property
    def alive(self) -> bool:
        return self.scheduler.alive

    @property
    def waiting(self) -> int:
        return self.scheduler.waiting

    @property
    def running(self) -> int:
        return self.scheduler.running

    @property
    def stats(self) -> SchedulerStats:
        return self.scheduler.stats

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        self._loop = None

    def arrival(self) -> Arrival:
        """Announce a request; close the Arrival when it is done, abandon it if the client
        goes."""
        return Arrival()

    def _started(self, seconds: float) -> None:  # in the scheduler's thread
        hook, loop = self.on_queue_time, self._loop
        if hook is not None and loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(hook, seconds)

    async def submit(
        self, prompts: list[list[int]], arrival: Arrival | None = None
    ) -> list[np.ndarray]:
        """Raw logit rows for ``prompts`` (checked token ids), in order."""
        if arrival is not None:
            arrival.check()
        future = self.scheduler.submit(prompts, on_start=self._started)
        if arrival is not None:
            arrival._future = future
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            if arrival is not None and arrival.abandoned and future.cancelled():
                raise ClientDisconnect() from None
            future.cancel()  # our task was cancelled: nobody wants these rows
            raise
