"""The Python sandbox: `Sandbox(limits).run(code) -> SandboxResult`, and the "python" toolkit (`run_python`).

    from agentkit.toolkits.sandbox import Sandbox, SandboxLimits

    result = Sandbox(SandboxLimits(timeout_s=2)).run("print('hi')\\n6 * 7")
    assert result.stdout == "hi\\n" and result.value == "42"
"""

from __future__ import annotations

from ._jail import SandboxUnavailable
from ._sandbox import ErrorKind, Sandbox, SandboxError, SandboxLimits, SandboxResult
from ._toolkit import Config, toolkit

__all__ = [
    "Config",
    "ErrorKind",
    "Sandbox",
    "SandboxError",
    "SandboxLimits",
    "SandboxResult",
    "SandboxUnavailable",
    "toolkit",
]
