"""The HTTP API of ``ner-tui serve`` as a whole: its OpenAPI schema, a schemathesis run
against it, its Prometheus metrics, and clients that leave (issue #13).

Every test talks to a real ``ner-tui serve`` process on loopback over the tiny fixture model,
except the two that check the metrics object itself (several apps in one process; what the
scheduler reports through the server contract).
"""

from __future__ import annotations

import codecs
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from servers import SERVE_COMMAND, serve_process

TINY = Path(__file__).parent / "fixtures" / "tiny-bert-ner"
NAME = str(TINY)
KEY = "api-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
ROUTES = {
    "/pooling": {"post"},
    "/invocations": {"post"},
    "/tokenize": {"post"},
    "/detokenize": {"post"},
    "/v1/models": {"get"},
    "/health": {"get"},
    "/ping": {"get", "post"},
    "/version": {"get"},
    "/metrics": {"get"},
    "/load": {"get"},
}


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    with serve_process("--model", NAME, "--threads", "1", command=SERVE_COMMAND) as proc:
        yield proc.url


@pytest.fixture(scope="module")
def server(served: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def held() -> Iterator[httpx.Client]:
    """A server with a key whose batcher holds each request 1.5 s for company: a request is
    still queued when its client leaves."""
    flags = ("--batch-window-ms", "1500", "--batch-wait", "always", "--api-key", KEY)
    with (
        serve_process("--model", NAME, "--threads", "1", *flags, command=SERVE_COMMAND) as proc,
        httpx.Client(base_url=proc.url, timeout=30, headers=AUTH) as client,
    ):
        yield client


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _with(labels: tuple[tuple[str, str], ...], **more: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({**dict(labels), **more}.items()))


def _sample(client: httpx.Client, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    return sum(
        value
        for (sample, have), value in _samples(client.get("/metrics").text).items()
        if sample == name and set(labels.items()) <= set(have)
    )


# ------------------------------------------------------------------ the schema


def test_openapi_describes_every_route_and_is_valid(server: httpx.Client) -> None:
    from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

    doc = server.get("/openapi.json").json()
    OPENAPI_31_VALIDATOR.validate(doc)  # the official 3.1 meta-schema, as schemathesis ships it
    assert {p: set(ops) for p, ops in doc["paths"].items()} == ROUTES
    operation_ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))
    schemas = doc["components"]["schemas"]
    pooling = doc["paths"]["/pooling"]["post"]
    body = pooling["requestBody"]["content"]["application/json"]["schema"]
    assert [x["$ref"].rsplit("/", 1)[1] for x in body["anyOf"]] == [
        "PoolingCompletionRequest",
        "PoolingChatRequest",
    ]
    fields = schemas["PoolingCompletionRequest"]["properties"]
    assert fields["encoding_format"]["enum"] == ["float", "base64", "bytes", "bytes_only"]
    assert schemas["PoolingCompletionRequest"]["required"] == ["input"]
    assert set(pooling["responses"]["200"]["content"]) == {
        "application/json",
        "application/octet-stream",
    }
    for path in ("/pooling", "/invocations", "/tokenize", "/detokenize"):
        responses = doc["paths"][path]["post"]["responses"]
        # What the server answers for a bad body: 400 in vLLM's envelope, never FastAPI's 422.
        assert responses["400"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorResponse"
        }
        assert "422" not in responses
    refs = _refs(doc)
    assert refs and all(ref.rsplit("/", 1)[1] in schemas for ref in refs)
    assert "security" not in pooling  # no key on this server


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [value["$ref"]] if "$ref" in value else [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []


def test_docs_page_and_schema_need_no_key(held: httpx.Client) -> None:
    """A browser opens /docs without a key; the schema says which routes need one."""
    bare = httpx.Client(base_url=held.base_url, timeout=30)
    with bare:
        docs = bare.get("/docs")
        assert docs.status_code == 200 and "/openapi.json" in docs.text
        doc = bare.get("/openapi.json").json()
        assert bare.post("/pooling", json={"input": "x"}).status_code == 401
    assert doc["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    assert doc["paths"]["/pooling"]["post"]["security"] == [{"bearer": []}]


def test_schemathesis_finds_no_server_error_and_answers_match_the_schema(
    served: str, tmp_path: Path
) -> None:
    """Fuzz every operation from /openapi.json (valid and invalid bodies): no 5xx, every
    status, content type, header and body as the schema documents them. Bounded: 25 examples
    per operation and 40 s in all (``--max-time``)."""
    checks = ",".join(
        [
            "not_a_server_error",
            "status_code_conformance",
            "content_type_conformance",
            "response_schema_conformance",
            "response_headers_conformance",
        ]
    )
    command = [
        *(sys.executable, "-m", "schemathesis.cli", "run", f"{served}/openapi.json"),
        *("--checks", checks, "--max-examples", "25", "--max-time", "40", "--seed", "13"),
        *("--request-timeout", "20", "--generation-database", "none", "--no-color"),
        *("--warnings", "off"),
    ]
    # In a scratch directory: schemathesis keeps its state in ./.schemathesis
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=180, check=False, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (b'{"input": ["ok", "a\xed\xa0\x80b"]}', "body.input.1"),  # a surrogate's UTF-8 bytes
        (
            codecs.BOM_UTF16_LE
            + '{"input": "x", "model": "\ud800"}'.encode("utf-16-le", "surrogatepass"),
            "body.model",
        ),
    ],
)
def test_lone_surrogates_without_an_escape_are_400s_too(
    server: httpx.Client, raw: bytes, where: str
) -> None:
    """Python's JSON decoder reads bytes with ``surrogatepass`` (and UTF-16 bodies), so a lone
    surrogate also arrives without a ``\\ud800`` escape; the fast path must not miss it."""
    response = server.post("/pooling", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    err = response.json()["error"]
    assert (err["type"], err["param"]) == ("Bad Request", where)
    assert "'type': 'string_unicode'" in err["message"]


# ------------------------------------------------------------------ metrics


def test_metrics_have_vllms_names_types_and_labels(server: httpx.Client) -> None:
    assert server.post("/pooling", json={"input": ["Hi there", "Paris"]}).status_code == 200
    assert server.post("/pooling", json={"input": 5}).status_code == 400
    response = server.get("/metrics")
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    expected = {
        "vllm:e2e_request_latency_seconds": "histogram",
        "vllm:request_queue_time_seconds": "histogram",
        "vllm:num_requests_running": "gauge",
        "vllm:num_requests_waiting": "gauge",
        "vllm:request_success": "counter",
        "vllm:prompt_tokens": "counter",
        "vllm:request_prompt_tokens": "histogram",
        "ner_tui_requests": "counter",
        "ner_tui_client_disconnects": "counter",
        "ner_tui_forward_batches": "counter",
        "process_resident_memory_bytes": "gauge",
    }
    assert {name: families[name].type for name in expected} == expected
    engine = (("engine", "0"), ("model_name", NAME))
    samples = _samples(response.text)
    assert samples[("vllm:num_requests_running", engine)] == 0
    assert samples[("vllm:num_requests_waiting", engine)] == 0
    ok = (("engine", "0"), ("finished_reason", "stop"), ("model_name", NAME))
    assert samples[("vllm:request_success_total", ok)] >= 1
    e2e = samples[("vllm:e2e_request_latency_seconds_count", engine)]
    assert e2e == samples[("vllm:request_success_total", ok)]  # a 400 finishes nothing
    assert samples[("vllm:e2e_request_latency_seconds_bucket", _with(engine, le="+Inf"))] == e2e
    assert samples[("vllm:prompt_tokens_total", engine)] >= 5  # two prompts with specials
    assert samples[("ner_tui_requests_total", (("path", "/pooling"), ("status", "400")))] >= 1


def test_two_servers_in_one_process_keep_their_own_metrics() -> None:
    """Each app has its own registry: a second app in the process neither fails to register
    vLLM's names (as it would in prometheus_client's global registry) nor shows the first
    one's series."""
    from ner_tui.core.engine import LocalEngine
    from ner_tui.server.app import create_app
    from ner_tui.server.metrics import Metrics

    engine = LocalEngine.load(TINY, threads=1)
    create_app(engine, served_model_name="first")
    create_app(engine, served_model_name="second")
    one, two = Metrics("one", SimpleNamespace()), Metrics("two", SimpleNamespace())
    one.finished(0.02)
    assert 'model_name="two"' not in one.render().decode()
    samples = _samples(two.render().decode())
    two_labels = (("engine", "0"), ("model_name", "two"))
    assert samples[("vllm:e2e_request_latency_seconds_count", two_labels)] == 0


def test_queue_time_and_gauges_are_what_the_scheduler_reports() -> None:
    """The server contract: the scheduler calls ``on_queue_time(seconds)`` once per request and
    exposes ``running``/``waiting``; /metrics shows them under vLLM's names."""
    from ner_tui.server.metrics import Metrics

    scheduler = SimpleNamespace(waiting=3, running=2, stats=SimpleNamespace(forward_batches=7))
    metrics = Metrics("m", scheduler)
    for seconds in (0.004, 0.25):
        metrics.queue_time(seconds)
    samples = _samples(metrics.render().decode())
    labels = (("engine", "0"), ("model_name", "m"))
    assert samples[("vllm:request_queue_time_seconds_count", labels)] == 2
    assert samples[("vllm:request_queue_time_seconds_sum", labels)] == pytest.approx(0.254)
    assert samples[("vllm:request_queue_time_seconds_bucket", _with(labels, le="0.005"))] == 1
    assert samples[("vllm:num_requests_running", labels)] == 2
    assert samples[("vllm:num_requests_waiting", labels)] == 3
    assert samples[("ner_tui_forward_batches_total", (("model_name", "m"),))] == 7


# ------------------------------------------------------------------ clients that leave


def test_a_client_that_leaves_while_queued_is_a_disconnect_and_its_work_is_not_done(
    held: httpx.Client,
) -> None:
    """Issue #13: abandoned requests were all computed, and each disconnect was an ERROR
    counted as a 500. Now the request is withdrawn from the queue when its client leaves:
    the next pass serves only the request still waiting for it."""
    host, port = held.base_url.host, held.base_url.port
    assert port is not None
    served_before = _sample(held, "ner_tui_batched_requests_total")
    gone_before = _sample(held, "ner_tui_client_disconnects_total", path="/pooling")
    body = b'{"input": "Barack Obama met Angela Merkel in Berlin."}'
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(
            b"POST /pooling HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {KEY}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        _wait_for(lambda: held.get("/load").json()["server_load"] == 1)  # held in the queue
    _wait_for(
        lambda: (
            _sample(held, "ner_tui_client_disconnects_total", path="/pooling") == gone_before + 1
        )
    )
    assert held.get("/load").json()["server_load"] == 0
    live = held.post("/pooling", json={"input": "Paris"})
    assert live.status_code == 200
    assert _sample(held, "ner_tui_batched_requests_total") == served_before + 1  # not 2
    assert _sample(held, "vllm:request_success_total", finished_reason="abort") == 1
    assert _sample(held, "ner_tui_requests_total", status="500") == 0
    assert _sample(held, "ner_tui_requests_total", status="499") == 0


def _wait_for(condition: Any, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("the server did not get there in time")
        time.sleep(0.05)
