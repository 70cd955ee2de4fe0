"""agentkit: agents that call tools on local models.

    from agentkit import Agent, tool

    @tool(effect="read")
    def add(a: float, b: float) -> float:
        \"\"\"Add two numbers.\"\"\"
        return a + b

    result = Agent(tools=[add]).run_sync("What is 2.5 + 4?")
"""

from __future__ import annotations

from ._agent import Agent, AuditSink
from ._decoding import PRESETS, DecodingSettings, PresetName, preset
from ._errors import (
    AgentkitError,
    ModelError,
    ModelNotFoundError,
    ModelRequestsBlocked,
    ModelRetry,
    ModelTimeoutError,
    OutputValidationError,
    RetryBudgetExhausted,
    RunError,
    UsageLimitExceeded,
    UserError,
)
from ._events import (
    ConfirmationRequired,
    ConfirmationResolved,
    ContextBuilt,
    CorrectionSent,
    Event,
    FinalOutput,
    ModelResponded,
    PolicyDecided,
    RunFailed,
    RunPaused,
    RunStarted,
    TextDelta,
    ToolCallDelta,
    ToolCallProposed,
    ToolResult,
)
from ._gate import (
    Confirmation,
    ConfirmationRequest,
    Confirmer,
    EffectGate,
    Gate,
    GateContext,
    PolicyDecision,
    approve_all,
    deny_all,
)
from ._loop import UsageLimits
from ._messages import (
    AssistantMessage,
    Message,
    Provenance,
    SystemMessage,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from ._result import PendingCall, RunResult, RunState, RunUsage, Timings
from ._tools import Effect, RunContext, Tool, ToolReturn, tool

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "Agent",
    "AgentkitError",
    "AssistantMessage",
    "AuditSink",
    "Confirmation",
    "ConfirmationRequest",
    "ConfirmationRequired",
    "ConfirmationResolved",
    "Confirmer",
    "ContextBuilt",
    "CorrectionSent",
    "DecodingSettings",
    "Effect",
    "EffectGate",
    "Event",
    "FinalOutput",
    "Gate",
    "GateContext",
    "Message",
    "ModelError",
    "ModelNotFoundError",
    "ModelRequestsBlocked",
    "ModelResponded",
    "ModelRetry",
    "ModelTimeoutError",
    "OutputValidationError",
    "PendingCall",
    "PolicyDecided",
    "PolicyDecision",
    "PresetName",
    "Provenance",
    "RetryBudgetExhausted",
    "RunContext",
    "RunError",
    "RunFailed",
    "RunPaused",
    "RunResult",
    "RunStarted",
    "RunState",
    "RunUsage",
    "SystemMessage",
    "TextDelta",
    "Timings",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallProposed",
    "ToolResult",
    "ToolResultMessage",
    "ToolReturn",
    "UsageLimitExceeded",
    "UsageLimits",
    "UserError",
    "UserMessage",
    "__version__",
    "approve_all",
    "deny_all",
    "preset",
    "tool",
]
