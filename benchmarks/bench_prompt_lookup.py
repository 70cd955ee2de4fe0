"""Prompt-lookup decoding on a patch task vs plain decoding: same output, decode speed-up.

An edit returns most of its input: prompt-lookup drafts the next tokens by finding the last n-gram in the
prompt and proposing what followed it; llama.cpp verifies the draft in one batch. Both models decode the same
prompt at temperature 0, alternating; the script reports whether the outputs are identical and, if not,
how long a prefix they share.

    .venv/bin/python benchmarks/bench_prompt_lookup.py [--rounds 2] [--draft 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

from agentkit import DecodingSettings, SystemMessage, UserMessage
from agentkit.models import FinishChunk, LlamaCppModel, ModelRequest, TextChunk, default_model_path

SOURCE = '''def total_price(items, tax_rate):
    subtotal = 0
    for item in items:
        subtotal += item.price * item.quantity
    tax = subtotal * tax_rate
    return subtotal + tax


def format_price(amount, currency):
    return f"{amount:.2f} {currency}"


def describe(items):
    lines = []
    for item in items:
        lines.append(f"{item.name}: {item.quantity} x {item.price}")
    return "\\n".join(lines)
'''

THREADS = int(os.environ.get("AGENTKIT_BENCH_THREADS", "1"))
"""One thread by default: on a machine shared with other jobs, llama.cpp's spinning threads collapse."""

PROMPT = ("Rename the function total_price to compute_total. Reply with the whole file and nothing else.\n\n"
          "```python\n" + SOURCE + "```")


async def decode(model: LlamaCppModel) -> tuple[str, float, int]:
    request = ModelRequest(
        messages=[SystemMessage(content="You edit code."), UserMessage(content=PROMPT)],
        settings=DecodingSettings(temperature=0.0, max_tokens=220, seed=0),
    )
    out: list[str] = []
    finish: FinishChunk | None = None
    async for chunk in model.stream(request):
        if isinstance(chunk, TextChunk):
            out.append(chunk.text)
        elif isinstance(chunk, FinishChunk):
            finish = chunk
    assert finish is not None
    return "".join(out), finish.decode, finish.usage.completion_tokens


async def main(rounds: int, draft: int) -> None:
    plain = LlamaCppModel(default_model_path(), n_ctx=2048, n_threads=THREADS, kv_cache_bytes=0)
    lookup = plain.with_prompt_lookup(draft)
    plain.load()
    lookup.load()
    times: dict[str, list[float]] = {"plain": [], "lookup": []}
    outputs: dict[str, str] = {}
    tokens = 0
    for _ in range(rounds):
        for label, model in (("plain", plain), ("lookup", lookup)):
            t0 = time.perf_counter()
            text, _decode, tokens = await decode(model)
            times[label].append(time.perf_counter() - t0)
            outputs[label] = text
    p, q = statistics.median(times["plain"]), statistics.median(times["lookup"])
    print(f"completion tokens: {tokens}, draft of {draft} tokens, {THREADS} thread(s)")
    print(f"plain decoding:         {p:7.2f} s  ({tokens / p:6.1f} tok/s, prompt included)")
    print(f"prompt-lookup decoding: {q:7.2f} s  ({tokens / q:6.1f} tok/s, prompt included)")
    a, b = outputs["plain"], outputs["lookup"]
    shared = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    print(f"speed-up: {p / q:5.2f}x   same output: {a == b}  (identical for the first {shared} of {len(a)} chars)")
    if a != b:
        print("  the draft is verified in batches, and llama.cpp's results depend slightly on the batch size: at")
        print("  temperature 0 a near-tie between two tokens can flip, after which the texts diverge")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--draft", type=int, default=10, help="draft tokens proposed per step")
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.draft))
