"""Decode speed through agentkit vs raw llama-cpp-python: same model, same prompt, same settings.

Both sides decode the identical rendered prompt at temperature 0 (so they produce the same tokens), timed from
the first streamed token to the last as seen by the caller. Runs alternate (raw, agentkit, then agentkit, raw,
...) so drift in machine load hits both; the median of each side is compared, and the median of each round's
own ratio is printed beside it. Target ratio: >= 0.97.

The raw side runs on the model's own thread, as agentkit does: llama.cpp's OpenMP workers belong to the thread
that calls it, and two calling threads in one process leave two teams spinning against each other.

    .venv/bin/python benchmarks/bench_decode.py [--model PATH] [--tokens 128] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from agentkit import Agent, DecodingSettings, TextDelta
from agentkit._messages import UserMessage
from agentkit.models import LlamaCppModel, ModelRequest, default_model

PROMPT = "Write a detailed story about a lighthouse keeper who finds a message in a bottle."


def raw_decode(model: LlamaCppModel, prompt_text: str, tokens: int) -> tuple[float, int]:
    llm = model.load().llm
    ids = llm.tokenize(prompt_text.encode(), add_bos=True, special=True)
    first = last = 0.0
    count = 0
    for chunk in llm.create_completion(ids, max_tokens=tokens, temperature=0.0, top_k=40, top_p=0.95, min_p=0.05,
                                       repeat_penalty=1.0, stream=True):
        now = time.perf_counter()
        if chunk["choices"][0]["text"]:
            if not count:
                first = now
            count += 1
            last = now
    return last - first, count


async def agentkit_decode(agent: Agent[str], tokens: int) -> tuple[float, int]:
    first = last = 0.0
    count = 0
    async for event in agent.run_stream(PROMPT):
        if isinstance(event, TextDelta):
            now = time.perf_counter()
            if not count:
                first = now
            count += 1
            last = now
    return last - first, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a .gguf path (default: the embedded default model)")
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    model = LlamaCppModel(args.model) if args.model else default_model()
    settings = DecodingSettings(temperature=0.0, top_k=40, top_p=0.95, min_p=0.05, repeat_penalty=1.0,
                                max_tokens=args.tokens)
    agent = Agent(model, settings=settings)
    prompt_text = model.render_prompt(ModelRequest(messages=[UserMessage(content=PROMPT)]))
    thread = model.load().executor
    thread.submit(raw_decode, model, prompt_text, 8).result()  # warm up both paths
    asyncio.run(agentkit_decode(agent, 8))
    raw_rates: list[float] = []
    ours_rates: list[float] = []
    for index in range(args.rounds):
        # The side that goes first alternates too: on a VM whose speed drifts within a round, a fixed order
        # would hand one side the faster half every time.
        for side in (("raw", "ours") if index % 2 == 0 else ("ours", "raw")):
            if side == "raw":
                seconds, count = thread.submit(raw_decode, model, prompt_text, args.tokens).result()
                raw_rates.append((count - 1) / seconds)
            else:
                seconds, count = asyncio.run(agentkit_decode(agent, args.tokens))
                ours_rates.append((count - 1) / seconds)
    raw, ours = statistics.median(raw_rates), statistics.median(ours_rates)
    paired = statistics.median(o / r for o, r in zip(ours_rates, raw_rates, strict=True))
    print(f"model                 : {model.name} ({model.n_threads} threads, n_gpu_layers={model.n_gpu_layers})")
    print(f"tokens per run        : {args.tokens}, rounds: {args.rounds} (alternating)")
    print(f"raw llama-cpp-python  : {raw:7.1f} tok/s  (runs: {', '.join(f'{r:.1f}' for r in raw_rates)})")
    print(f"agentkit              : {ours:7.1f} tok/s  (runs: {', '.join(f'{r:.1f}' for r in ours_rates)})")
    print(f"ratio agentkit / raw  : {ours / raw:7.3f}  (target >= 0.97: {'OK' if ours / raw >= 0.97 else 'BELOW'})")
    print(f"median of the rounds' own ratios: {paired:.3f}  (each round's two runs back to back)")


if __name__ == "__main__":
    main()
