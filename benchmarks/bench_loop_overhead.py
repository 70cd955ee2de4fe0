"""Loop overhead per step, with a model that costs nothing: what agentkit itself adds to each step.

Each step is one model request (a prebuilt tool call, streamed as two chunks), the policy gate, a trivial
tool, and the bookkeeping and typed events around them. Prints microseconds per step; the target is
<= 200 us. Baseline in the same process: the bare cost of iterating the same chunks and calling the same
tool directly, so the figure reported is agentkit's own share.

    .venv/bin/python benchmarks/bench_loop_overhead.py [--steps 200] [--repeats 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import AsyncIterator

from agentkit import Agent, UsageLimits, tool
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


async def agentkit_run(steps: int) -> float:
    agent = Agent(InstantModel(steps), tools=[bump], limits=UsageLimits(max_steps=steps + 1, max_identical_calls=steps))
    t0 = time.perf_counter()
    result = await agent.run("go")
    elapsed = time.perf_counter() - t0
    assert result.usage.tool_calls == steps
    return elapsed


async def baseline_run(steps: int) -> float:
    """The irreducible work: drain the same chunks and run the same tool (in a thread, as the loop does)."""
    model = InstantModel(steps)
    t0 = time.perf_counter()
    for i in range(steps + 1):
        async for _chunk in model.stream(ModelRequest(messages=[])):
            pass
        if i < steps:
            await asyncio.to_thread(bump.function, i)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(agentkit_run(10))  # warm up imports and caches
    ours, base = [], []
    for _ in range(args.repeats):
        ours.append(asyncio.run(agentkit_run(args.steps)))
        base.append(asyncio.run(baseline_run(args.steps)))
    per_step = statistics.median(ours) / (args.steps + 1) * 1e6
    base_step = statistics.median(base) / (args.steps + 1) * 1e6
    overhead = per_step - base_step
    print(f"steps per run            : {args.steps} tool calls + 1 answer, {args.repeats} runs")
    print(f"agentkit per step        : {per_step:8.1f} us")
    print(f"baseline per step        : {base_step:8.1f} us  (drain chunks + run tool in a thread)")
    print(f"agentkit overhead / step : {overhead:8.1f} us  (target <= 200 us: {'OK' if overhead <= 200 else 'OVER'})")
    print(f"ratio agentkit/baseline  : {per_step / base_step:8.2f}x")


if __name__ == "__main__":
    main()
