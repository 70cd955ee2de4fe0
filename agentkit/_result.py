"""What a run leaves behind: the result, its usage and phase timings, or a resumable paused state."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from ._messages import Message, ToolCall


class RunUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    model_requests: int = 0
    tool_calls: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Timings(BaseModel):
    """Seconds spent per phase: the guide's latency table, for one run."""

    context_build: float = 0.0
    queue_wait: float = 0.0
    prefill: float = 0.0
    decode: float = 0.0
    tools: float = 0.0
    total: float = 0.0

    @property
    def overhead(self) -> float:
        """Time in agentkit itself: everything not attributed to a phase above."""
        accounted = self.context_build + self.queue_wait + self.prefill + self.decode + self.tools
        return max(0.0, self.total - accounted)

    def table(self) -> str:
        rows = [
            ("context build", self.context_build),
            ("queue wait", self.queue_wait),
            ("prefill", self.prefill),
            ("decode", self.decode),
            ("tools", self.tools),
            ("agentkit overhead", self.overhead),
            ("total", self.total),
        ]
        return "\n".join(f"{label:<18}{seconds * 1000:10.1f} ms" for label, seconds in rows)


class PendingCall(BaseModel):
    """A proposed call that waits for a human decision."""

    call: ToolCall
    fingerprint: str
    effect: str
    preview: str | None = None
    reason: str = ""
    rule: str = ""


Decision = Literal["approve", "deny"]


class RunState(BaseModel):
    """A run stopped before acting, serializable to JSON and resumable in another process.

    `queue` holds the calls of the current assistant turn not yet executed, in order; `pending` is the subset
    that needs a decision. Resuming with decisions keyed by fingerprint runs approved calls exactly once.
    """

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    run_id: str
    status: Literal["awaiting_confirmation"] = "awaiting_confirmation"
    messages: list[Message]
    queue: list[ToolCall]
    pending: list[PendingCall]
    step: int
    retries: int = 0
    usage: RunUsage = Field(default_factory=RunUsage)
    executed: list[str] = Field(default_factory=list, description="fingerprints already run in this turn")
    _resumed: bool = PrivateAttr(default=False)  # one pause resumes once: a second resume would act twice

    def dump(self) -> str:
        return self.model_dump_json(indent=2)

    @classmethod
    def load(cls, text: str | bytes) -> RunState:
        return cls.model_validate_json(text)


class RunResult(BaseModel):
    """The outcome of a run. `output` is text, or an instance of the requested output type."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    run_id: str
    status: Literal["completed", "awaiting_confirmation"] = "completed"
    output: Any = None
    messages: list[Message] = Field(default_factory=list)
    usage: RunUsage = Field(default_factory=RunUsage)
    timings: Timings = Field(default_factory=Timings)
    state: RunState | None = None
    audit_ids: list[str] = Field(default_factory=list)

    @property
    def text(self) -> str:
        return self.output if isinstance(self.output, str) else str(self.output)
