"""Acting on proposed calls: the policy gate, confirmation or pause, and execution, in order.

A mixin of the loop's run: it reads and updates the run's state (messages, usage, timings, retries).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ._errors import ModelRetry, UsageLimitExceeded
from ._events import (
    ConfirmationRequired,
    ConfirmationResolved,
    CorrectionSent,
    Event,
    PolicyDecided,
    RunPaused,
    ToolCallProposed,
    ToolResult,
)
from ._gate import ConfirmationRequest, GateContext, PolicyDecision
from ._hooks import Risk
from ._messages import Message, ToolCall, ToolResultMessage, canonical_json
from ._result import PendingCall, RunState, RunUsage, Timings
from ._tools import RunContext, Tool, ToolReturn, render_result

if TYPE_CHECKING:
    from ._agent import Agent
    from ._loop import UsageLimits


class _Acting:
    agent: Agent[Any]
    run_id: str
    deps: Any
    step: int
    retries: int
    risk: Risk | None
    limits: UsageLimits
    usage: RunUsage
    timings: Timings
    messages: list[Message]
    tools: dict[str, Tool]
    seen_calls: Counter[str]
    validated: dict[int, tuple[ToolCall, BaseModel]]
    fingerprints: dict[int, tuple[ToolCall, str]]

    def _event_kwargs(self) -> dict[str, Any]:
        return {"run_id": self.run_id}

    def _audit(self, kind: str, data: dict[str, Any]) -> None:
        raise NotImplementedError

    def _correction(self, reason: Any, message: str, call_id: str | None = None) -> CorrectionSent:
        raise NotImplementedError

    def _seconds_left(self) -> float:
        raise NotImplementedError

    def _over_time(self) -> UsageLimitExceeded:
        raise NotImplementedError

    async def _run_queue(
        self, queue: list[ToolCall], state: RunState | None, decisions: dict[str, str]
    ) -> AsyncGenerator[Event, None]:
        """Gate then run each call in order; pause (with a resumable state) at the first unanswerable confirmation."""
        pending_by_fp = {p.fingerprint: p for p in (state.pending if state else [])}
        for index, call in enumerate(queue):
            tool = self.tools.get(call.name)
            if tool is None:  # possible only when resuming with a different agent
                from ._errors import UserError

                raise UserError(f"the saved run calls tool {call.name!r}, which this agent does not have; add it")
            known = self.fingerprints.pop(id(call), None)
            fingerprint = known[1] if known is not None and known[0] is call else call.fingerprint()
            if fingerprint in pending_by_fp and fingerprint in decisions:
                approved = decisions[fingerprint] == "approve"
                decision = PolicyDecision("allow" if approved else "deny", "decided on resume", "resume")
                yield ConfirmationResolved(
                    call_id=call.id, fingerprint=fingerprint, approved=approved, by="resume", **self._event_kwargs()
                )
                self._audit("confirmation", {"call_id": call.id, "fingerprint": fingerprint, "approved": approved,
                                             "by": "resume"})
            else:
                yield ToolCallProposed(call=call, effect=tool.effect, **self._event_kwargs())
                if self.agent.audit is not None:  # the dump costs more than the rest of the step's bookkeeping
                    self._audit("proposed_call", {"call": call.model_dump(), "effect": tool.effect})
                decision = await self.agent.gate.decide(
                    call, tool, GateContext(run_id=self.run_id, messages=self.messages, risk=self.risk)
                )
                yield PolicyDecided(
                    call_id=call.id, action=decision.action, reason=decision.reason, rule=decision.rule,
                    **self._event_kwargs(),
                )
                self._audit("policy", {"call_id": call.id, "action": decision.action, "reason": decision.reason,
                                       "rule": decision.rule})
            if decision.action == "confirm":
                preview = await _safe_preview(tool, call)
                yield ConfirmationRequired(
                    call=call, fingerprint=fingerprint, preview=preview, reason=decision.reason, **self._event_kwargs()
                )
                confirmer = self.agent.confirmer
                if confirmer is None:
                    pending = PendingCall(call=call, fingerprint=fingerprint, effect=tool.effect, preview=preview,
                                          reason=decision.reason, rule=decision.rule)
                    paused = RunState(
                        run_id=self.run_id, messages=list(self.messages), queue=list(queue[index:]),
                        pending=[pending], step=self.step, retries=self.retries, usage=self.usage.model_copy(),
                    )
                    self._audit("paused", {"pending": [pending.fingerprint]})
                    yield RunPaused(state=paused, **self._event_kwargs())
                    return
                answer = await confirmer.confirm(ConfirmationRequest(
                    call=call, effect=tool.effect, fingerprint=fingerprint, preview=preview, reason=decision.reason
                ))
                yield ConfirmationResolved(
                    call_id=call.id, fingerprint=fingerprint, approved=answer.approved, by=answer.by,
                    **self._event_kwargs(),
                )
                self._audit("confirmation", {"call_id": call.id, "fingerprint": fingerprint,
                                             "approved": answer.approved, "by": answer.by})
                decision = PolicyDecision("allow" if answer.approved else "deny",
                                          "confirmed" if answer.approved else "declined by " + answer.by, decision.rule)
            if decision.action == "deny":
                content = f"The call to {call.name} was not executed: {decision.reason}. Do not retry it as is."
                self.messages.append(ToolResultMessage(tool_call_id=call.id, name=call.name, content=content,
                                                       is_error=True, provenance="trusted"))
                yield ToolResult(call_id=call.id, name=call.name, content=content, is_error=True, **self._event_kwargs())
                continue
            for event in await self._execute(call, tool, fingerprint):
                yield event

    async def _execute(self, call: ToolCall, tool: Tool, fingerprint: str) -> list[Event]:
        """Run one allowed call. A coroutine, not a generator: the tool's await is the step's one suspension,
        and each generator level it crosses costs time on every step."""
        self.seen_calls[fingerprint] += 1
        if self.seen_calls[fingerprint] > self.limits.max_identical_calls:
            message = (f"You already called {call.name} with these exact arguments "
                       f"{self.seen_calls[fingerprint] - 1} times. Use the earlier result and answer the user.")
            correction = self._correction("repeated_call", message, call.id)
            self.messages.append(ToolResultMessage(tool_call_id=call.id, name=call.name, content=message,
                                                   is_error=True, provenance="trusted"))
            return [correction]
        limit = self.limits.max_tool_calls
        if limit is not None and self.usage.tool_calls >= limit:
            raise UsageLimitExceeded(f"run reached max_tool_calls={limit}; raise UsageLimits.max_tool_calls")
        self.usage.tool_calls += 1
        # Validated when the call was parsed; a resumed run (new process) validates again.
        entry = self.validated.pop(id(call), None)
        arguments = entry[1] if entry is not None and entry[0] is call else tool.validate(call.arguments)
        ctx = RunContext(run_id=self.run_id, step=self.step, deps=self.deps, messages=self.messages)
        t0 = time.perf_counter()
        is_error = False
        vouched: list[str] = []
        try:
            if self.limits.max_seconds is None:
                value = await tool.execute(arguments, ctx)
            else:
                deadline = asyncio.timeout(self._seconds_left())
                try:
                    async with deadline:  # a hung tool must not hold the run past its max_seconds
                        value = await tool.execute(arguments, ctx)
                except TimeoutError:
                    if deadline.expired():
                        raise _OverTime from None
                    raise
            if isinstance(value, ToolReturn):
                vouched = [str(v) for v in value.vouched if str(v).strip()]
                value = value.value
            content = render_result(value)
        except ModelRetry as retry:
            self.timings.tools += time.perf_counter() - t0
            correction = self._correction("tool_retry", retry.message, call.id)
            self.messages.append(ToolResultMessage(tool_call_id=call.id, name=call.name, content=retry.message,
                                                   is_error=True, provenance="trusted"))
            return [correction]
        except _OverTime:
            raise self._over_time() from None
        except Exception as exc:  # a tool's failure is reported to the model, not fatal to the run
            is_error = True
            content = f"Tool {call.name} failed: {type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - t0
        self.timings.tools += seconds
        self._audit("executed", {"call_id": call.id, "fingerprint": fingerprint, "is_error": is_error,
                                 "seconds": round(seconds, 6)})
        provenance = tool.output_provenance if not is_error else "trusted"
        self.messages.append(ToolResultMessage(tool_call_id=call.id, name=call.name, content=content,
                                               is_error=is_error, provenance=provenance,
                                               vouched=vouched if not is_error else []))
        return [ToolResult(call_id=call.id, name=call.name, content=content, is_error=is_error, seconds=seconds,
                           **self._event_kwargs())]


class _OverTime(Exception):
    """The run's max_seconds ran out while a tool was running (told apart from a tool's own TimeoutError)."""


async def _safe_preview(tool: Tool, call: ToolCall) -> str:
    """A preview that fails must not crash the run nor hide the call: say so in the preview itself."""
    try:
        return await tool.render_preview(call.arguments) or f"{call.name}({canonical_json(call.arguments)})"
    except Exception as exc:
        return f"(no preview: {type(exc).__name__}: {exc})\n{call.name}({canonical_json(call.arguments)})"
