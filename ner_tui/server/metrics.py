"""``GET /metrics``: Prometheus metrics through prometheus_client, named like vLLM's.

A dashboard built for vLLM reads the ``vllm:*`` series (same names, types and ``model_name``
/ ``engine`` labels as vLLM 0.32's ``vllm/v1/metrics/loggers.py``): end-to-end latency and
queue time histograms, running/waiting gauges, finished requests by reason, prompt tokens.
The ``ner_tui_*`` series say what vLLM has no name for: answers by path and status, client
disconnects, the scheduler's passes. Each app has its own :class:`CollectorRegistry`, so
several servers in one process (tests) never share or collide.

A request whose client went away is counted as a disconnect (and ``finished_reason="abort"``),
never as an error status.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# vLLM's request-latency buckets (0.3 s .. 7680 s) with finer ones below for a token
# classifier, whose requests take milliseconds: a dashboard's histogram_quantile reads both.
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2,
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0,
    120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0,
)  # fmt: skip
ENGINE = "0"  # vLLM labels each series with its engine index; this server has one engine


def _token_buckets(max_model_len: int | None) -> list[float]:
    """vLLM's 1-2-5 buckets up to the model's window (``build_1_2_5_buckets``)."""
    top = max_model_len or 512
    buckets: list[float] = []
    scale = 1
    while True:
        for mantissa in (1, 2, 5):
            value = mantissa * scale
            if value > top:
                return buckets
            buckets.append(float(value))
        scale *= 10


class Metrics:
    """The server's metrics. The HTTP layer calls :meth:`answered`, :meth:`disconnected`,
    :meth:`finished`; the scheduler reports queue time through :meth:`queue_time`; the
    running/waiting gauges and pass counters are read from ``scheduler`` when scraped."""

    def __init__(
        self, model_name: str, scheduler: Any, *, max_model_len: int | None = None
    ) -> None:
        self.started = time.time()
        self.in_flight = 0  # pooling requests being handled (vLLM's /load)
        self.registry = CollectorRegistry(auto_describe=True)
        labels = {"model_name": model_name, "engine": ENGINE}
        names = list(labels)
        reg = self.registry
        self._e2e = Histogram(
            "vllm:e2e_request_latency_seconds",
            "Histogram of e2e request latency in seconds.",
            names,
            buckets=LATENCY_BUCKETS,
            registry=reg,
        ).labels(**labels)
        self._queue = Histogram(
            "vllm:request_queue_time_seconds",
            "Histogram of time spent in WAITING phase for request.",
            names,
            buckets=LATENCY_BUCKETS,
            registry=reg,
        ).labels(**labels)
        self._prompt_tokens_hist = Histogram(
            "vllm:request_prompt_tokens",
            "Number of prefill tokens processed.",
            names,
            buckets=_token_buckets(max_model_len),
            registry=reg,
        ).labels(**labels)
        self._prompt_tokens = Counter(
            "vllm:prompt_tokens", "Number of prefill tokens processed.", names, registry=reg
        ).labels(**labels)
        success = Counter(
            "vllm:request_success",
            "Count of successfully processed requests.",
            [*names, "finished_reason"],
            registry=reg,
        )
        self._finished_stop = success.labels(**labels, finished_reason="stop")
        self._finished_abort = success.labels(**labels, finished_reason="abort")
        self._prompts = Counter(
            "ner_tui_prompts", "Prompts scored.", ["model_name"], registry=reg
        ).labels(model_name=model_name)
        self._answers = Counter(
            "ner_tui_requests",
            "HTTP requests answered, by path and status (client disconnects not included).",
            ["path", "status"],
            registry=reg,
        )
        self._disconnects = Counter(
            "ner_tui_client_disconnects",
            "Requests whose client went away before the answer (not errors).",
            ["model_name", "path"],
            registry=reg,
        )
        self._off_loop = Counter(
            "ner_tui_bodies_parsed_off_loop",
            "Request bodies over the size threshold, parsed in a thread a chunk at a time.",
            ["path"],
            registry=reg,
        )
        self._model_name = model_name
        for path in ("/pooling", "/invocations"):  # at 0 from the start, so rate() has a base
            self._disconnects.labels(model_name=model_name, path=path)
        reg.register(_SchedulerCollector(model_name, scheduler, self))
        ProcessCollector(registry=reg)  # process_resident_memory_bytes & co, as vLLM shows

    # ---------------------------------------------------------------- what happened

    def answered(self, path: str, status: int) -> None:
        self._answers.labels(path=path, status=str(status)).inc()

    def disconnected(self, path: str) -> None:
        self._disconnects.labels(model_name=self._model_name, path=path).inc()
        if path in ("/pooling", "/invocations"):
            self._finished_abort.inc()

    def parsed_off_loop(self, path: str) -> None:
        """A big body was parsed off the event loop (:mod:`ner_tui.server.bodies`)."""
        self._off_loop.labels(path=path).inc()

    def scored(self, prompts: int, tokens: int) -> None:
        """A pooling request's prompts were scored."""
        self._prompts.inc(prompts)
        self._prompt_tokens.inc(tokens)
        self._prompt_tokens_hist.observe(tokens)

    def finished(self, seconds: float) -> None:
        """A pooling request answered 200, ``seconds`` after it arrived."""
        self._e2e.observe(seconds)
        self._finished_stop.inc()

    def queue_time(self, seconds: float) -> None:
        """The scheduler's report: a request waited ``seconds`` before its first pass."""
        self._queue.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _SchedulerCollector(Collector):
    """Gauges and counters read from the scheduler at scrape time."""

    def __init__(self, model_name: str, scheduler: Any, metrics: Metrics) -> None:
        self.model_name = model_name
        self.scheduler = scheduler
        self.metrics = metrics

    def describe(self) -> Iterable[Metric]:
        return []  # collected fresh on every scrape; nothing to check up front

    def collect(self) -> Iterable[Metric]:
        labels = [self.model_name, ENGINE]
        sched = self.scheduler
        waiting = int(getattr(sched, "waiting", 0))
        # Requests with passes run (or running) and more to come, as vLLM's running queue.
        running = getattr(sched, "running", None)
        if running is None:
            running = max(self.metrics.in_flight - waiting, 0)
        yield _gauge(
            "vllm:num_requests_running",
            "Number of requests in model execution batches.",
            ["model_name", "engine"],
            labels,
            int(running),
        )
        yield _gauge(
            "vllm:num_requests_waiting",
            "Number of requests waiting to be processed.",
            ["model_name", "engine"],
            labels,
            waiting,
        )
        stats = getattr(sched, "stats", None)
        for attr, name, help_text in (
            ("forward_batches", "ner_tui_forward_batches", "Forward passes run."),
            (
                "batched_requests",
                "ner_tui_batched_requests",
                "Request slices served by passes (a request split over 3 passes counts 3).",
            ),
            ("batched_prompts", "ner_tui_batched_prompts", "Prompts run in forward passes."),
            (
                "requests_abandoned",
                "ner_tui_abandoned_requests",
                "Requests dropped from the scheduler because their client went away.",
            ),
            (
                "prompts_dropped",
                "ner_tui_dropped_prompts",
                "Prompts of abandoned requests that were never run.",
            ),
            ("busy_seconds", "ner_tui_forward_seconds", "Seconds spent in forward passes."),
        ):
            counter = CounterMetricFamily(name, help_text, labels=["model_name"])
            counter.add_metric([self.model_name], float(getattr(stats, attr, 0)))
            yield counter
        counter = CounterMetricFamily(
            "ner_tui_tokenized_chars",
            "Characters given to the tokenizer.",
            labels=["model_name"],
        )
        counter.add_metric([self.model_name], float(getattr(sched, "tokenized_chars", 0)))
        yield counter
        yield _gauge(
            "ner_tui_largest_batch_prompts",
            "Most prompts in one pass so far.",
            ["model_name"],
            [self.model_name],
            float(getattr(stats, "largest_batch", 0)),
        )
        yield _gauge(
            "ner_tui_largest_pass_tokens",
            "Most padded tokens (longest prompt x prompts) in one forward pass so far.",
            ["model_name"],
            [self.model_name],
            float(getattr(stats, "largest_pass_tokens", 0)),
        )
        yield _gauge(
            "ner_tui_uptime_seconds",
            "Seconds since the server started.",
            ["model_name"],
            [self.model_name],
            round(time.time() - self.metrics.started, 3),
        )


def _gauge(
    name: str, help_text: str, label_names: list[str], labels: list[str], value: float
) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, help_text, labels=label_names)
    gauge.add_metric(labels, value)
    return gauge
