"""`Sandbox`: run untrusted Python and get back stdout, stderr, the last expression's value and a typed error.

Layers, outermost first (each one alone has been seen to leak; together they hold the corpus in the tests):
1. resource limits (address space, CPU seconds, file size, open files, processes, no core dumps);
2. bubblewrap: new pid/net/ipc/uts namespaces, no network, read-only /usr and interpreter, a private 16 MB
   /tmp, no /proc, no /dev, an empty environment, an unprivileged uid with no capabilities (see `_jail`);
3. RestrictedPython with a function-only namespace (see `_runner`);
4. the host's wall-clock timeout and output cap, which kill the whole process group.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ._jail import Jail, ResourceLimits, SandboxUnavailable, find_bwrap, find_tool
from ._process import Outcome, run_process

ErrorKind = Literal["timeout", "memory", "output_limit", "syntax", "restricted", "runtime", "killed"]

_RUNNER = Path(__file__).with_name("_runner.py")
_INSIDE_RUNNER = "/sandbox/runner.py"
_COMPILE = Path(__file__).with_name("_compile.py")  # imported by the runner from its own folder
_INSIDE_COMPILE = "/sandbox/_compile.py"
_INSIDE_LIB = "/sandbox/lib"


class SandboxLimits(BaseModel):
    """Bounds on one run. The defaults suit a calculation or a small script; tighten them for hostile input."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout_s: float = Field(10.0, gt=0, le=600, description="wall-clock seconds before the run is killed")
    cpu_s: int | None = Field(None, ge=1, le=600, description="CPU seconds (default: the timeout, rounded up)")
    memory_mb: int = Field(256, ge=64, le=65536, description="address space of the process, in MiB")
    output_bytes: int = Field(64_000, ge=256, le=64_000_000, description="stdout + stderr before the run is killed")
    file_size_bytes: int = Field(1_000_000, ge=0, description="largest file the process may write")
    open_files: int = Field(64, ge=16, le=4096)
    processes: int = Field(16, ge=1, le=4096, description="processes and threads of the sandbox uid")
    value_chars: int = Field(10_000, ge=100, description="the repr of the last expression is cut here")

    def resources(self) -> ResourceLimits:
        return ResourceLimits(
            cpu_s=self.cpu_s or max(1, math.ceil(self.timeout_s)), memory_bytes=self.memory_mb * 1024 * 1024,
            file_size_bytes=self.file_size_bytes, open_files=self.open_files, processes=self.processes,
        )


class SandboxError(BaseModel):
    """Why a run did not complete normally. `kind` is stable; `message` is for people and models."""

    kind: ErrorKind
    message: str
    type: str | None = Field(None, description="the Python exception type, when there is one")
    line: int | None = Field(None, description="the program's line where it happened, when known")


class SandboxResult(BaseModel):
    stdout: str = ""
    stderr: str = ""
    value: str | None = Field(None, description="repr() of the last expression, if the program ends with one")
    error: SandboxError | None = None
    exit_code: int | None = None
    signal: str | None = None
    duration_s: float = 0.0
    sandboxed: bool = True

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_text(self) -> str:
        """What a model reads: output first, then the value or the error, each labelled."""
        parts: list[str] = []
        if self.stdout:
            parts.append("stdout:\n" + self.stdout.rstrip("\n"))
        if self.stderr:
            parts.append("stderr:\n" + self.stderr.rstrip("\n"))
        if self.value is not None:
            parts.append(f"value: {self.value}")
        if self.error is not None:
            where = f" (line {self.error.line})" if self.error.line else ""
            parts.append(f"error [{self.error.kind}]{where}: {self.error.message}")
        return "\n".join(parts) or "(no output)"


def _restricted_python_dir() -> Path:
    spec = importlib.util.find_spec("RestrictedPython")
    if spec is None or not spec.submodule_search_locations:
        from ..._errors import UserError

        raise UserError("RestrictedPython is not installed; `pip install RestrictedPython`")
    return Path(next(iter(spec.submodule_search_locations)))


def _interpreter() -> tuple[Path, Path]:
    """The real interpreter binary and the prefix holding its standard library (bound read-only)."""
    binary = Path(os.path.realpath(sys.executable))
    prefix = Path(os.path.realpath(sys.base_prefix))
    if not binary.is_relative_to(prefix):
        prefix = binary.parent.parent
    return binary, prefix


