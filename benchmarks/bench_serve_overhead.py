"""Server overhead: tokens/s through `agentkit serve` vs raw `llama_cpp.server`, same model, same requests.

Both servers run as subprocesses on 127.0.0.1 with the default model and the same thread count; requests
alternate between them (raw, agentkit, raw, ...) so drift in machine load hits both. Tokens/s is measured
by the client: content deltas over the whole request time. Target: agentkit / raw >= 0.95.

    .venv/bin/python benchmarks/bench_serve_overhead.py [--rounds 6] [--tokens 64]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _serve_common import stream_chat

from agentkit.models import default_model_path

THREADS = os.environ.get("AGENTKIT_BENCH_THREADS", "1")
AGENTKIT_SERVER = """
import sys, uvicorn
from agentkit.models import LlamaCppModel
from agentkit.serve import create_app
model = LlamaCppModel(sys.argv[1], n_ctx=2048, n_threads=int(sys.argv[3]), name="smollm2")
model.load()
uvicorn.run(create_app(models={"smollm2": model}), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""
PROMPTS = [
    "Write a short story about a lighthouse keeper.",
    "Explain how a bicycle works to a child.",
    "Describe a walk through a forest in autumn.",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/v1/models", timeout=1, trust_env=False).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server not ready:\n{log.read_text()[-2000:]}")


async def main(rounds: int, tokens: int) -> None:
    path = str(default_model_path())
    tmp = Path(tempfile.mkdtemp())
    raw_port, ak_port = free_port(), free_port()
    raw = start([sys.executable, "-m", "llama_cpp.server", "--model", path, "--host", "127.0.0.1", "--port",
                 str(raw_port), "--n_ctx", "2048", "--n_threads", THREADS, "--n_threads_batch", THREADS,
                 "--verbose", "False", "--model_alias", "smollm2", "--interrupt_requests", "False"], tmp / "raw.log")
    ak = start([sys.executable, "-c", AGENTKIT_SERVER, path, str(ak_port), THREADS], tmp / "agentkit.log")
    servers = {"raw": f"http://127.0.0.1:{raw_port}", "agentkit": f"http://127.0.0.1:{ak_port}"}
    try:
        wait_ready(servers["raw"], raw, tmp / "raw.log")
        wait_ready(servers["agentkit"], ak, tmp / "agentkit.log")
        rates: dict[str, list[float]] = {"raw": [], "agentkit": []}
        texts: dict[str, list[str]] = {"raw": [], "agentkit": []}
        async with httpx.AsyncClient(timeout=600, trust_env=False) as client:
            for base in servers.values():  # warm-up: first request pays for lazy set-up
                await stream_chat(client, base + "/v1/chat/completions", body(PROMPTS[0], 4))
            for i in range(rounds):
                order = ("raw", "agentkit") if i % 2 == 0 else ("agentkit", "raw")
                for label in order:
                    result = await stream_chat(client, servers[label] + "/v1/chat/completions",
                                               body(PROMPTS[i % len(PROMPTS)], tokens))
                    rates[label].append(result.deltas / result.seconds)
                    texts[label].append(result.text)
    finally:
        for process in (raw, ak):
            process.terminate()
            process.wait(20)
    r, a = statistics.median(rates["raw"]), statistics.median(rates["agentkit"])
    same = sum(x == y for x, y in zip(texts["raw"], texts["agentkit"], strict=True))
    print(f"{rounds} requests per server, {tokens} max tokens, {THREADS} thread(s), alternating")
    print(f"raw llama_cpp.server: {r:7.1f} tok/s (median)")
    print(f"agentkit serve:       {a:7.1f} tok/s (median)")
    print(f"ratio agentkit / raw: {a / r:5.2f} (target >= 0.95); identical texts: {same}/{rounds}")
    print(f"  e.g. raw: {texts['raw'][0][:70]!r}\n  agentkit: {texts['agentkit'][0][:70]!r}")


def body(prompt: str, tokens: int) -> dict[str, object]:
    # Every sampling setting explicit: the two servers' defaults differ (repeat_penalty 1.1 vs 1.0).
    return {"model": "smollm2", "messages": [{"role": "user", "content": prompt}], "max_tokens": tokens,
            "temperature": 0, "seed": 0, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "repeat_penalty": 1.0}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--tokens", type=int, default=64)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.tokens))
