"""``ner-tui serve`` under the hostile load of #13, against real server processes.

No timed assertions: counters from /metrics (passes run, prompts dropped, characters
tokenized) and ordering (the small request finishes while the big one is still running);
timeouts here are hang guards only."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from servers import serve_process

TINY = Path(__file__).parent / "fixtures" / "tiny-bert-ner"
NAME = str(TINY)
HANG_GUARD = 120.0  # seconds: only so that a broken server fails the test instead of hanging it
BUDGET = 64  # --max-num-batched-tokens of the server below
PROMPT = [2] + [10] * 60 + [3]  # 62 tokens: one prompt per pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serve_process(
        "--model",
        NAME,
        "--threads",
        "1",
        "--max-num-batched-tokens",
        str(BUDGET),
        "--header-read-timeout",
        "1",
        "--body-read-timeout",
        "1",
    ) as proc:
        yield proc.url


def metrics(url: str) -> dict[str, float]:
    """The server's /metrics as {name: value} (labels dropped; requests_total by status)."""
    text = httpx.get(f"{url}/metrics", timeout=30).text
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, value = line.rsplit(" ", 1)
        if name.startswith("ner_tui_requests_total"):
            status = name.split('status="', 1)[1].split('"', 1)[0]
            key = f"requests_total_{status}"
            out[key] = out.get(key, 0.0) + float(value)
            continue
        out[name.split("{", 1)[0].removeprefix("ner_tui_")] = float(value)
    return out


def wait_for(url: str, ok: object, what: str) -> dict[str, float]:
    deadline = time.monotonic() + HANG_GUARD
    while True:
        now = metrics(url)
        if ok(now):  # type: ignore[operator]
            return now
        if time.monotonic() > deadline:
            pytest.fail(f"never saw {what}; metrics: {now}")
        time.sleep(0.02)


async def small_finishes_while_big_runs(url: str, big: dict[str, object]) -> None:
    """Start ``big``; once a forward pass of it has run, send a one-word request and check that
    when it is answered the server still has ``big`` running (passes left). Before #13 a
    request was one pass (or one run of the engine): no pass of it finished before all had."""
    async with httpx.AsyncClient(base_url=url, timeout=HANG_GUARD) as client:
        before = await asyncio.to_thread(metrics, url)
        big_task = asyncio.create_task(client.post("/pooling", json=big))
        deadline = time.monotonic() + HANG_GUARD
        while True:
            now = await asyncio.to_thread(metrics, url)
            if now["forward_batches_total"] > before["forward_batches_total"]:
                break  # a pass of the big request has run
            assert time.monotonic() < deadline, "the big request never ran"
            await asyncio.sleep(0.005)
        assert not big_task.done(), "the big request was answered in one go"
        small = await client.post("/pooling", json={"input": "hi"})
        assert small.status_code == 200, small.text
        # The server says so itself: the big one still has passes to run.
        after = await asyncio.to_thread(metrics, url)
        response = await big_task
        assert response.status_code == 200, response.text
        assert after["vllm:num_requests_running"] >= 1, "the small request waited for the big one"


def test_a_one_word_request_overtakes_a_request_of_many_long_prompts(server: str) -> None:
    """#13.1: 512 prompts of 512 tokens held a one-word request for a minute."""
    asyncio.run(small_finishes_while_big_runs(server, {"input": [PROMPT] * 3000}))


def test_a_one_word_request_overtakes_10k_short_strings(server: str) -> None:
    """#13.1: 10,000 short strings in one request blocked everyone for 8.9 s."""
    big = {"input": [f"Paris and Berlin number {i}" for i in range(10_000)]}
    asyncio.run(small_finishes_while_big_runs(server, big))


def test_the_passes_of_a_big_request_stay_within_the_token_budget(server: str) -> None:
    """#13.1/#13.2: a request is split into passes of at most --max-num-batched-tokens padded
    tokens (memory follows the pass, not the request)."""
    before = metrics(server)
    n = 200
    response = httpx.post(f"{server}/pooling", json={"input": [PROMPT] * n}, timeout=HANG_GUARD)
    assert response.status_code == 200
    assert len(response.json()["data"]) == n
    after = metrics(server)
    assert 0 < after["largest_pass_tokens"] <= BUDGET
    assert after["forward_batches_total"] - before["forward_batches_total"] >= n


def test_abandoned_requests_are_dropped_not_computed(server: str) -> None:
    """#13.3: requests whose clients left were all computed; now they leave the queue and
    their remaining passes never run. A disconnect is not a 500."""
    n_requests, n_prompts = 4, 2000
    body = json.dumps({"input": [PROMPT] * n_prompts}).encode()
    host, port = server.removeprefix("http://").split(":")
    before = metrics(server)
    sockets = []
    for _ in range(n_requests):
        sock = socket.create_connection((host, int(port)), timeout=HANG_GUARD)
        sock.sendall(
            b"POST /pooling HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        sockets.append(sock)
    wait_for(
        server,
        lambda m: (
            m.get("vllm:num_requests_running", 0) + m.get("vllm:num_requests_waiting", 0)
            >= n_requests
        ),
        "the requests queued",
    )
    for sock in sockets:
        sock.close()
    after = wait_for(
        server,
        lambda m: (
            m["abandoned_requests_total"] - before.get("abandoned_requests_total", 0) >= n_requests
        ),
        "the requests abandoned",
    )
    run = after["batched_prompts_total"] - before["batched_prompts_total"]
    dropped = after["dropped_prompts_total"] - before["dropped_prompts_total"]
    assert dropped > 0 and run + dropped <= n_requests * n_prompts
    assert after.get("requests_total_500", 0) == before.get("requests_total_500", 0)


def _closed_by_server(sock: socket.socket) -> bool:
    """True once the server closes the connection (recv gives b'' or a reset)."""
    sock.settimeout(HANG_GUARD)
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_a_client_dripping_headers_is_disconnected(server: str) -> None:
    """#13.5: connections sending headers a byte at a time were never timed out."""
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(b"POST /pooling HTTP/1.1\r\nHost: x\r\n")  # ... and never the rest
        assert _closed_by_server(sock)
    with socket.create_connection((host, int(port))) as idle:  # connects, sends nothing
        assert _closed_by_server(idle)


def test_a_client_dripping_its_body_is_disconnected(server: str) -> None:
    """#13.5: a body that never finishes holds the connection only --body-read-timeout."""
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            b"POST /pooling HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"input": '
        )
        assert _closed_by_server(sock)
    # The server is fine afterwards.
    assert httpx.post(f"{server}/pooling", json={"input": "hi"}, timeout=HANG_GUARD).is_success


