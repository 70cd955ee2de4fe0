"""Cost of the Python sandbox's layers, measured in one run: ratios against a bare interpreter start.

    .venv/bin/python benchmarks/bench_sandbox.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from agentkit.toolkits.sandbox import Sandbox, SandboxLimits

RUNS = 10
PROGRAM = "sum(i * i for i in range(1000))"


def median_seconds(action: Callable[[], object]) -> float:
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    sandbox = Sandbox(SandboxLimits(timeout_s=10))
    insecure = Sandbox(SandboxLimits(timeout_s=10), allow_unsandboxed_INSECURE=True)
    bare = median_seconds(lambda: subprocess.run([sys.executable, "-I", "-S", "-c", PROGRAM], check=True))
    jail_only = median_seconds(lambda: sandbox.jail().run(
        [str(sandbox.python), "-I", "-S", "-B", "-c", PROGRAM], sandbox.limits.resources(), stdin=lambda _fd: b"",
        timeout_s=10, output_bytes=10_000))
    restricted_only = median_seconds(lambda: insecure.run(PROGRAM))
    full = median_seconds(lambda: sandbox.run(PROGRAM))
    print(f"median of {RUNS} runs of {PROGRAM!r}")
    print(f"bare interpreter start          {bare * 1000:7.1f} ms  1.00x")
    print(f"bubblewrap jail + limits only   {jail_only * 1000:7.1f} ms  {jail_only / bare:.2f}x")
    print(f"RestrictedPython runner only    {restricted_only * 1000:7.1f} ms  {restricted_only / bare:.2f}x")
    print(f"full sandbox (all layers)       {full * 1000:7.1f} ms  {full / bare:.2f}x")


if __name__ == "__main__":
    main()
