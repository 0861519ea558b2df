"""The scheduler on its own: what goes in each pass, in what order, and what a failure or an
abandoned request does. The forward function records passes and can be held, so the queue
is built while a pass runs (no timing involved)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import CancelledError, Future

import numpy as np
import pytest

from ner_tui.core.scheduler import Scheduler

GUARD = 60.0  # hang guard only


class Recorder:
    """Scores a prompt as its own ids; records every pass; the first pass waits for
    ``release`` so that requests can queue behind it."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.passes: list[list[list[int]]] = []
        self.fail_on = fail_on
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, prompts: list[list[int]]) -> list[np.ndarray]:
        self.passes.append(prompts)
        self.entered.set()
        assert self.release.wait(GUARD)
        if self.fail_on is not None and any(self.fail_on in p for p in prompts):
            raise ValueError(f"cannot score {self.fail_on}")
        return [np.array(p, dtype=np.float32)[:, None] for p in prompts]


@pytest.fixture
def run() -> Iterator[Recorder]:
    recorder = Recorder()
    yield recorder
    recorder.release.set()


def _rows(future: Future[list[np.ndarray]]) -> list[list[int]]:
    return [r[:, 0].astype(int).tolist() for r in future.result(GUARD)]


def _hold(scheduler: Scheduler, run: Recorder) -> Future[list[np.ndarray]]:
    """Start a one-prompt pass and keep it running until run.release is set."""
    first = scheduler.submit([[0]])
    assert run.entered.wait(GUARD)
    return first


def test_requests_queued_during_a_pass_share_the_next_one(run: Recorder) -> None:
    scheduler = Scheduler(run, max_num_batched_tokens=1000, max_num_seqs=64)
    _hold(scheduler, run)
    jobs = [[[i, i + 1]] for i in range(1, 6)] + [[[7], [8, 9]]]
    futures = [scheduler.submit(j) for j in jobs]
    run.release.set()
    for job, future in zip(jobs, futures, strict=True):
        assert _rows(future) == job  # each request gets its own rows back, in order
    assert len(run.passes) == 2 and len(run.passes[1]) == 7
    scheduler.close()


def test_a_pass_never_exceeds_the_token_budget_counting_padding(run: Recorder) -> None:
    scheduler = Scheduler(run, max_num_batched_tokens=12, max_num_seqs=64)
    _hold(scheduler, run)
    big = scheduler.submit([[1] * 6] * 5)  # 6 tokens each: two per pass
    run.release.set()
    assert len(_rows(big)) == 5
    for prompts in run.passes[1:]:
        assert max(map(len, prompts)) * len(prompts) <= 12
    assert [len(p) for p in run.passes[1:]] == [2, 2, 1]
    assert scheduler.stats.largest_pass_tokens == 12
    scheduler.close()


def test_a_prompt_longer_than_the_budget_runs_alone(run: Recorder) -> None:
    scheduler = Scheduler(run, max_num_batched_tokens=4, max_num_seqs=64)
    run.release.set()
    assert _rows(scheduler.submit([[1] * 9])) == [[1] * 9]
    scheduler.close()


def test_max_num_seqs_bounds_a_pass(run: Recorder) -> None:
    scheduler = Scheduler(run, max_num_batched_tokens=1000, max_num_seqs=4)
    _hold(scheduler, run)
    futures = [scheduler.submit([[i]]) for i in range(1, 11)]
    run.release.set()
    for f in futures:
        f.result(GUARD)
    assert [len(p) for p in run.passes[1:]] == [4, 4, 2]
    assert [p[0] for batch in run.passes[1:] for p in batch] == list(range(1, 11))  # FIFO
    scheduler.close()


