"""Session KV reuse and prompt-lookup decoding on the real default model (llama.cpp, temperature 0)."""

from __future__ import annotations

import pytest

from agentkit import AssistantMessage, DecodingSettings, Message, SystemMessage, UserError, UserMessage
from agentkit.models import (
    FinishChunk,
    LlamaCppModel,
    ModelRequest,
    TextChunk,
    default_model_path,
    unload_all,
)
from agentkit.models._kvcache import KVStateCache, common_prefix

SETTINGS = DecodingSettings(temperature=0.0, max_tokens=6, seed=0)


def long_system(label: str) -> str:
    return f"You are assistant {label}. " + " ".join(f"Fact {label}{i}: item {i} costs {i * 3} euros." for i in range(40))


async def answer(model: LlamaCppModel, messages: list[Message]) -> tuple[str, FinishChunk]:
    out: list[str] = []
    finish: FinishChunk | None = None
    async for chunk in model.stream(ModelRequest(messages=messages, settings=SETTINGS)):
        if isinstance(chunk, TextChunk):
            out.append(chunk.text)
        elif isinstance(chunk, FinishChunk):
            finish = chunk
    assert finish is not None
    return "".join(out), finish


async def interleaved(cache_bytes: int) -> tuple[str, FinishChunk, KVStateCache]:
    unload_all()
    model = LlamaCppModel(default_model_path(), n_ctx=2048, n_threads=1, kv_cache_bytes=cache_bytes)
    a: list[Message] = [SystemMessage(content=long_system("A")), UserMessage(content="Price of item 3?")]
    first, _ = await answer(model, a)
    await answer(model, [SystemMessage(content=long_system("B")), UserMessage(content="Price of item 5?")])
    text, finish = await answer(model, [*a, AssistantMessage(content=first), UserMessage(content="And item 7?")])
    return text, finish, model.load().kv_cache


@pytest.mark.model
async def test_a_conversation_interrupted_by_another_reuses_its_saved_kv_state() -> None:
    cached_text, cached, cache = await interleaved(64 * 1024 * 1024)
    plain_text, plain, _ = await interleaved(0)
    unload_all()
    assert cached_text == plain_text  # restoring a state changes nothing in the answer
    assert cache.hits >= 1
    assert cached.usage.cached_prompt_tokens > 0.9 * cached.usage.prompt_tokens
    assert plain.usage.cached_prompt_tokens < 0.1 * plain.usage.prompt_tokens
    assert 0 < cache.bytes_used <= 64 * 1024 * 1024


@pytest.mark.model
async def test_kv_cache_memory_stays_within_its_budget() -> None:
    unload_all()
    budget = 32 * 1024 * 1024  # room for two ~600-token states of SmolLM2 (~23 KB per token), not three
    model = LlamaCppModel(default_model_path(), n_ctx=2048, n_threads=1, kv_cache_bytes=budget)
    for label in "ABC":
        await answer(model, [SystemMessage(content=long_system(label)), UserMessage(content="hi")])
    cache = model.load().kv_cache
    unload_all()
    assert cache.bytes_used <= budget
    assert len(cache) == 2  # the oldest of the three was evicted


@pytest.mark.model
async def test_prompt_lookup_variant_decodes_a_copy_task() -> None:
    plain = LlamaCppModel(default_model_path(), n_ctx=1024, n_threads=1, kv_cache_bytes=0)
    lookup = plain.with_prompt_lookup(8)
    messages: list[Message] = [UserMessage(content="Repeat exactly: the quick brown fox jumps over the lazy dog.")]
    text, finish = await answer(lookup, messages)
    base, _ = await answer(plain, messages)
    unload_all()
    assert lookup.name.endswith("+lookup")
    assert finish.usage.completion_tokens > 0
    assert text.strip()
    assert common_prefix_chars(text, base) > 0  # same start; later tokens may differ (batched verification)


def common_prefix_chars(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def test_options_are_validated() -> None:
    with pytest.raises(UserError, match="prompt_lookup"):
        LlamaCppModel(default_model_path(), prompt_lookup=-1)
    with pytest.raises(UserError, match="kv_cache_bytes"):
        LlamaCppModel(default_model_path(), kv_cache_bytes=-5)


def test_common_prefix() -> None:
    import numpy as np

    a = np.array([1, 2, 3, 4], dtype=np.intc)
    assert common_prefix(a, np.array([1, 2, 9], dtype=np.intc)) == 2
    assert common_prefix(a, a[:3]) == 3
    assert common_prefix(a, np.array([], dtype=np.intc)) == 0
