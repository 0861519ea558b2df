"""The one scheduler of the local engine: every forward pass, for ``ner-tui serve`` and for the
app's :class:`~ner_tui.core.engine.LocalEngine`, is planned here.

Designed like vLLM's scheduler for a prefill-only model:

- **Passes are bounded by a token budget** (``max_num_batched_tokens``, padding included: the
  engine pads a pass to its longest prompt, so a pass costs ``longest x rows``) and by
  ``max_num_seqs`` prompts. A prompt longer than the budget runs alone.
- **A request with many prompts is split over several passes.**
- **Waiting requests are served fairly**: each pass takes prompts round-robin, one per
  request per turn, starting with the requests that have been served the fewest tokens (new
  ones first, oldest first among equals), except that the request passed over longest goes
  first of all. A one-word request arriving while requests of many long prompts run goes in
  the next pass, and a stream of small requests cannot starve a big one: it gets every other
  pass at worst.
- **Abandoned requests are dropped**: a request whose future was cancelled (its caller gave
  up, its HTTP client went away) is taken off the queue before the next pass is planned, and
  its remaining prompts never run.
- No batching window: a pass starts as soon as the previous one ends, with whatever is
  waiting, so a lone client pays no delay and batches grow by themselves under load.

One daemon thread runs the passes; ``submit`` works from any thread or event loop.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is not imported by the flags that read the defaults here
    import numpy as np

__all__ = ["DEFAULT_MAX_NUM_BATCHED_TOKENS", "DEFAULT_MAX_NUM_SEQS", "Scheduler", "SchedulerStats"]

log = logging.getLogger("ner_tui.scheduler")

#: Padded tokens per forward pass by default: one prompt of 512 tokens, or 25 sentences. On a
#: CPU a pass is as long as its tokens (and longer for long prompts: attention is quadratic),
#: and a request arriving meanwhile waits for it; with 2048 a one-sentence request waited
#: behind passes of four 512-token prompts (bench/results/soak.md). A longer prompt runs alone.
DEFAULT_MAX_NUM_BATCHED_TOKENS = 512
#: Prompts per forward pass by default.
DEFAULT_MAX_NUM_SEQS = 64

#: on_idle runs when the queue empties after at least this many padded tokens.
IDLE_AFTER_TOKENS = 4096

Forward = Callable[[list[list[int]]], "list[np.ndarray]"]


@dataclass(slots=True)
class SchedulerStats:
    """Counters (read by ``/metrics``; the names of the first four are the old batcher's)."""

    forward_batches: int = 0  # passes run
    batched_prompts: int = 0  # prompts run
    batched_requests: int = 0  # request slices run (a request split over 3 passes counts 3)
    largest_batch: int = 0  # most prompts in one pass
    largest_pass_tokens: int = 0  # most padded tokens (longest x rows) in one pass
    padded_tokens: int = 0  # padded tokens run, all passes
    requests_finished: int = 0
    requests_abandoned: int = 0  # dropped before all their prompts ran
    prompts_dropped: int = 0  # prompts of those that never ran
    busy_seconds: float = 0.0  # time spent in forward passes


@dataclass(eq=False)
class _Request:
    seq: int
    prompts: list[list[int]]
    future: Future[list[np.ndarray]]
    on_start: Callable[[float], None] | None
    arrived: float = field(default_factory=time.monotonic)
    rows: list[np.ndarray | None] = field(default_factory=list)
    next: int = 0  # next prompt to schedule
    done: int = 0  # prompts whose rows came back
    served_tokens: int = 0
    tokens: int = 0  # all its prompts together
    waiting_since: int = 0  # passes planned before it arrived or was last in a pass
    started: bool = False


class Scheduler:
    """Plans and runs forward passes over ``forward(prompts) -> rows`` (one row per prompt,
    in order) for every submitted request, one pass at a time in one thread.

    ``on_idle`` is called (in that thread) when the queue runs empty after a pass, e.g. to
    give memory back to the system after a burst."""

    def __init__(
        self,
        forward: Forward,
        *,
        max_num_batched_tokens: int = DEFAULT_MAX_NUM_BATCHED_TOKENS,
        max_num_seqs: int = DEFAULT_MAX_NUM_SEQS,
        on_idle: Callable[[], object] | None = None,
        batch_window_s: float = 0.0,
        name: str = "ner-tui-engine",
        nice: int = 0,
    ) -> None:
        self._forward = forward
        #: With > 0, a pass that is not full waits up to this long after its oldest new
        #: request arrived, for company (off by default: a pass starts at once).
        self.batch_window_s = max(0.0, batch_window_s)
        self.max_num_batched_tokens = max(1, int(max_num_batched_tokens))
        self.max_num_seqs = max(1, int(max_num_seqs))
        self.on_idle = on_idle
        self.stats = SchedulerStats()
        self._name = name
        #: > 0: the scheduler thread (which takes part in each pass) runs at lower priority.
        self.nice = nice
        self._requests: list[_Request] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._failure: BaseException | None = None
        self._running = 0
        self._seq = itertools.count()
        self._since_idle = 0  # padded tokens run since on_idle was last called
        self._passes = 0  # passes planned

    # ------------------------------------------------------------ state

    @property
    def alive(self) -> bool:
        """False once the scheduler thread has died (``/health`` then answers 503)."""
        return self._failure is None and not self._closed

    @property
    def waiting(self) -> int:
        """Requests none of whose prompts has been scheduled yet."""
        with self._cond:
            return sum(1 for r in self._requests if not r.started)

    @property
    def running(self) -> int:
        """Requests with at least one pass run or in progress, and prompts still to come."""
        with self._cond:
            return sum(1 for r in self._requests if r.started)

    # ------------------------------------------------------------ API

    def submit(
        self,
        prompts: Sequence[Sequence[int]],
        *,
        on_start: Callable[[float], None] | None = None,
    ) -> Future[list[np.ndarray]]:
        """Queue ``prompts`` (already checked); the future gets one row per prompt, in order.

        Cancel the future to abandon the request: its prompts not yet run are dropped.
        ``on_start(seconds_queued)`` is called (in the scheduler thread) when its first pass
        starts."""
        future: Future[list[np.ndarray]] = Future()
        if not prompts:
            future.set_result([])
            return future
        with self._cond:
            if self._closed:
                raise RuntimeError("the inference engine is closed")
            if self._failure is not None:
                raise RuntimeError("the inference engine died")
            ids = [list(p) for p in prompts]
            request = _Request(next(self._seq), ids, future, on_start)
            request.rows = [None] * len(ids)
            request.tokens = sum(len(p) for p in ids)
            request.waiting_since = self._passes
            self._requests.append(request)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify()
        return future

    def close(self) -> None:
        """Stop after the passes already planned; requests still queued are cancelled."""
        with self._cond:
            self._closed = True
            for request in self._requests:
                request.future.cancel()
            self._requests.clear()
            self._cond.notify_all()

    # ------------------------------------------------------------ planning

    def _drop_abandoned(self) -> None:
        kept = []
        for request in self._requests:
            if request.future.done():  # cancelled by its caller (or failed)
                if request.future.cancelled():
                    self.stats.requests_abandoned += 1
                    self.stats.prompts_dropped += len(request.prompts) - request.next
                continue
            kept.append(request)
        self._requests = kept

    def _plan(self) -> list[tuple[_Request, int]]:
        """The next pass: (request, prompt index) pairs, round-robin over the requests served
        least so far (then oldest), within the token budget (padding counted)
        and the row limit."""
        candidates = sorted(
            (r for r in self._requests if r.next < len(r.prompts)),
            key=lambda r: (r.served_tokens, r.seq),
        )
        # No starving: the request passed over longest (a pass was planned without it since
        # it arrived or was last served) goes first, so a stream of small requests cannot
        # keep a big one waiting; it takes every other pass at worst.
        skipped = [r for r in candidates if r.waiting_since < self._passes]
        if skipped:
            first = min(skipped, key=lambda r: (r.waiting_since, r.seq))
            candidates.remove(first)
            candidates.insert(0, first)
        chosen: list[tuple[_Request, int]] = []
        longest = 0
        budget, rows_max = self.max_num_batched_tokens, self.max_num_seqs
        cursor = {id(r): r.next for r in candidates}
        active = candidates
        while active and len(chosen) < rows_max:
            still = []
            for request in active:
                if len(chosen) >= rows_max:
                    break
                index = cursor[id(request)]
                n = len(request.prompts[index])
                cost = max(longest, n) * (len(chosen) + 1)
                if chosen and cost > budget:
                    continue  # does not fit this pass; others may
                chosen.append((request, index))
                longest = max(longest, n)
                cursor[id(request)] = index + 1
                if index + 1 < len(request.prompts):
                    still.append(request)
            active = still
        return chosen

    def _commit(self, plan: list[tuple[_Request, int]]) -> None:
        self._passes += 1
        for request, index in plan:
            request.next = max(request.next, index + 1)
            request.waiting_since = self._passes

    def _window_left(self, plan: list[tuple[_Request, int]]) -> float:
        """Seconds this pass should still wait for company (0: go now)."""
        if self.batch_window_s <= 0 or len(plan) >= self.max_num_seqs:
            return 0.0
        longest = max(len(r.prompts[i]) for r, i in plan)
        if longest * (len(plan) + 1) > self.max_num_batched_tokens:
            return 0.0  # full
        fresh = [r.arrived for r, _ in plan if not r.started]
        if not fresh:
            return 0.0
        return max(0.0, min(fresh) + self.batch_window_s - time.monotonic())

    # ------------------------------------------------------------ the thread

    def _loop(self) -> None:
        if self.nice > 0:
            from ner_tui.core.runners import lower_thread_priority

            lower_thread_priority(self.nice)
        try:
            while True:
                plan: list[tuple[_Request, int]] = []
                with self._cond:
                    while True:
                        self._drop_abandoned()
                        if self._closed:
                            return
                        plan = self._plan()
                        if plan:
                            wait = self._window_left(plan)
                            if wait <= 0:
                                break
                            self._cond.wait(wait)
                            continue
                        # Idle (the last request done or dropped): give memory back, but only
                        # after real work; a lone client's sentence is not worth a trim.
                        if self.on_idle is not None and self._since_idle >= IDLE_AFTER_TOKENS:
                            break
                        self._cond.wait()
                    if not plan:
                        self._since_idle = 0
                    else:
                        self._commit(plan)
                        self._running = len({id(r) for r, _ in plan})
                if not plan:
                    try:
                        self.on_idle()  # type: ignore[misc]  # not None: checked above
                    except Exception:  # pragma: no cover - a best effort
                        log.debug("on_idle failed", exc_info=True)
                    continue
                self._run(plan)
                with self._cond:
                    self._running = 0
        except BaseException as exc:  # pragma: no cover - defensive: fail callers, don't hang
            log.exception("the scheduler died")
            with self._cond:
                self._failure = exc
                for request in self._requests:
                    if not request.future.done():
                        request.future.set_exception(RuntimeError("the inference engine died"))
                self._requests.clear()

    def _run(self, plan: list[tuple[_Request, int]]) -> None:
        now = time.monotonic()
        for request in {id(r): r for r, _ in plan}.values():
            if not request.started:
                request.started = True
                if request.on_start is not None:
                    try:
                        request.on_start(now - request.arrived)
                    except Exception:  # pragma: no cover - a metrics hook must not kill us
                        log.debug("on_start failed", exc_info=True)
        prompts = [request.prompts[index] for request, index in plan]
        longest = max(len(p) for p in prompts)
        started = time.perf_counter()
        try:
            rows = self._forward(prompts)
        except Exception as exc:  # a bad pass fails its requests, not the scheduler
            with self._cond:
                for request in {id(r): r for r, _ in plan}.values():
                    if not request.future.done():
                        request.future.set_exception(exc)
            return
        finally:
            stats = self.stats
            stats.busy_seconds += time.perf_counter() - started
            stats.forward_batches += 1
            stats.batched_prompts += len(prompts)
            stats.batched_requests += len({id(r) for r, _ in plan})
            stats.largest_batch = max(stats.largest_batch, len(prompts))
            stats.padded_tokens += longest * len(prompts)
            self._since_idle += longest * len(prompts)
            stats.largest_pass_tokens = max(stats.largest_pass_tokens, longest * len(prompts))
        finished: list[_Request] = []
        with self._cond:
            for (request, index), row in zip(plan, rows, strict=True):
                request.rows[index] = row
                request.done += 1
                request.served_tokens += len(request.prompts[index])
                if request.done == len(request.prompts):
                    finished.append(request)
            for request in finished:
                if request in self._requests:  # not when close() emptied the queue
                    self._requests.remove(request)
                self.stats.requests_finished += 1
        for request in finished:
            if not request.future.done():
                with contextlib.suppress(Exception):  # cancelled meanwhile
                    request.future.set_result([r for r in request.rows if r is not None])
            request.rows = []
