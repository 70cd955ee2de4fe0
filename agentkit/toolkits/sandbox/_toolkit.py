"""The "python" toolkit: one tool, `run_python`, backed by a `Sandbox`."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from ..._errors import ModelRetry
from ..._tools import Tool, tool
from ._sandbox import Sandbox, SandboxLimits

MAX_CODE_CHARS = 50_000
IMPORTABLE = "math, statistics, json, random, itertools, functools, collections, re, datetime, decimal, " \
             "fractions, string, time"


class Config(BaseModel):
    """Options of the "python" toolkit."""

    model_config = ConfigDict(extra="forbid")

    limits: SandboxLimits = Field(default_factory=SandboxLimits)
    allow_unsandboxed_INSECURE: bool = Field(
        False, description="run without bubblewrap (rlimits and RestrictedPython only); never on shared machines",
    )


def toolkit(config: Config) -> list[Tool]:
    sandbox = Sandbox(config.limits, allow_unsandboxed_INSECURE=config.allow_unsandboxed_INSECURE)
    limits = config.limits

    @tool(effect="read", name="run_python")
    async def run_python(code: Annotated[str, Field(min_length=1)]) -> str:
        """Run a Python program in an isolated sandbox and return what it printed and the value of its last line.

        No files, network, processes or OS access; only these imports work: math, statistics, json, random,
        itertools, functools, collections, re, datetime, decimal, fractions, string, time.

        Args:
            code: The complete program. End with an expression to get its value back.
        """
        if len(code) > MAX_CODE_CHARS:
            raise ModelRetry(f"the program is {len(code)} characters; the limit is {MAX_CODE_CHARS}. Send less code.")
        result = await sandbox.run_async(code)
        if result.error is not None and result.error.kind in ("syntax", "restricted"):
            where = f" at line {result.error.line}" if result.error.line else ""
            raise ModelRetry(
                f"The program was refused{where} ({result.error.kind}): {result.error.message}. "
                f"Only plain Python with these imports works: {IMPORTABLE}. Fix the code and call run_python again."
            )
        return result.to_text()

    run_python.description += f" Limits: {limits.timeout_s:g} s, {limits.memory_mb} MiB, {limits.output_bytes} bytes of output."
    return [run_python]
