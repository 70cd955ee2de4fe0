"""The agent is configuration; the loop in `_loop` executes it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from typing import Any, Generic, Protocol, TypeVar, cast, overload

from ._decoding import DecodingSettings, preset
from ._errors import RunError, UserError
from ._events import Event, FinalOutput, RunPaused
from ._final import FINAL_TOOL
from ._gate import Confirmer, EffectGate, Gate
from ._hooks import ContextStrategy, Guard, Router
from ._loop import UsageLimits, _Run, new_run_id
from ._messages import Message
from ._result import RunResult, RunState
from ._tools import Tool, as_tools
from .models._base import Model, ToolChoice

OutputT = TypeVar("OutputT")


class AuditSink(Protocol):
    """Receives one record per loop decision; returns the record's id. The policy layer's audit log is one."""

    def write(self, kind: str, data: dict[str, Any]) -> str: ...


class Agent(Generic[OutputT]):
    """What to run: a model, tools, instructions, settings and limits. Reusable and safe to share across runs.

    `model` may be a `Model`, a GGUF path, an http(s) base URL of an OpenAI-compatible server, or None for
    the embedded default (SmolLM2-135M-Instruct). It is resolved on first use, not at construction.
    """

    @overload
    def __init__(
        self: Agent[str], model: Model | str | None = None, *, tools: Sequence[Tool | Callable[..., Any]] = (),
        system: str | None = None, name: str = "agent", preset: str | None = None,
        settings: DecodingSettings | None = None, tool_choice: ToolChoice = "auto", output_type: None = None,
        limits: UsageLimits | None = None, gate: Gate | None = None, confirmer: Confirmer | None = None,
        audit: AuditSink | None = None, router: Router | None = None, context: ContextStrategy | None = None,
        guards: Sequence[Guard] = (),
    ) -> None: ...
    @overload
    def __init__(
        self: Agent[OutputT], model: Model | str | None = None, *, tools: Sequence[Tool | Callable[..., Any]] = (),
        system: str | None = None, name: str = "agent", preset: str | None = None,
        settings: DecodingSettings | None = None, tool_choice: ToolChoice = "auto", output_type: type[OutputT],
        limits: UsageLimits | None = None, gate: Gate | None = None, confirmer: Confirmer | None = None,
        audit: AuditSink | None = None, router: Router | None = None, context: ContextStrategy | None = None,
        guards: Sequence[Guard] = (),
    ) -> None: ...
    def __init__(
        self, model: Model | str | None = None, *, tools: Sequence[Tool | Callable[..., Any]] = (),
        system: str | None = None, name: str = "agent", preset: str | None = None,
        settings: DecodingSettings | None = None, tool_choice: ToolChoice = "auto", output_type: Any = None,
        limits: UsageLimits | None = None, gate: Gate | None = None, confirmer: Confirmer | None = None,
        audit: AuditSink | None = None, router: Router | None = None, context: ContextStrategy | None = None,
        guards: Sequence[Guard] = (),
    ) -> None:
        self.name = name
        self._model_spec = model
        self._model: Model | None = model if model is not None and not isinstance(model, str) else None
        self.tools: dict[str, Tool] = as_tools(tools)
        self.system = system
        self.preset_name = preset
        self.explicit_settings = settings
        self.settings = _preset_or_default(preset).merged(settings)
        if tool_choice not in ("auto", "required", "none") and tool_choice not in self.tools:
            raise UserError(f"tool_choice {tool_choice!r} names no tool of this agent; use auto, required, none or one of "
                            f"{', '.join(self.tools) or '(no tools)'}")
        self.tool_choice = tool_choice
        self.output_type: Any = str if output_type is None else output_type
        if self.output_type is not str and FINAL_TOOL in self.tools:
            raise UserError(f"the tool name {FINAL_TOOL!r} is reserved for typed output (output_type=...); "
                            f"rename your tool with @tool(name=...)")
        self.limits = limits or UsageLimits()
        self.gate: Gate = gate or EffectGate()
        self.confirmer = confirmer
        self.audit = audit
        self.router = router
        self.context = context
        self.guards = list(guards)

    def resolved_model(self) -> Model:
        if self._model is None:
            from .models import resolve_model

            self._model = resolve_model(cast("str | None", self._model_spec))
        return self._model

    def with_model(self, model: Model) -> Agent[OutputT]:
        """A copy of this agent (same tools, settings, hooks) that runs on `model`, e.g. a scheduled wrapper."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._model_spec = model
        clone._model = model
        return clone

    def _with_overrides(self, settings: DecodingSettings | None) -> Agent[OutputT]:
        if settings is None:
            return self
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.settings = self.settings.merged(settings)
        clone.explicit_settings = (self.explicit_settings or DecodingSettings()).merged(settings)
        return clone

    def run_stream(
        self, prompt: str | None = None, *, history: Sequence[Message] | None = None, state: RunState | None = None,
        decisions: dict[str, str] | None = None, settings: DecodingSettings | None = None, deps: Any = None,
    ) -> AsyncGenerator[Event, None]:
        """Run, yielding typed events as they happen. The last event is FinalOutput, RunPaused, or RunFailed
        (after which the error is raised). Closing the iterator cancels the run and releases the model.

        Misuse raises UserError at once. The loop's own generator is returned as is: a wrapper generator
        would add its cost to every event and every suspension of the run."""
        if prompt is None and state is None:
            raise UserError("give a prompt, or a saved RunState to resume")
        if state is not None and prompt is not None:
            raise UserError("give either a prompt or a state to resume, not both")
        if state is not None and history:
            raise UserError("a resumed run continues the saved state's own messages; drop history=... when "
                            "passing state=...")
        if decisions:
            bad = {v for v in decisions.values()} - {"approve", "deny"}
            if bad:
                raise UserError(f"decisions must be 'approve' or 'deny'; got {sorted(bad)}")
        if state is not None:
            pending = sorted(p.fingerprint for p in state.pending)
            unknown = sorted(set(decisions or {}) - set(pending))
            if unknown:
                raise UserError(f"no pending call has fingerprint {unknown[0]!r}; decide with the full fingerprint "
                                f"of a pending call: {', '.join(pending) or '(none)'}")
            if state._resumed:
                raise UserError("this RunState was already resumed, and resuming it again could run an approved "
                                "call twice; resume the state of the run's latest RunPaused event instead")
            state._resumed = True
        agent = self._with_overrides(settings)
        run = _Run(agent, run_id=state.run_id if state else new_run_id(), deps=deps)
        return run.events(prompt, list(history or []), state, decisions)

    async def run(
        self, prompt: str | None = None, *, history: Sequence[Message] | None = None, state: RunState | None = None,
        decisions: dict[str, str] | None = None, settings: DecodingSettings | None = None, deps: Any = None,
    ) -> RunResult:
        """Drain `run_stream`. A paused run returns a result with status 'awaiting_confirmation' and its state."""
        stream = self.run_stream(prompt, history=history, state=state, decisions=decisions, settings=settings, deps=deps)
        async with aclosing(stream) as events:
            async for event in events:
                if isinstance(event, FinalOutput):
                    return event.result
                if isinstance(event, RunPaused):
                    return RunResult(
                        run_id=event.state.run_id, status="awaiting_confirmation", messages=event.state.messages,
                        usage=event.state.usage, state=event.state,
                    )
        raise RunError("the run ended without a result")  # pragma: no cover - the loop always ends with one

    def run_sync(
        self, prompt: str | None = None, *, history: Sequence[Message] | None = None, state: RunState | None = None,
        decisions: dict[str, str] | None = None, settings: DecodingSettings | None = None, deps: Any = None,
    ) -> RunResult:
        """`run` for code without an event loop."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.run(
                prompt, history=history, state=state, decisions=decisions, settings=settings, deps=deps
            ))
        raise UserError("run_sync() was called inside a running event loop; use `await agent.run(...)` instead")


def _preset_or_default(name: str | None) -> DecodingSettings:
    return preset(name) if name else DecodingSettings()