class Sandbox:
    """Runs Python programs in a fresh sandboxed process each time. Reusable, thread-safe, stateless.

    `allow_unsandboxed_INSECURE=True` runs without bubblewrap (limits and RestrictedPython only): the program
    then shares the host's filesystem view, network and uid. It exists for machines where bubblewrap cannot
    run, and announces itself on stderr on every run.
    """

    def __init__(
        self, limits: SandboxLimits | None = None, *, allow_unsandboxed_INSECURE: bool = False,
        bwrap: str | None = None,
    ) -> None:
        self.limits = limits or SandboxLimits()
        self.insecure = allow_unsandboxed_INSECURE
        self._bwrap = None if self.insecure else find_bwrap(bwrap)
        self._lib = _restricted_python_dir()
        self._python, self._prefix = _interpreter()

    def jail(self) -> Jail:
        """The bubblewrap view the runner gets: interpreter, runner and RestrictedPython read-only, a 16 MB /tmp."""
        if self._bwrap is None:
            raise SandboxUnavailable("this Sandbox runs without bubblewrap (allow_unsandboxed_INSECURE)")
        jail = Jail(bwrap=self._bwrap, env={"LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}, chdir="/tmp")
        jail.add_ro(self._prefix)
        jail.add_ro(self._python.parent)
        jail.add_ro(_RUNNER, _INSIDE_RUNNER)
        jail.add_ro(_COMPILE, _INSIDE_COMPILE)
        jail.add_ro(self._lib, f"{_INSIDE_LIB}/RestrictedPython")
        jail.tmpfs.append(("/tmp", 16 * 1024 * 1024))
        return jail

    @property
    def python(self) -> Path:
        return self._python

    def run(self, code: str) -> SandboxResult:
        limits = self.limits

        def request(paths: list[str]) -> Callable[[int], bytes]:
            def encode(result_fd: int) -> bytes:
                return json.dumps({"code": code, "value_chars": limits.value_chars, "paths": paths,
                                   "result_fd": result_fd}).encode()
            return encode

        if self._bwrap is None:
            print("agentkit: WARNING running Python WITHOUT the bubblewrap sandbox (allow_unsandboxed_INSECURE): "
                  "the program shares this machine's files, network and user", file=sys.stderr)
            argv = [find_tool("prlimit"), *limits.resources().prlimit_args(with_nproc=os.geteuid() != 0),
                    "--", str(self._python), "-I", "-S", "-B", str(_RUNNER)]
            with tempfile.TemporaryDirectory(prefix="agentkit-insecure-") as cwd:
                outcome = run_process(argv, stdin=request([str(self._lib.parent)]), timeout_s=limits.timeout_s,
                                      output_bytes=limits.output_bytes, cwd=cwd, env={"LC_ALL": "C.UTF-8"},
                                      bwrap_exit_codes=False)
        else:
            inner = [str(self._python), "-I", "-S", "-B", _INSIDE_RUNNER]
            outcome = self.jail().run(inner, limits.resources(), stdin=request([_INSIDE_LIB]),
                                      timeout_s=limits.timeout_s, output_bytes=limits.output_bytes)
        return self._result(outcome)

    async def run_async(self, code: str) -> SandboxResult:
        return await asyncio.to_thread(self.run, code)

    def _result(self, outcome: Outcome) -> SandboxResult:
        stdout = outcome.stdout.decode("utf-8", "replace")
        stderr = outcome.stderr.decode("utf-8", "replace")
        result = SandboxResult(stdout=stdout, stderr=stderr, exit_code=outcome.returncode, signal=outcome.signal,
                               duration_s=round(outcome.duration_s, 4), sandboxed=not self.insecure)
        limits = self.limits
        if outcome.output_exceeded:
            result.error = SandboxError(kind="output_limit", message=(
                f"the program wrote more than {limits.output_bytes} bytes and was stopped; print less"))
            return result
        if outcome.timed_out:
            result.error = SandboxError(kind="timeout", message=(
                f"the program ran longer than {limits.timeout_s:g} s and was stopped"))
            return result
        report = None
        if outcome.result:
            try:
                report = json.loads(outcome.result)
            except ValueError:
                report = None
        if isinstance(report, dict):
            result.value = report.get("value")
            if report.get("error"):
                result.error = SandboxError.model_validate(report["error"])
            return result
        result.error = self._death(outcome, stderr)
        return result

    def _death(self, outcome: Outcome, stderr: str) -> SandboxError:
        """The process ended without a report: say why, from its signal and its last words."""
        cpu = self.limits.resources().cpu_s
        if outcome.signal in ("SIGXCPU",) or (outcome.signal == "SIGKILL" and outcome.duration_s >= cpu):
            return SandboxError(kind="timeout", message=f"the program used more than {cpu} s of CPU and was stopped")
        if "MemoryError" in stderr or "Cannot allocate memory" in stderr or "out of memory" in stderr.lower():
            return SandboxError(kind="memory", message=(
                f"the program ran out of memory (limit {self.limits.memory_mb} MiB)"))
        if stderr.startswith("bwrap:") or "setpriv:" in stderr or "prlimit:" in stderr:
            raise SandboxUnavailable(f"the sandbox could not start: {stderr.strip()[:500]}")
        how = f"signal {outcome.signal}" if outcome.signal else f"exit code {outcome.returncode}"
        last = stderr.strip().splitlines()[-1] if stderr.strip() else "no message"
        return SandboxError(kind="killed", message=f"the sandboxed process died ({how}): {last[:500]}")
