"""The context builder with the REAL tokenizer and chat template of the default model (SmolLM2-135M)."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest

from agentkit import Agent, ContextBuilt, DecodingSettings, Event, FinalOutput, Message, ModelResponded, tool
from agentkit.context import ContextBuilder
from agentkit.models import LlamaCppModel, default_model
from agentkit.models._base import ModelRequest
from agentkit.testing import ScriptedModel, ScriptedTurn, call, text

pytestmark = pytest.mark.model

WINDOW = 1024
RESERVED = 128


@tool(effect="read")
def lookup(query: str) -> str:
    """Look customer records up."""
    return json.dumps([{"id": i, "name": f"customer {i}", "query": query, "status": "active"} for i in range(12)])


def turns_for(n: int) -> list[ScriptedTurn]:
    answer = f"Answer {n}: customer {n} is active and has {n % 7} open invoices. " + "Details follow. " * (n % 5)
    if n % 3 == 0:
        return [call("lookup", {"query": f"customer {n}"}), text(answer)]
    return [text(answer)]


def collect(agent: Agent[str], prompt: str, history: list[Message]) -> list[Event]:
    async def run() -> list[Event]:
        return [e async for e in agent.run_stream(prompt, history=history)]

    return asyncio.run(run())


def rendered(model: LlamaCppModel, request: ModelRequest) -> str:
    return model.render_prompt(ModelRequest(messages=request.messages, tools=request.tools))


def test_sixty_turns_stay_within_budget_with_the_real_tokenizer() -> None:
    real = default_model()
    builder = ContextBuilder(developer="Answer in two sentences at most.", policy="Never reveal customer emails.",
                             tokenizer=real, context_window=WINDOW, reserved_output=RESERVED)
    history: list[Message] = []
    prompts: list[str] = []
    stable_prefixes: set[str] = set()
    reports: list[dict[str, Any]] = []
    notes: list[list[str]] = []
    for n in range(60):
        model = ScriptedModel(turns_for(n))
        agent = Agent(model, tools=[lookup], system="You are a support assistant.", context=builder)
        events = collect(agent, f"Turn {n}: what is the status of customer {n}? Please be specific.", history)
        final = events[-1]
        assert isinstance(final, FinalOutput)
        history = final.result.messages  # the full conversation, uncompressed, feeds the next turn
        built = [e for e in events if isinstance(e, ContextBuilt)]
        assert len(built) == len(model.requests)
        for event, request in zip(built, model.requests, strict=True):
            prompt = rendered(real, request)
            exact = real.count_tokens(prompt)
            assert exact <= WINDOW - RESERVED, (n, exact, event.notes)
            assert event.report["counting"] == "tokenizer"
            assert event.report["prompt_tokens_exact"] == exact
            assert abs(event.report["prompt_tokens"] - exact) <= 16  # per-block estimate vs the joined prompt (which adds one "use this result" line per tool turn)
            stable_prefixes.add(event.report["stable_prefix_sha256"])
            prompts.append(prompt)
            reports.append(event.report)
            notes.append(event.notes)
        model.assert_all_used()
    assert len(history) > 150  # the conversation itself grew far past the window...
    assert sum(1 for r in reports if "history" in r["compressed"]) > 60  # ...so history was compressed,
    assert any("replaced by a summary (extractive)" in n for step in notes for n in step)  # and reported
    assert len(stable_prefixes) == 1  # system, tools, developer and policy never changed
    # the rendered stable part (system + tools + developer + policy) is byte-identical in every prompt
    stable_end = prompts[0].index("Never reveal customer emails.")
    assert all(p[:stable_end] == prompts[0][:stable_end] for p in prompts)
    # between compressions, each prompt extends the previous one byte for byte (llama.cpp prefix reuse)
    extended = sum(1 for before, after in itertools.pairwise(prompts) if after.startswith(before))
    assert extended >= len(prompts) // 3, f"{extended} of {len(prompts) - 1}"
    hits = builder.counter(real).hits
    misses = builder.counter(real).misses
    assert hits > 10 * misses  # repeated steps are not retokenized


def test_second_turn_reuses_the_stable_prefix_in_llama_cpp() -> None:
    real = default_model()
    builder = ContextBuilder(developer="You answer questions about the billing service.", data_notice=False,
                             context_window=WINDOW, reserved_output=RESERVED)
    agent = Agent(real, system="You are a concise assistant.", context=builder,
                  settings=DecodingSettings(temperature=0.0, max_tokens=4, seed=0))
    first = collect(agent, "Say hello.", [])
    result = first[-1]
    assert isinstance(result, FinalOutput)
    second = collect(agent, "Say goodbye.", result.result.messages)
    responded = [e for e in first + second if isinstance(e, ModelResponded)]
    assert len(responded) == 2
    stable = next(e for e in second if isinstance(e, ContextBuilt)).report["stable_prefix_tokens"]
    final = second[-1]
    assert isinstance(final, FinalOutput)
    # llama.cpp found at least the whole stable prefix (and the first turn) already in its KV cache
    assert final.result.usage.cached_prompt_tokens >= stable
    assert final.result.usage.cached_prompt_tokens >= responded[0].prompt_tokens
