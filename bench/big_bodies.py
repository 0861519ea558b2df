"""How long the event loop stalls while ``ner-tui serve`` takes in max-size bodies: parsed on
the loop (the threshold set past any body) or off it in steps (the default threshold).

In one process, the app of :func:`ner_tui.server.app.create_app` over the tiny test model
(what is measured is body handling, not the model) is sent ``--bodies`` max-size ``/pooling``
bodies (512 prompts of 512 token ids, 1.5 MB of JSON) one after another through httpx's ASGI
transport, naming an unknown model, so that each is parsed, validated and answered 404 with
no forward pass; meanwhile a coroutine wakes every millisecond and records how late it is.
The two settings take turns, ``--rounds`` each. Prints the loop's stalls (p50/p99/max) and the
time per body for both, and their ratio. ``--tokenize`` adds one 16 MB ``/tokenize`` text
(which returns every token, so cannot be cut short) per round to both."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import httpx
from soak import pct

import ner_tui.server.app as app_module
import ner_tui.server.bodies as bodies
from ner_tui.core.engine import LocalEngine

TINY = Path(__file__).parents[1] / "tests" / "fixtures" / "tiny-bert-ner"
BODY = json.dumps({"input": [[101] + [7592] * 510 + [102]] * 512, "model": "not-served"})


async def _run(app: object, n: int, tokenize: bool) -> tuple[list[float], float]:
    stalls: list[float] = []
    done = False

    async def ticker() -> None:
        while not done:
            start = time.perf_counter()
            await asyncio.sleep(0.001)
            stalls.append(time.perf_counter() - start - 0.001)

    tick = asyncio.create_task(ticker())
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    start = time.perf_counter()
    async with httpx.AsyncClient(transport=transport, base_url="http://x", timeout=600) as c:
        for _ in range(n):
            r = await c.post("/pooling", content=BODY, headers={"content-type": "application/json"})
            assert r.status_code == 404, r.text[:200]
        if tokenize:
            r = await c.post("/tokenize", json={"prompt": "Paris is nice. " * 1_100_000})
            assert r.status_code == 200, r.text[:200]
    per_body = (time.perf_counter() - start) / n
    done = True
    await tick
    return stalls, per_body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bodies", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokenize", action="store_true")
    args = parser.parse_args()
    engine = LocalEngine.load(TINY, threads=1)
    app = app_module.create_app(engine)
    default = bodies.OFF_LOOP_BODY_BYTES
    stalls: dict[str, list[float]] = {"off the loop": [], "on the loop": []}
    times: dict[str, list[float]] = {"off the loop": [], "on the loop": []}
    for _ in range(args.rounds):
        for name, threshold in (("off the loop", default), ("on the loop", 1 << 40)):
            bodies.OFF_LOOP_BODY_BYTES = app_module.OFF_LOOP_BODY_BYTES = threshold
            got, per_body = asyncio.run(_run(app, args.bodies, args.tokenize))
            stalls[name] += [1e3 * s for s in got]
            times[name].append(1e3 * per_body)
    for name, values in stalls.items():
        print(
            f"{name}: loop stalls p50 {pct(values, 0.5):.1f} ms, p99 {pct(values, 0.99):.1f} ms, "
            f"max {max(values):.1f} ms; {min(times[name]):.1f} ms per body (best round)"
        )
        print(f"  longest five: {', '.join(f'{v:.0f}' for v in sorted(values)[-5:])} ms")
    a, b = stalls["off the loop"], stalls["on the loop"]
    print(f"ratio off/on: p99 {pct(a, 0.99) / pct(b, 0.99):.2f}x, max {max(a) / max(b):.2f}x")


if __name__ == "__main__":
    main()
