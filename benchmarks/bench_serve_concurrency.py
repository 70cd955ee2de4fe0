"""32 concurrent streaming clients against `agentkit serve` on the default model.

Each request is first run alone (one by one), then all 32 at once. Every concurrent stream must end with
[DONE] and a finish_reason, and carry exactly the text its request produced alone (temperature 0): anything
else is a lost, truncated or crossed stream. Prints the queue wait p50/p99 measured by the server's scheduler
and the throughput of the concurrent batch against the same requests run one by one.

    .venv/bin/python benchmarks/bench_serve_concurrency.py [--clients 32] [--tokens 12]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _serve_common import ServerThread, Streamed, stream_chat

from agentkit.models import LlamaCppModel, default_model_path
from agentkit.serve import create_app

THREADS = int(os.environ.get("AGENTKIT_BENCH_THREADS", "1"))


def body(i: int, tokens: int) -> dict[str, object]:
    return {"model": "default", "messages": [{"role": "user", "content": f"Write the number {i} in words, then stop."}],
            "max_tokens": tokens, "temperature": 0, "seed": 0}


async def main(clients: int, tokens: int) -> None:
    model = LlamaCppModel(default_model_path(), n_ctx=2048, n_threads=THREADS, name="default")
    model.load()
    app = create_app(models={"default": model})
    server = ServerThread(app)
    hist = app.state.server.metrics.queue_wait
    url = server.url + "/v1/chat/completions"
    try:
        async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=clients + 4)) as client:
            t0 = time.perf_counter()
            alone: list[Streamed] = [await stream_chat(client, url, body(i, tokens)) for i in range(clients)]
            sequential = time.perf_counter() - t0
            before = hist.count(model="default")
            t0 = time.perf_counter()
            together = await asyncio.gather(*(stream_chat(client, url, body(i, tokens)) for i in range(clients)))
            concurrent = time.perf_counter() - t0
    finally:
        server.stop()
    waits = sorted(hist._observations[("default",)][before:])
    lost = sum(1 for s in together if not s.done)
    truncated = sum(1 for s in together if s.done and s.finish_reason is None)
    crossed = sum(1 for a, s in zip(alone, together, strict=True) if s.done and s.text != a.text)
    tokens_total = sum(s.deltas for s in together)

    def pct(q: float) -> float:
        return float(waits[min(len(waits) - 1, max(0, int(q * len(waits) + 0.5) - 1))])

    print(f"{clients} concurrent streaming clients, {tokens} max tokens each, {THREADS} llama.cpp thread(s)")
    print(f"lost streams: {lost}   truncated: {truncated}   crossed (text differs from the same request alone): {crossed}")
    print(f"queue wait p50: {pct(0.5) * 1000:8.0f} ms   p99: {pct(0.99) * 1000:8.0f} ms   ({len(waits)} requests)")
    print(f"one by one: {sequential:6.1f} s   all at once: {concurrent:6.1f} s   ({tokens_total} tokens)")
    print(f"throughput concurrent / one by one: {sequential / concurrent:5.2f}x "
          "(one llama.cpp context runs one request at a time; the gain is the model never idling between requests)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=12)
    args = parser.parse_args()
    asyncio.run(main(args.clients, args.tokens))