def test_a_huge_single_text_is_refused_without_tokenizing_all_of_it(server: str) -> None:
    """#13.6: a 16 MB text cost 24 s of tokenizing before its 400; now only a prefix past the
    window is tokenized, and the answer says "at least", as vLLM's does."""
    text = "Paris is nice. " * 1_000_000  # 15 MB
    before = metrics(server)
    response = httpx.post(f"{server}/pooling", json={"input": text}, timeout=HANG_GUARD)
    assert response.status_code == 400
    error = response.json()["error"]
    assert "maximum context length is 128 tokens" in error["message"]
    assert "at least" in error["message"] and error["param"] == "input_tokens"
    tokenized = metrics(server)["tokenized_chars_total"] - before["tokenized_chars_total"]
    assert 0 < tokenized < len(text) // 100
    # With truncation asked for, the same text is scored.
    cut = httpx.post(
        f"{server}/pooling",
        json={"input": "Paris is nice. " * 100, "truncate_prompt_tokens": -1},
        timeout=HANG_GUARD,
    )
    assert cut.status_code == 200 and len(cut.json()["data"][0]["data"]) == 128


def _off_loop(url: str) -> float:
    return metrics(url).get("bodies_parsed_off_loop_total", 0.0)


def test_a_big_body_is_parsed_off_the_loop_with_the_same_answer(server: str) -> None:
    """The /health stalls of the soak were a max-size body parsed on the event loop: bodies
    over the threshold are parsed in a thread, a chunk at a time (counted in /metrics), and
    the answer is the one the same prompts get in a small body."""
    prompts = [PROMPT, [2, 11, 12, 13, 3]]
    before = _off_loop(server)
    small = httpx.post(f"{server}/pooling", json={"input": prompts}, timeout=HANG_GUARD)
    assert small.status_code == 200
    assert _off_loop(server) == before  # small bodies stay on the loop
    pad = list(range(30_000))  # an unknown field, kept and ignored: the body is ~190 kB
    big = httpx.post(f"{server}/pooling", json={"input": prompts, "pad": pad}, timeout=HANG_GUARD)
    assert big.status_code == 200
    assert _off_loop(server) == before + 1
    assert [d["data"] for d in big.json()["data"]] == [d["data"] for d in small.json()["data"]]


@pytest.mark.parametrize(
    "faulty",
    [
        {"input": [[2, 3]], "encoding_format": "nope"},  # the request model's error
        {"input": [[2, 3]], "normalize": True},  # refused before the schema
        {"input": [[2, 3]], "model": "\ud800"},  # a lone surrogate
        {"input": [[2, 3]], "model": "no-such-model"},  # after the schema: a 404
        {"input": [[2, 3]], "truncate_prompt_tokens": -5, "task": 7},  # several errors
    ],
)
def test_a_big_body_gets_the_same_error_as_a_small_one(server: str, faulty: dict) -> None:
    """Validation errors and their envelope do not depend on where the body was parsed."""
    assert len(json.dumps(faulty)) < 1000
    before = _off_loop(server)
    body = json.dumps(faulty)
    small = httpx.post(
        f"{server}/pooling",
        content=body,
        headers={"content-type": "application/json"},
        timeout=HANG_GUARD,
    )
    # The same value, made big with whitespace (a padding field would show in the errors
    # that echo the whole body).
    padded = "{" + " \n" * 40_000 + body[1:]
    big = httpx.post(
        f"{server}/pooling",
        content=padded,
        headers={"content-type": "application/json"},
        timeout=HANG_GUARD,
    )
    assert small.status_code in (400, 404)
    assert (big.status_code, big.json()) == (small.status_code, small.json())
    assert _off_loop(server) == before + 1


def test_a_big_broken_body_gets_fastapis_json_error(server: str) -> None:
    """A JSON error at the end of a big body is the error json.loads gives, worded as FastAPI
    and vLLM word it inline."""
    from ner_tui.server.protocol import validation_error_message, validation_error_param

    broken = '{"input": [[2, 3]], "pad": ' + json.dumps(list(range(30_000)))[:-1] + ",]}"
    try:
        json.loads(broken)
    except json.JSONDecodeError as exc:
        error = {
            "type": "json_invalid",
            "loc": ("body", exc.pos),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": exc.msg},
        }
    big = httpx.post(
        f"{server}/pooling",
        content=broken,
        headers={"content-type": "application/json"},
        timeout=HANG_GUARD,
    )
    assert big.status_code == 400
    got = big.json()["error"]
    assert got["message"] == validation_error_message([error])
    assert got["param"] == validation_error_param([error])
