"""Typed events: what a run streams to its caller, in order. Every event carries a wall-clock timestamp."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ._messages import ToolCall
from ._result import RunResult, RunState, RunUsage


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    at: float = Field(default_factory=time.time)
    run_id: str = ""


class RunStarted(_Event):
    type: Literal["run_started"] = "run_started"
    prompt: str
    model: str


class Routed(_Event):
    """The router's decision for this run (intents, risk, model, tools, format, preset, tier)."""

    type: Literal["routed"] = "routed"
    decision: dict[str, Any]


class Refused(_Event):
    """The request was answered without running the model: a refusal, or a clarifying question."""

    type: Literal["refused"] = "refused"
    kind: Literal["refusal", "clarification"]
    message: str


class ContextBuilt(_Event):
    """The prompt for one model request is ready: how many messages, and any compression applied."""

    type: Literal["context_built"] = "context_built"
    step: int
    messages: int
    tools: list[str]
    notes: list[str] = Field(default_factory=list)
    report: dict[str, Any] = Field(default_factory=dict)


class TextDelta(_Event):
    type: Literal["text_delta"] = "text_delta"
    text: str


class ToolCallDelta(_Event):
    """A tool call while it is being generated (name first, then argument text)."""

    type: Literal["tool_call_delta"] = "tool_call_delta"
    index: int
    name: str | None = None
    arguments_delta: str = ""


class ModelResponded(_Event):
    type: Literal["model_responded"] = "model_responded"
    step: int
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    queue_wait: float
    prefill: float
    decode: float


class ToolCallProposed(_Event):
    type: Literal["tool_call_proposed"] = "tool_call_proposed"
    call: ToolCall
    effect: str


class PolicyDecided(_Event):
    type: Literal["policy_decided"] = "policy_decided"
    call_id: str
    action: Literal["allow", "confirm", "deny"]
    reason: str
    rule: str


class ConfirmationRequired(_Event):
    type: Literal["confirmation_required"] = "confirmation_required"
    call: ToolCall
    fingerprint: str
    preview: str | None = None
    reason: str = ""


class ConfirmationResolved(_Event):
    type: Literal["confirmation_resolved"] = "confirmation_resolved"
    call_id: str
    fingerprint: str
    approved: bool
    by: str


class CorrectionSent(_Event):
    """The model's turn could not be used (bad call, truncated call, retry signal); a correction goes back."""

    type: Literal["correction_sent"] = "correction_sent"
    reason: Literal["unknown_tool", "invalid_json", "invalid_arguments", "truncated_call", "tool_retry", "repeated_call", "invalid_output", "empty_answer"]
    message: str
    call_id: str | None = None


class ToolResult(_Event):
    type: Literal["tool_result"] = "tool_result"
    call_id: str
    name: str
    content: str
    is_error: bool = False
    seconds: float = 0.0


class RunPaused(_Event):
    """The run stopped before acting: a call awaits confirmation. Resume with `state`."""

    type: Literal["run_paused"] = "run_paused"
    state: RunState


class FinalOutput(_Event):
    type: Literal["final"] = "final"
    result: RunResult


class RunFailed(_Event):
    type: Literal["error"] = "error"
    error_type: str
    message: str
    usage: RunUsage = Field(default_factory=RunUsage)


Event = Annotated[
    RunStarted
    | Routed
    | Refused
    | ContextBuilt
    | TextDelta
    | ToolCallDelta
    | ModelResponded
    | ToolCallProposed
    | PolicyDecided
    | ConfirmationRequired
    | ConfirmationResolved
    | CorrectionSent
    | ToolResult
    | RunPaused
    | FinalOutput
    | RunFailed,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
