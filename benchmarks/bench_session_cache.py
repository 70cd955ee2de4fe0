"""Session KV reuse: time to first token of turn 2 vs turn 1 when another conversation ran in between.

llama.cpp keeps only the last prompt's KV, so on a shared server conversation A's turn 2 finds B's prefix
in the cache and prefills its ~1,000-token prefix again. The KV state cache (`kv_cache_bytes`) restores A's
saved state instead. Three models runs in one process: A1, B1, A2 with the cache, then the same without it.

    .venv/bin/python benchmarks/bench_session_cache.py      (AGENTKIT_BENCH_THREADS=2 on an idle machine)

Prints the times measured in this run and their ratios; target: turn 2 >= 5x faster than turn 1.
"""

from __future__ import annotations

import asyncio
import os
import time

from agentkit import AssistantMessage, DecodingSettings, Message, SystemMessage, UserMessage
from agentkit.models import (
    FinishChunk,
    LlamaCppModel,
    ModelRequest,
    TextChunk,
    default_model_path,
    unload_all,
)

SETTINGS = DecodingSettings(temperature=0.0, max_tokens=12, seed=0)
THREADS = int(os.environ.get("AGENTKIT_BENCH_THREADS", "1"))
"""One thread by default: on a machine shared with other jobs, llama.cpp's spinning threads collapse."""


def prefix(label: str, model: LlamaCppModel, target: int = 1000) -> str:
    lines: list[str] = [f"You are support assistant {label}. Follow the rules below."]
    i = 0
    while model.count_tokens("\n".join(lines)) < target:
        i += 1
        lines.append(f"Rule {label}{i}: when a customer asks about order {label}-{i}, answer that it ships on day {i}.")
    return "\n".join(lines)


async def turn(model: LlamaCppModel, messages: list[Message]) -> tuple[float, FinishChunk, str]:
    t0 = time.perf_counter()
    first: float | None = None
    out: list[str] = []
    finish: FinishChunk | None = None
    async for chunk in model.stream(ModelRequest(messages=messages, settings=SETTINGS)):
        if isinstance(chunk, TextChunk):
            first = first or time.perf_counter()
            out.append(chunk.text)
        elif isinstance(chunk, FinishChunk):
            finish = chunk
    assert finish is not None
    return (first or time.perf_counter()) - t0, finish, "".join(out)


async def conversation(cache_bytes: int) -> tuple[float, float, int, str]:
    unload_all()
    model = LlamaCppModel(default_model_path(), n_ctx=4096, n_threads=THREADS, kv_cache_bytes=cache_bytes)
    a: list[Message] = [SystemMessage(content=prefix("A", model)), UserMessage(content="When does order A-3 ship?")]
    b: list[Message] = [SystemMessage(content=prefix("B", model)), UserMessage(content="When does order B-5 ship?")]
    ttft1, _, answer1 = await turn(model, a)
    await turn(model, b)  # another conversation takes the model in between
    a2: list[Message] = [*a, AssistantMessage(content=answer1), UserMessage(content="And order A-7?")]
    ttft2, finish2, answer2 = await turn(model, a2)
    return ttft1, ttft2, finish2.usage.cached_prompt_tokens, answer2


async def main() -> None:
    ttft1, ttft2, cached, with_cache = await conversation(128 * 1024 * 1024)
    _, cold2, cold_cached, without_cache = await conversation(0)
    print(f"turn 1 TTFT (cold, ~1,000-token prefix):      {ttft1 * 1000:8.0f} ms")
    print(f"turn 2 TTFT after another conversation, cache: {ttft2 * 1000:8.0f} ms  ({cached} prompt tokens reused)")
    print(f"turn 2 TTFT after another conversation, none:  {cold2 * 1000:8.0f} ms  ({cold_cached} prompt tokens reused)")
    print(f"ratio turn 1 / turn 2 with the session cache: {ttft1 / ttft2:6.1f}x (target >= 5x)")
    print(f"ratio no cache / cache for the same turn 2:   {cold2 / ttft2:6.1f}x")
    print(f"same answer with and without the cache: {with_cache == without_cache}")


if __name__ == "__main__":
    asyncio.run(main())
