"""A few real counters for ``GET /metrics``, in Prometheus' text format (no client library)."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from ner_tui.server.batcher import BatchStats


@dataclass
class Metrics:
    started: float = field(default_factory=time.time)
    requests: Counter[tuple[str, int]] = field(default_factory=Counter)  # (path, status)
    prompts: int = 0
    prompt_tokens: int = 0
    in_flight: int = 0
    disconnects: int = 0  # requests whose client left before the answer

    def observe(self, path: str, status: int) -> None:
        self.requests[(path, status)] += 1

    def render(
        self,
        batch: BatchStats,
        waiting: int,
        model: str,
        *,
        running: int = 0,
        tokenized_chars: int = 0,
    ) -> str:
        label = model.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
        lines = [
            "# HELP ner_tui_requests_total HTTP requests answered, by path and status.",
            "# TYPE ner_tui_requests_total counter",
        ]
        for (path, status), n in sorted(self.requests.items()):
            lines.append(f'ner_tui_requests_total{{path="{path}",status="{status}"}} {n}')
        gauges = [
            ("prompts_total", "counter", "Prompts scored.", self.prompts),
            (
                "prompt_tokens_total",
                "counter",
                "Tokens scored, specials included.",
                self.prompt_tokens,
            ),
            (
                "forward_batches_total",
                "counter",
                "Forward passes submitted by the batcher.",
                batch.forward_batches,
            ),
            (
                "batched_requests_total",
                "counter",
                "Requests served by those passes.",
                batch.batched_requests,
            ),
            (
                "largest_batch_prompts",
                "gauge",
                "Most prompts in one batch so far.",
                batch.largest_batch,
            ),
            (
                "client_disconnects_total",
                "counter",
                "Requests whose client went away before the answer (not errors).",
                self.disconnects,
            ),
            (
                "largest_pass_tokens",
                "gauge",
                "Most padded tokens (longest prompt x prompts) in one forward pass so far.",
                batch.largest_pass_tokens,
            ),
            (
                "batched_prompts_total",
                "counter",
                "Prompts run in forward passes.",
                batch.batched_prompts,
            ),
            (
                "abandoned_requests_total",
                "counter",
                "Requests dropped from the scheduler because their client went away.",
                batch.requests_abandoned,
            ),
            (
                "dropped_prompts_total",
                "counter",
                "Prompts of abandoned requests that were never run.",
                batch.prompts_dropped,
            ),
            (
                "forward_seconds_total",
                "counter",
                "Seconds spent in forward passes.",
                round(batch.busy_seconds, 6),
            ),
            (
                "tokenized_chars_total",
                "counter",
                "Characters given to the tokenizer.",
                tokenized_chars,
            ),
            ("requests_waiting", "gauge", "Requests queued, none of their passes run.", waiting),
            (
                "requests_scheduled",
                "gauge",
                "Requests with passes run and more to come.",
                running,
            ),
            ("requests_running", "gauge", "Pooling requests in flight.", self.in_flight),
            (
                "uptime_seconds",
                "gauge",
                "Seconds since the server started.",
                round(time.time() - self.started, 3),
            ),
        ]
        for name, kind, help_text, value in gauges:
            lines += [
                f"# HELP ner_tui_{name} {help_text}",
                f"# TYPE ner_tui_{name} {kind}",
                f'ner_tui_{name}{{model_name="{label}"}} {value}',
            ]
        return "\n".join(lines) + "\n"
