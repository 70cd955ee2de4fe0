"""Loop overhead per step, with a model that costs nothing: what agentkit itself adds to each step.

Also prints what the loop adds per streamed text token (a model that streams 20,000 chunks).

Each step is one model request (a prebuilt tool call, streamed as two chunks), the policy gate, a trivial
tool, and the bookkeeping and typed events around them. Prints microseconds per step; the target is
<= 200 us. Baseline in the same process: the bare cost of iterating the same chunks and calling the same
tool directly, so the figure reported is agentkit's own share. Measured twice: with a sync tool (run in a
thread, as the loop runs sync tools) and with an async one (no thread hop, whose cost is noisy).

    .venv/bin/python benchmarks/bench_loop_overhead.py [--steps 200] [--repeats 9]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from agentkit import Agent, TextDelta, UsageLimits, tool
from agentkit.models import FinishChunk, ModelChunk, ModelRequest, TextChunk, ToolCallChunk, Usage


@tool(effect="read")
def bump(n: int) -> int:
    """Return n + 1."""
    return n + 1


class InstantModel:
    """Calls `bump` with a new argument each step, then answers; no time spent 'thinking'."""

    name = "instant"

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.calls = 0

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        self.calls += 1
        return self._chunks(self.calls)

    async def _chunks(self, index: int) -> AsyncIterator[ModelChunk]:
        if index <= self.steps:
            yield ToolCallChunk(index=0, id=f"c{index}", name="bump")
            yield ToolCallChunk(index=0, arguments=f'{{"n": {index}}}')
            yield FinishChunk(reason="tool_calls", usage=Usage(prompt_tokens=10, completion_tokens=5))
        else:
            yield TextChunk("done")
            yield FinishChunk(reason="stop", usage=Usage(prompt_tokens=10, completion_tokens=1))


@tool(effect="read", name="bump")
async def bump_async(n: int) -> int:
    """Return n + 1."""
    return n + 1


TOOLS = {"sync": bump, "async": bump_async}


async def agentkit_run(steps: int, kind: str = "sync") -> float:
    agent = Agent(InstantModel(steps), tools=[TOOLS[kind]],
                  limits=UsageLimits(max_steps=steps + 1, max_identical_calls=steps))
    t0 = time.perf_counter()
    result = await agent.run("go")
    elapsed = time.perf_counter() - t0
    assert result.usage.tool_calls == steps
    return elapsed


async def baseline_run(steps: int, kind: str = "sync") -> float:
    """The irreducible work: drain the same chunks and run the same tool (a sync one in a thread, as the loop does)."""
    model = InstantModel(steps)
    t0 = time.perf_counter()
    for i in range(steps + 1):
        async for _chunk in model.stream(ModelRequest(messages=[])):
            pass
        if i < steps:
            if kind == "sync":
                await asyncio.to_thread(bump.function, i)
            else:
                await bump_async.function(i)
    return time.perf_counter() - t0


TOKENS = 20_000


class TokenModel:
    """Streams TOKENS text chunks, then stops: what a long answer costs the loop per token."""

    name = "tokens"

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[ModelChunk]:
        for _ in range(TOKENS):
            yield TextChunk("tok ")
        yield FinishChunk(reason="stop", usage=Usage(prompt_tokens=1, completion_tokens=TOKENS))


async def agentkit_tokens() -> int:
    count = 0
    async for event in Agent(TokenModel()).run_stream("go"):
        count += isinstance(event, TextDelta)
    return count


async def drained_tokens() -> int:
    count = 0
    async for chunk in TokenModel().stream(ModelRequest(messages=[])):
        count += isinstance(chunk, TextChunk)
    return count


async def streamed_tokens(run: Callable[[], Awaitable[int]]) -> float:
    """Microseconds per streamed token."""
    t0 = time.perf_counter()
    count = await run()
    assert count == TOKENS
    return (time.perf_counter() - t0) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    asyncio.run(agentkit_run(10))  # warm up imports and caches
    ours: dict[str, list[float]] = {kind: [] for kind in TOOLS}
    base: dict[str, list[float]] = {kind: [] for kind in TOOLS}
    for _ in range(args.repeats):  # interleaved, so that a busy moment of the machine hits both sides
        for kind in TOOLS:
            ours[kind].append(asyncio.run(agentkit_run(args.steps, kind)))
            base[kind].append(asyncio.run(baseline_run(args.steps, kind)))
    print(f"steps per run: {args.steps} tool calls + 1 answer; {args.repeats} interleaved runs per row; medians")
    print(f"{'tool':<7}{'agentkit us/step':>18}{'baseline us/step':>18}{'overhead us/step':>18}{'ratio':>8}")
    for kind in TOOLS:
        per_step = statistics.median(ours[kind]) / (args.steps + 1) * 1e6
        base_step = statistics.median(base[kind]) / (args.steps + 1) * 1e6
        print(f"{kind:<7}{per_step:>18.1f}{base_step:>18.1f}{per_step - base_step:>18.1f}{per_step / base_step:>7.2f}x")
    print("target: overhead <= 200 us per step. The async row is agentkit's own work; the sync row adds a thread")
    print("hop per call on both sides, whose cost varies by 100+ us between runs on a busy machine.")
    ours_tok = statistics.median(asyncio.run(streamed_tokens(agentkit_tokens)) for _ in range(args.repeats))
    base_tok = statistics.median(asyncio.run(streamed_tokens(drained_tokens)) for _ in range(args.repeats))
    print(f"streamed text: {ours_tok:.1f} us per token through the loop (typed TextDelta events), "
          f"{base_tok:.1f} us draining the same chunks directly; overhead {ours_tok - base_tok:.1f} us per token")


if __name__ == "__main__":
    main()
