"""The one gate every proposed call passes before it may run, and the confirmers that answer it.

The loop never executes a call without a `PolicyDecision`. The policy layer supplies richer gates; the
default here is the safe minimum: reads run, anything that writes, sends or destroys needs a confirmation.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from ._messages import Message, ToolCall
from ._tools import Tool

Action = Literal["allow", "confirm", "deny"]


@dataclass(frozen=True)
class PolicyDecision:
    action: Action
    reason: str
    rule: str


@dataclass(frozen=True)
class GateContext:
    """What a gate may consult: the run, its messages (for provenance) and the router's risk level."""

    run_id: str
    messages: Sequence[Message]
    risk: Literal["low", "medium", "high", "critical"] | None = None


@runtime_checkable
class Gate(Protocol):
    async def decide(self, call: ToolCall, tool: Tool, ctx: GateContext) -> PolicyDecision: ...


class EffectGate:
    """Reads are allowed; write, send and destructive calls need an explicit confirmation."""

    async def decide(self, call: ToolCall, tool: Tool, ctx: GateContext) -> PolicyDecision:
        if tool.effect == "read":
            return PolicyDecision("allow", "read-only tool", "default.read")
        return PolicyDecision("confirm", f"{tool.effect} tool needs confirmation", f"default.{tool.effect}")


@dataclass(frozen=True)
class ConfirmationRequest:
    call: ToolCall
    effect: str
    fingerprint: str
    preview: str | None
    reason: str


@dataclass(frozen=True)
class Confirmation:
    approved: bool
    by: str
    note: str = ""


ConfirmFn = Callable[[ConfirmationRequest], "bool | Confirmation | Awaitable[bool | Confirmation]"]


@dataclass
class Confirmer:
    """Answers confirmation requests. Wrap any callback; `by` is written to the audit trail."""

    callback: ConfirmFn
    by: str = "callback"
    seen: list[ConfirmationRequest] = field(default_factory=list)

    async def confirm(self, request: ConfirmationRequest) -> Confirmation:
        self.seen.append(request)
        answer = self.callback(request)
        if inspect.isawaitable(answer):
            answer = await answer
        if isinstance(answer, Confirmation):
            return answer
        return Confirmation(approved=bool(answer), by=self.by)


def deny_all() -> Confirmer:
    return Confirmer(lambda _request: False, by="deny_all")


def approve_all(*, i_understand_this_is_for_tests: bool = False) -> Confirmer:
    """Approves every call. Only for tests and demos; it says so on stderr each time it approves."""

    def _approve(request: ConfirmationRequest) -> bool:
        print(
            f"agentkit: WARNING approve_all() approved {request.call.name} ({request.effect}) without asking anyone",
            file=sys.stderr,
        )
        return True

    if not i_understand_this_is_for_tests:
        print("agentkit: WARNING approve_all() is active: every write/send/destructive call will run", file=sys.stderr)
    return Confirmer(_approve, by="approve_all")
