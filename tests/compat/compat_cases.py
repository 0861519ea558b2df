"""The requests the differential test sends to both servers, and how it compares the answers.

Each case is one HTTP request, sent unchanged to the real vLLM and to ``ner-tui serve`` on the
same weights. :func:`summarize` reduces an answer to what must agree: status, content kind, body
keys, the error's type, message and ``param``, row shapes, usage, and the score rows themselves
(compared with a tolerance, not exactly). ``MODEL`` in a body is replaced by the served name.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

MODEL = "<served model>"
JSON = {"content-type": "application/json"}
TEXT = "Barack Obama met Angela Merkel in Berlin on Tuesday, said the BBC."
OTHER = "Apple and Microsoft shares rose in New York."
IDS = [101, 1000, 2000, 3000, 4000, 102]
LONG = " ".join(["Marie Curie worked in Paris."] * 120)  # ~720 tokens, over max_model_len 512
DTYPES = {"float32": "<f4", "float16": "<f2"}
SCORE_TOLERANCE = 1e-4  # fp32 on both sides; measured differences are ~1e-5


@dataclass(frozen=True)
class Case:
    name: str
    method: str = "POST"
    path: str = "/pooling"
    body: Any = None  # JSON body (MODEL replaced); None sends no body
    raw: bytes | None = None  # a raw body instead of JSON
    headers: dict[str, str] = field(default_factory=dict)


def pooling(name: str, **body: Any) -> Case:
    return Case(name, body=body)


CASES: list[Case] = [
    # -- pooling: inputs
    pooling("text", model=MODEL, input=TEXT),
    pooling("text, no model", input=TEXT),
    pooling("text, task token_classify", input=TEXT, task="token_classify"),
    pooling("batch of texts", input=[TEXT, OTHER]),
    pooling("token ids", input=IDS),
    pooling("batch of token ids", input=[IDS, [*IDS[:3], 102]]),
    pooling("single-token ids", input=[101]),
    pooling("empty text", input=""),
    pooling("no special tokens", input=TEXT, add_special_tokens=False),
    pooling("logits (use_activation false)", input=TEXT, use_activation=False),
    pooling("use_activation true", input=TEXT, use_activation=True),
    pooling("unknown field ignored", input=TEXT, not_a_field=1),
    pooling("request_id, priority, user", input=TEXT, request_id="abc", priority=0, user="u"),
    pooling("padding do_not_pad", input=TEXT, padding="do_not_pad"),
    # -- pooling: encodings
    pooling("base64", input=TEXT, encoding_format="base64"),
    pooling("base64 float16", input=TEXT, encoding_format="base64", embed_dtype="float16"),
    pooling(
        "base64 float32 big-endian",
        input=TEXT,
        encoding_format="base64",
        endianness="big",
    ),
    pooling("bytes", input=[TEXT, OTHER], encoding_format="bytes"),
    pooling("bytes_only", input=TEXT, encoding_format="bytes_only"),
    # -- pooling: truncation
    pooling("truncate 5", input=TEXT, truncate_prompt_tokens=5),
    pooling("truncate 5 left", input=TEXT, truncate_prompt_tokens=5, truncation_side="left"),
    pooling(
        "truncate 5 left, token ids",
        input=[*IDS, 1010, 102],
        truncate_prompt_tokens=5,
        truncation_side="left",
    ),
    pooling("truncate -1 on a long text", input=LONG, truncate_prompt_tokens=-1),
    pooling("truncate 0", input=TEXT, truncate_prompt_tokens=0),
    pooling("truncate over max_model_len", input=TEXT, truncate_prompt_tokens=10_000),
    # -- pooling: errors
    pooling("unknown model", model="no-such-model", input=TEXT),
    pooling("empty input list", input=[]),
    pooling("dimensions", input=TEXT, dimensions=3),
    pooling("too long text", input=LONG),
    pooling("too long ids", input=[101] + [1000] * 600 + [102]),
    pooling("bad encoding_format", input=TEXT, encoding_format="xml"),
    pooling("bad embed_dtype", input=TEXT, encoding_format="base64", embed_dtype="int3"),
    pooling("bad endianness", input=TEXT, encoding_format="base64", endianness="middle"),
    pooling("bad padding", input=TEXT, padding="sideways"),
    pooling("task embed", input=TEXT, task="embed"),
    pooling("task classify", input=TEXT, task="classify"),
    pooling("task encode", input=TEXT, task="encode"),
    pooling("normalize", input=TEXT, normalize=True),
    pooling("normalize null", input=TEXT, normalize=None),
    pooling("task score", input=TEXT, task="score"),
    pooling("normalize before a bad input", input=5, normalize=True),
    pooling("missing input", model=MODEL),
    pooling("input is a number", input=5),
    pooling("truncate -2", input=TEXT, truncate_prompt_tokens=-2),
    Case("invalid JSON", raw=b'{"input": ', headers={"content-type": "application/json"}),
    Case("text/plain body", raw=TEXT.encode(), headers={"content-type": "text/plain"}),
    Case("no content type", raw=b'{"input": "x"}'),
    Case("empty body", raw=b"", headers=JSON),
    Case("body is a list", raw=b"[]", headers=JSON),
    pooling("priority 1.5", input=TEXT, priority=1.5),
    pooling("lax values", input=TEXT, truncate_prompt_tokens="5", use_activation="yes"),
    pooling("cache_salt empty", input=TEXT, cache_salt=""),
    pooling("cache_salt with a slash", input=TEXT, cache_salt="a/b"),
    pooling("mm_processor_kwargs not a dict", input=TEXT, mm_processor_kwargs=5),
    Case("lone surrogate in a key", raw=b'{"input": "x", "\\ud83d": 1}', headers=JSON),
    Case("lone surrogate in model", raw=b'{"model": "\\ud800", "input": "x"}', headers=JSON),
    Case(
        "lone surrogate in request_id", raw=b'{"input": "x", "request_id": "\\udfff"}', headers=JSON
    ),
    Case("/invocations", path="/invocations", body={"input": TEXT}),
    # -- tokenizer endpoints
    Case("tokenize", path="/tokenize", body={"prompt": TEXT}),
    Case("tokenize with strs", path="/tokenize", body={"prompt": TEXT, "return_token_strs": True}),
    Case(
        "tokenize, no specials",
        path="/tokenize",
        body={"prompt": TEXT, "add_special_tokens": False},
    ),
    Case("tokenize, unknown model", path="/tokenize", body={"model": "nope", "prompt": TEXT}),
    Case("detokenize", path="/detokenize", body={"tokens": IDS}),
    Case("detokenize negative id", path="/detokenize", body={"tokens": [-5]}),
    # -- discovery and the rest
    Case("models", method="GET", path="/v1/models"),
    Case("health", method="GET", path="/health"),
    Case("version", method="GET", path="/version"),
    Case("ping", method="GET", path="/ping"),
    Case("no such route", method="GET", path="/no-such-route"),
    Case("GET /pooling", method="GET", path="/pooling"),
]


def _substitute(value: Any, model: str) -> Any:
    if value == MODEL:
        return model
    if isinstance(value, dict):
        return {k: _substitute(v, model) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, model) for v in value]
    return value


def send(client: httpx.Client, base_url: str, case: Case, model: str) -> httpx.Response:
    url = f"{base_url}{case.path}"
    if case.raw is not None:
        return client.request(case.method, url, content=case.raw, headers=case.headers)
    if case.body is None:
        return client.request(case.method, url, headers=case.headers)
    body = _substitute(case.body, model)
    return client.request(case.method, url, json=body, headers=case.headers)


@dataclass
class Summary:
    """What must agree between the two servers, and the score rows to compare with tolerance."""

    facts: dict[str, Any]
    rows: list[np.ndarray] = field(default_factory=list)


def _rows_from_json(data: list[dict[str, Any]], body: dict[str, Any]) -> list[np.ndarray]:
    rows = []
    for item in data:
        value = item.get("data")
        if isinstance(value, str):  # base64: flat, in embed_dtype / endianness
            dtype = np.dtype(DTYPES.get(body.get("embed_dtype", "float32"), "<f4"))
            if body.get("endianness") == "big":
                dtype = dtype.newbyteorder(">")
            rows.append(np.frombuffer(base64.b64decode(value), dtype=dtype).astype(np.float32))
        else:
            rows.append(np.asarray(value, dtype=np.float32))
    return rows


_KIND = re.compile(r"'type': '(\w+)'|\[type=(\w+)")


def error_message_fact(error_type: object, message: str) -> str:
    """The error message as compared. A schema validation error (type "Bad Request") is reduced
    to pydantic's kind of its first error: vLLM validates against the union of all its request
    types, so its message lists one error per member (``body.messages`` missing, ...); ours names
    the one that applies. Both carry the kind, and ``param`` names the field."""
    if error_type == "Bad Request" and "validation error" in message:
        found = _KIND.search(message)
        if found:
            return f"validation error: {found.group(1) or found.group(2)}"
    return message


def summarize(case: Case, response: httpx.Response) -> Summary:
    facts: dict[str, Any] = {"status": response.status_code}
    content_type = response.headers.get("content-type", "")
    facts["content kind"] = content_type.split(";")[0].strip() or None
    body = case.body if isinstance(case.body, dict) else {}
    if response.status_code == 200 and "octet-stream" in content_type:
        metadata = response.headers.get("metadata")
        facts["metadata header"] = metadata is not None
        flat = np.frombuffer(response.content, dtype="<f4")
        rows = [flat]
        if metadata is not None:
            meta = json.loads(metadata)
            facts["metadata keys"] = sorted(meta)
            facts["metadata items"] = [
                {k: v for k, v in item.items() if k != "index"} for item in meta["data"]
            ]
            facts["usage"] = meta.get("usage")
            rows = [
                flat[item["start"] // 4 : item["end"] // 4].reshape(item["shape"])
                for item in meta["data"]
            ]
        return Summary(facts, rows)
    if not response.content:
        facts["body"] = ""
        return Summary(facts)
    try:
        doc = response.json()
    except ValueError:
        facts["body"] = response.text[:200]
        return Summary(facts)
    if not isinstance(doc, dict):
        facts["body"] = doc
        return Summary(facts)
    facts["keys"] = sorted(doc)
    if isinstance(doc.get("error"), dict):
        error = doc["error"]
        facts["error keys"] = sorted(error)
        for key in ("type", "message", "param", "code"):
            facts[f"error {key}"] = error.get(key)
        facts["error message"] = error_message_fact(error.get("type"), str(error.get("message")))
        return Summary(facts)
    if "detail" in doc:
        facts["detail"] = doc["detail"]
    if case.path in ("/pooling", "/invocations") and isinstance(doc.get("data"), list):
        facts["object"] = doc.get("object")
        facts["item keys"] = [sorted(item) for item in doc["data"]]
        facts["usage"] = doc.get("usage")
        facts["id prefix"] = str(doc.get("id", "")).split("-")[0]
        rows = _rows_from_json(doc["data"], body)
        facts["row shapes"] = [list(r.shape) for r in rows]
        return Summary(facts, rows)
    if case.path == "/v1/models":
        facts["object"] = doc.get("object")
        facts["model keys"] = [sorted(m) for m in doc.get("data", [])]
        facts["models"] = [
            {k: m.get(k) for k in ("id", "object", "root", "parent", "max_model_len", "owned_by")}
            for m in doc.get("data", [])
        ]
        return Summary(facts)
    if case.path == "/version":
        return Summary(facts)  # the versions themselves differ, by design
    facts["body"] = doc
    return Summary(facts)
