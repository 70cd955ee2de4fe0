"""On an NVIDIA machine: check that every layer is offloaded, and compare decode speed GPU vs CPU.

Needs llama-cpp-python built with CUDA (`AGENTKIT_CUDA=1 make setup`). The CPU figure comes from the same
build with `n_gpu_layers=0`, same model, prompt and settings, in the same process. Without GPU offload in the
build it says so and exits with status 2 (nothing to measure); it never pretends.

    .venv/bin/python benchmarks/bench_cuda.py [--model PATH] [--tokens 128] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

OFFLOADED = re.compile(r"offloaded (\d+)/(\d+) layers to GPU")
PROMPT = "Write a detailed story about a lighthouse keeper who finds a message in a bottle."


@contextmanager
def captured_stderr() -> Iterator[Path]:
    """llama.cpp logs from C: capture file descriptor 2 itself, not just sys.stderr."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.NamedTemporaryFile(prefix="llama-load-", suffix=".log", delete=False) as handle:
        path = Path(handle.name)
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    os.dup2(fd, 2)
    try:
        yield path
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(fd)
        os.close(saved)


def decode_rate(llm: Any, tokens: int) -> float:
    ids = llm.tokenize(PROMPT.encode(), add_bos=True, special=True)
    first = last = 0.0
    count = 0
    for chunk in llm.create_completion(ids, max_tokens=tokens, temperature=0.0, stream=True):
        if chunk["choices"][0]["text"]:
            now = time.perf_counter()
            first = first or now
            last = now
            count += 1
    return (count - 1) / (last - first) if count > 1 else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a .gguf path (default: the embedded default model)")
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import llama_cpp

    from agentkit.models import default_model_path
    from agentkit.models._llamacpp_load import cpu_count

    path = Path(args.model) if args.model else default_model_path()
    if not llama_cpp.llama_supports_gpu_offload():
        print(f"llama-cpp-python {llama_cpp.__version__} was built without GPU offload: nothing to measure.")
        print("Rebuild with CUDA: AGENTKIT_CUDA=1 make setup   (needs nvcc and an NVIDIA driver)")
        return 2
    with captured_stderr() as log:
        gpu = llama_cpp.Llama(model_path=str(path), n_gpu_layers=-1, n_threads=cpu_count(), verbose=True)
    text = log.read_text(errors="replace")
    log.unlink()
    match = OFFLOADED.search(text)
    if not match:
        print("could not find the 'offloaded N/M layers to GPU' line in llama.cpp's load log:")
        print("\n".join(text.splitlines()[-20:]))
        return 1
    done, total = int(match.group(1)), int(match.group(2))
    print(f"model            : {path.name}")
    print(f"layers offloaded : {done}/{total} {'(all)' if done == total else '(NOT ALL - check VRAM and build)'}")
    cpu = llama_cpp.Llama(model_path=str(path), n_gpu_layers=0, n_threads=cpu_count(), verbose=False)
    decode_rate(gpu, 8)
    decode_rate(cpu, 8)
    gpu_rates = [decode_rate(gpu, args.tokens) for _ in range(args.rounds)]
    cpu_rates = [decode_rate(cpu, args.tokens) for _ in range(args.rounds)]
    g, c = statistics.median(gpu_rates), statistics.median(cpu_rates)
    print(f"decode GPU       : {g:8.1f} tok/s")
    print(f"decode CPU       : {c:8.1f} tok/s  ({cpu_count()} threads, same build, n_gpu_layers=0)")
    print(f"ratio GPU / CPU  : {g / c:8.2f}x")
    return 0 if done == total else 1


if __name__ == "__main__":
    raise SystemExit(main())
