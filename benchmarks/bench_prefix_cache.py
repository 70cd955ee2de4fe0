"""Prefix-cache reuse across turns: time to first token of turn 2 vs turn 1, same conversation.

The ContextBuilder puts the stable blocks first (system, developer rules ~1,000 tokens, policy), so the
second turn's prompt starts with the first turn's prompt byte for byte and llama.cpp only prefills the new
tokens. A control reruns turn 2 after an unrelated prompt has evicted the cache: same prompt, cold cache.

    .venv/bin/python benchmarks/bench_prefix_cache.py

Prints times measured in this one run and their ratios (machine load changes the times, not the shape).
"""

from __future__ import annotations

import asyncio
from typing import Any

from agentkit import Agent, ContextBuilt, DecodingSettings, FinalOutput, Message, ModelResponded
from agentkit.context import ContextBuilder
from agentkit.models import default_model

RULES = [
    "Answer in English, in at most three sentences, unless the user asks for more detail.",
    "When the user asks about an invoice, quote its number, its date and its total with the currency.",
    "Never invent a customer name, an order number or an amount: say what is missing instead.",
    "Refunds above 500 euros need a manager's approval; say so rather than promising one.",
    "Dates are written as YYYY-MM-DD; amounts use two decimals and a currency code (EUR, USD, GBP).",
    "If a request mixes several customers, answer for each one separately, in the order they were named.",
    "Do not reveal internal notes, email addresses or phone numbers of customers.",
    "When unsure whether a payment cleared, tell the user to check the payments dashboard.",
]


def developer_rules(model: Any, target_tokens: int) -> str:
    """About `target_tokens` tokens of numbered rules (counted with the model's own tokenizer)."""
    lines: list[str] = []
    number = 0
    while model.count_tokens("\n".join(lines)) < target_tokens:
        lines.append(f"{number + 1}. {RULES[number % len(RULES)]} (section {number // len(RULES) + 1})")
        number += 1
    return "\n".join(lines)


async def turn(agent: Agent[str], prompt: str, history: list[Message]) -> tuple[ModelResponded, Any, ContextBuilt]:
    responded: ModelResponded | None = None
    built: ContextBuilt | None = None
    result: Any = None
    async for event in agent.run_stream(prompt, history=history):
        if isinstance(event, ModelResponded) and responded is None:
            responded = event
        elif isinstance(event, ContextBuilt) and built is None:
            built = event
        elif isinstance(event, FinalOutput):
            result = event.result
    assert responded is not None
    assert built is not None
    assert result is not None
    return responded, result, built


async def main() -> None:
    model = default_model()
    model.load()
    settings = DecodingSettings(temperature=0.0, max_tokens=8, seed=0)
    builder = ContextBuilder(developer=developer_rules(model, 1000), context_window=model.n_ctx, reserved_output=64)
    agent = Agent(model, system="You are the billing support assistant.", context=builder, settings=settings)
    other = Agent(model, system="You translate words into French.", settings=settings)

    await turn(other, "Translate: cat", [])  # warm up the model; the cache now holds an unrelated prompt
    first, result, built = await turn(agent, "What is the total of invoice 2024-0117?", [])
    second, second_result, _ = await turn(agent, "And when was it paid?", result.messages)
    await turn(other, "Translate: dog", [])  # evict: the next prompt shares nothing with the cache
    cold, cold_result, _ = await turn(agent, "And when was it paid?", result.messages)

    print(f"model: {model.name}, threads {model.n_threads}; stable prefix {built.report['stable_prefix_tokens']} "
          f"tokens (counting: {built.report['counting']})")
    print(f"{'':28}{'prompt tok':>11}{'cached tok':>11}{'TTFT s':>9}")
    rows = (("turn 1 (cold)", first, result), ("turn 2 (same conversation)", second, second_result),
            ("turn 2 control (evicted)", cold, cold_result))
    for label, event, run in rows:
        cached = run.usage.cached_prompt_tokens
        print(f"{label:<28}{event.prompt_tokens:>11}{cached:>11}{event.prefill:>9.3f}")
    print(f"turn 2 / turn 1 time to first token: {second.prefill / first.prefill:.3f} "
          f"({first.prefill / second.prefill:.1f}x faster)")
    print(f"turn 2 / turn 2 with a cold cache:   {second.prefill / cold.prefill:.3f} "
          f"({cold.prefill / second.prefill:.1f}x faster)")


if __name__ == "__main__":
    asyncio.run(main())