def test_a_small_request_goes_in_the_next_pass_while_big_ones_run() -> None:
    """Fair queuing: a request that arrives while big ones run is in the very next pass,
    and the big ones take turns."""
    scheduler: Scheduler
    passes: list[list[list[int]]] = []
    small: list[Future[list[np.ndarray]]] = []

    def forward(prompts: list[list[int]]) -> list[np.ndarray]:
        passes.append(prompts)
        if len(passes) == 1:  # arrives while the first pass runs
            small.append(scheduler.submit([[9]]))
        return [np.array(p, dtype=np.float32)[:, None] for p in prompts]

    scheduler = Scheduler(forward, max_num_batched_tokens=20, max_num_seqs=64)
    with scheduler._cond:  # all three queued before the first pass is planned
        bigs = [scheduler.submit([[k] * 10] * 6) for k in (1, 2, 3)]
    for f in bigs:
        f.result(GUARD)
    assert _rows(small[0]) == [[9]]
    assert [9] in passes[1]  # served in the first pass after it arrived
    for batch in passes:  # the big ones take turns: never two prompts of one in a pass
        owners = [p[0] for p in batch]
        assert len(set(owners)) == len(owners)
    scheduler.close()


def test_a_stream_of_small_requests_does_not_starve_a_big_one() -> None:
    """Small requests arriving during every pass (so the queue always holds fresh ones) still
    leave the big request its turns."""
    scheduler: Scheduler
    arrivals: list[Future[list[np.ndarray]]] = []

    def forward(prompts: list[list[int]]) -> list[np.ndarray]:
        if len(arrivals) < 400:
            arrivals.extend(scheduler.submit([[6] * 4]) for _ in range(2))
        return [np.array(p, dtype=np.float32)[:, None] for p in prompts]

    scheduler = Scheduler(forward, max_num_batched_tokens=10, max_num_seqs=64)
    big = scheduler.submit([[5] * 10] * 3)
    assert len(_rows(big)) == 3
    assert len(arrivals) < 400, "the big request waited until the small ones stopped coming"
    for f in arrivals:
        f.result(GUARD)
    scheduler.close()


def test_an_abandoned_request_is_dropped_with_its_remaining_passes(run: Recorder) -> None:
    scheduler = Scheduler(run, max_num_batched_tokens=10, max_num_seqs=64)
    _hold(scheduler, run)
    gone = scheduler.submit([[5] * 10] * 50)
    kept = scheduler.submit([[6]])
    assert gone.cancel()
    run.release.set()
    assert _rows(kept) == [[6]]
    with pytest.raises(CancelledError):
        gone.result(GUARD)
    assert all(p != [5] * 10 for batch in run.passes for p in batch)
    assert scheduler.stats.requests_abandoned == 1 and scheduler.stats.prompts_dropped == 50
    scheduler.close()


def test_a_failing_pass_fails_its_requests_not_the_scheduler() -> None:
    run = Recorder(fail_on=13)
    run.release.set()
    scheduler = Scheduler(run, max_num_batched_tokens=1000, max_num_seqs=64)
    with pytest.raises(ValueError, match="cannot score 13"):
        scheduler.submit([[13]]).result(GUARD)
    assert _rows(scheduler.submit([[2]])) == [[2]]
    assert scheduler.alive
    scheduler.close()
    assert not scheduler.alive
    with pytest.raises(RuntimeError, match="closed"):
        scheduler.submit([[1]])


def test_the_batch_window_waits_for_company_then_goes(run: Recorder) -> None:
    """With a window, requests submitted one after another (no pass running) share a pass."""
    run.release.set()
    scheduler = Scheduler(run, max_num_batched_tokens=1000, max_num_seqs=64, batch_window_s=5)
    futures = [scheduler.submit([[i]]) for i in range(1, 5)]
    scheduler.max_num_seqs = 4  # a full pass goes at once: no waiting out the window
    with scheduler._cond:
        scheduler._cond.notify()
    for f in futures:
        f.result(GUARD)
    assert [len(p) for p in run.passes] == [4]
    scheduler.close()


def test_on_start_reports_queue_time_once_and_on_idle_after_work(run: Recorder) -> None:
    idle = threading.Event()
    scheduler = Scheduler(run, max_num_batched_tokens=100, max_num_seqs=1, on_idle=idle.set)
    starts: list[float] = []
    _hold(scheduler, run)
    future = scheduler.submit([[1] * 50] * 100, on_start=starts.append)  # 5000 tokens
    run.release.set()
    future.result(GUARD)
    assert len(starts) == 1 and starts[0] >= 0
    assert idle.wait(GUARD)
    scheduler.close()
