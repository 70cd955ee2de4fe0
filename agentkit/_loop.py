"""The loop: the only place a run happens. Streaming is the loop; `run()` and `run_sync()` drain it.

Each step: build the request -> stream the model -> turn its output into either a final answer or calls ->
validate each call -> gate it (allow / confirm / deny) -> execute what is allowed -> feed results back.
Anything unusable the model produced goes back to it as a correction, within the retry budget.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from ._acting import _Acting
from ._decoding import DecodingSettings, preset
from ._errors import (
    OutputValidationError,
    RetryBudgetExhausted,
    RunError,
    UsageLimitExceeded,
)
from ._events import (
    ContextBuilt,
    CorrectionSent,
    Event,
    FinalOutput,
    ModelResponded,
    Refused,
    Routed,
    RunFailed,
    RunPaused,
    RunStarted,
)
from ._final import FINAL_TOOL, FinalResultTool
from ._hooks import Risk
from ._messages import (
    AssistantMessage,
    Message,
    SystemMessage,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from ._result import RunResult, RunState, RunUsage, Timings
from ._streaming import _Streaming, _Turn
from ._tools import Tool, format_validation_error, render_result
from .models._base import Model, ModelRequest

if TYPE_CHECKING:
    from ._agent import Agent



@dataclass(frozen=True)
class UsageLimits:
    """Bounds on one run. A run that reaches one stops with UsageLimitExceeded, never hangs."""

    max_steps: int = 10
    max_tokens: int | None = None
    max_tool_calls: int | None = None
    max_seconds: float | None = None
    max_retries: int = 3
    max_identical_calls: int = 2


class _Run(_Acting, _Streaming):
    def __init__(self, agent: Agent[Any], *, run_id: str, deps: Any) -> None:
        self.agent = agent
        self.run_id = run_id
        self.deps = deps
        self.limits = agent.limits
        self.usage = RunUsage()
        self.timings = Timings()
        self.started = time.perf_counter()
        self.messages: list[Message] = []
        self.step = 0
        self.retries = 0
        self.seen_calls: Counter[str] = Counter()
        self.validated: dict[int, tuple[ToolCall, BaseModel]] = {}  # keyed by object: ids may repeat
        self.fingerprints: dict[int, tuple[ToolCall, str]] = {}  # same: computed once per proposed call
        self.asked_again = False  # an empty answer is sent back once per run
        self.tools: dict[str, Tool] = dict(agent.tools)
        self.output_schema: dict[str, Any] | None = None
        self.output_adapter: TypeAdapter[Any] | None = None
        self.audit_ids: list[str] = []
        self.settings: DecodingSettings = agent.settings
        self.tool_choice = agent.tool_choice
        self.risk: Risk | None = None
        self.model: Model | None = None
        if agent.output_type is not str:
            self.output_adapter = TypeAdapter(agent.output_type)
            self.output_schema = self.output_adapter.json_schema()
            if self.tools:
                self.tools[FINAL_TOOL] = FinalResultTool(self.output_schema)

    # -- helpers -------------------------------------------------------------------------------------------
    def _event_kwargs(self) -> dict[str, Any]:
        return {"run_id": self.run_id}

    def _audit(self, kind: str, data: dict[str, Any]) -> None:
        if self.agent.audit is not None:
            self.audit_ids.append(self.agent.audit.write(kind, {"run_id": self.run_id, **data}))

    def _check_time(self) -> None:
        limit = self.limits.max_seconds
        if limit is not None and time.perf_counter() - self.started > limit:
            raise self._over_time()

    def _over_time(self) -> UsageLimitExceeded:
        limit = self.limits.max_seconds
        return UsageLimitExceeded(f"run exceeded max_seconds={limit}; raise UsageLimits.max_seconds or simplify the task")

    def _seconds_left(self) -> float:
        assert self.limits.max_seconds is not None
        return max(0.0, self.limits.max_seconds - (time.perf_counter() - self.started))

    def _correction(self, reason: Any, message: str, call_id: str | None = None) -> CorrectionSent:
        self.retries += 1
        if self.retries > self.limits.max_retries:
            raise RetryBudgetExhausted(
                f"the model produced {self.retries} unusable turns (last: {reason}: {message.splitlines()[0]}); "
                f"raise UsageLimits.max_retries or use a stronger model"
            )
        return CorrectionSent(reason=reason, message=message, call_id=call_id, **self._event_kwargs())

    def _result(self, output: Any) -> RunResult:
        self.timings.total = time.perf_counter() - self.started
        return RunResult(
            run_id=self.run_id, output=output, messages=list(self.messages), usage=self.usage.model_copy(),
            timings=self.timings.model_copy(), audit_ids=list(self.audit_ids),
        )

    # -- the loop ------------------------------------------------------------------------------------------
    async def events(
        self, prompt: str | None, history: list[Message] | None, state: RunState | None,
        decisions: dict[str, str] | None,
    ) -> AsyncGenerator[Event, None]:
        try:
            if state is not None:
                self._restore(state)
                model = self._model()
                yield RunStarted(prompt="", model=model.name, **self._event_kwargs())
                async with aclosing(self._run_queue(state.queue, state, decisions or {})) as _inner:
                    async for event in _inner:
                        yield event
                        if isinstance(event, RunPaused):
                            return
            else:
                self.messages = self._initial_messages(prompt or "", history)
                answered: list[str] = []
                routing = await self._route(prompt or "", history or [], answered)
                model = self._model()
                self._audit("request", {"prompt": prompt, "model": model.name})
                yield RunStarted(prompt=prompt or "", model=model.name, **self._event_kwargs())
                for event in routing:
                    yield event
                if answered:
                    self.messages.append(AssistantMessage(content=answered[0]))
                    yield FinalOutput(result=self._result(answered[0]), **self._event_kwargs())
                    return
            while True:
                final: list[Any] = []
                async with aclosing(self._step(model, final)) as _inner:
                    async for event in _inner:
                        yield event
                        if isinstance(event, RunPaused):
                            return
                if final:
                    result = self._result(final[0])
                    self._audit("final", {"output": render_result(final[0])[:4000]})
                    result.audit_ids = list(self.audit_ids)
                    yield FinalOutput(result=result, **self._event_kwargs())
                    return
        except RunError as exc:
            self._audit("error", {"type": type(exc).__name__, "message": str(exc)})
            yield RunFailed(error_type=type(exc).__name__, message=str(exc), usage=self.usage, **self._event_kwargs())
            raise

    def _model(self) -> Model:
        if self.model is None:
            self.model = self.agent.resolved_model()
        return self.model

    async def _route(self, prompt: str, history: list[Message], answered: list[str]) -> list[Event]:
        """Apply the router's plan and the input guards; fill `answered` when the model must not run."""
        events: list[Event] = []
        router = self.agent.router
        if router is not None:
            tools = list(self.agent.tools.values())
            aroute = getattr(router, "aroute", None)  # a router that may call a model routes without blocking the loop
            plan = (await aroute(prompt, tools=tools, history=history) if aroute is not None
                    else router.route(prompt, tools=tools, history=history))
            decision = plan.model_dump(mode="json")
            events.append(Routed(decision=decision, **self._event_kwargs()))
            self._audit("routing", {"decision": decision})
            self.risk = plan.risk
            if plan.tool_names is not None:
                keep = set(plan.tool_names) | {FINAL_TOOL}
                self.tools = {name: t for name, t in self.tools.items() if name in keep}
            if plan.preset and self.agent.preset_name is None:
                self.settings = preset(plan.preset).merged(self.agent.explicit_settings)
            if plan.tool_choice and self.tool_choice == "auto" and (
                plan.tool_choice in ("auto", "required", "none") or plan.tool_choice in self.tools
            ):
                self.tool_choice = plan.tool_choice
            if self.tool_choice not in ("auto", "required", "none") and self.tool_choice not in self.tools:
                self.tool_choice = "auto"
            if not [t for t in self.tools if t != FINAL_TOOL] and self.tool_choice != "none":
                self.tool_choice = "auto"
            chosen = router.model_for(plan)
            if chosen is not None:
                self.model = chosen
            if plan.refusal:
                events.append(Refused(kind="refusal", message=plan.refusal, **self._event_kwargs()))
                answered.append(plan.refusal)
                return events
            if plan.clarifying_question:
                events.append(Refused(kind="clarification", message=plan.clarifying_question, **self._event_kwargs()))
                answered.append(plan.clarifying_question)
                return events
        for guard in self.agent.guards:
            refusal = guard.check_input(prompt, risk=self.risk)
            if refusal:
                self._audit("input_refused", {"message": refusal})
                events.append(Refused(kind="refusal", message=refusal, **self._event_kwargs()))
                answered.append(refusal)
                return events
        return events

    def _initial_messages(self, prompt: str, history: list[Message] | None) -> list[Message]:
        messages: list[Message] = []
        if self.agent.system and not (history and isinstance(history[0], SystemMessage)):
            messages.append(SystemMessage(content=self.agent.system))
        messages.extend(history or [])
        messages.append(UserMessage(content=prompt))
        return messages

    def _restore(self, state: RunState) -> None:
        self.run_id = state.run_id
        self.messages = list(state.messages)
        self.step = state.step
        self.retries = state.retries
        self.usage = state.usage.model_copy()

    async def _step(self, model: Model, final: list[Any]) -> AsyncGenerator[Event, None]:
        self._check_time()
        if self.step >= self.limits.max_steps:
            raise UsageLimitExceeded(
                f"run reached max_steps={self.limits.max_steps} without a final answer; raise UsageLimits.max_steps"
            )
        self.step += 1
        t0 = time.perf_counter()
        request, notes, report = self._request(model)
        self.timings.context_build += time.perf_counter() - t0
        yield ContextBuilt(
            step=self.step, messages=len(request.messages), tools=[t.name for t in request.tools], notes=notes,
            report=report, **self._event_kwargs(),
        )
        turn: _Turn | None = None
        async with aclosing(self._stream_model(model, request)) as _inner:
            async for item in _inner:
                if isinstance(item, _Turn):
                    turn = item
                else:
                    yield item
        assert turn is not None
        self._account(turn.finish)
        yield ModelResponded(
            step=self.step, finish_reason=turn.finish.reason, prompt_tokens=turn.finish.usage.prompt_tokens,
            completion_tokens=turn.finish.usage.completion_tokens, queue_wait=turn.finish.queue_wait,
            prefill=turn.finish.prefill, decode=turn.finish.decode, **self._event_kwargs(),
        )
        if turn.finish.reason == "length" and turn.calls:
            # Only the last call can be cut off; the ones before it were closed and stay usable.
            cut_id, cut_name, _ = turn.calls.pop()
            message = (
                f"Your call to {cut_name or 'a tool'} was cut off by the token limit and was NOT executed. "
                "Call the tool again with shorter arguments."
            )
            yield self._correction("truncated_call", message, cut_id)
            if not turn.calls:
                self.messages.append(AssistantMessage(content=turn.text))
                self.messages.append(UserMessage(content=message, kind="correction"))
                return
        if not turn.calls:
            async with aclosing(self._finish_text(turn, final)) as _inner:
                async for event in _inner:
                    yield event
            return
        calls: list[ToolCall] = []
        corrections: list[tuple[ToolCall, CorrectionSent]] = []
        seen: set[str] = set()
        for call_id, name, raw in turn.calls:
            call, problem = self._parse_call(call_id, name, raw)
            if problem is None:
                fingerprint = call.fingerprint()
                if fingerprint in seen:
                    continue  # identical calls in one turn (small models repeat themselves) run once
                seen.add(fingerprint)
                self.fingerprints[id(call)] = (call, fingerprint)  # the gate's step reuses it (same object)
            calls.append(call)
            if problem is not None:
                corrections.append((call, problem))
        self.messages.append(AssistantMessage(content=turn.text, tool_calls=calls))
        bad = {id(c) for c, _ in corrections}  # by object: a valid call may share its id with a bad one
        for call, correction in corrections:
            yield correction
            self.messages.append(
                ToolResultMessage(tool_call_id=call.id, name=call.name, content=correction.message, is_error=True,
                                  provenance="trusted")
            )
        good = [c for c in calls if id(c) not in bad]
        for call in good:
            if call.name == FINAL_TOOL:
                # The final answer ends the turn; the other calls still get a result, or the history is unusable.
                for other in good:
                    if other is not call:
                        self.messages.append(ToolResultMessage(
                            tool_call_id=other.id, name=other.name, is_error=True, provenance="trusted",
                            content=f"The call to {other.name} was not executed: {FINAL_TOOL} was called in the "
                                    "same turn. Call it again if you still need its result.",
                        ))
                async with aclosing(self._finish_tool(call, final)) as _inner:
                    async for event in _inner:
                        yield event
                return
        async with aclosing(self._run_queue(good, None, {})) as _inner:
            async for event in _inner:
                yield event

    def _request(self, model: Model) -> tuple[ModelRequest, list[str], dict[str, Any]]:
        settings = self.settings
        tools = list(self.tools.values())
        choice = self.tool_choice
        if choice != "auto" and choice != "none" and self.usage.tool_calls > 0:
            choice = "auto"  # "required"/a named tool forces the first call; afterwards the model may answer
        if FINAL_TOOL in self.tools:
            choice = "required"
        if self.output_schema is not None and not tools:
            settings = settings.model_copy(update={"response_schema": self.output_schema})
        messages: list[Message] = list(self.messages)
        notes: list[str] = []
        report: dict[str, Any] = {}
        if self.agent.context is not None:
            built = self.agent.context.build(messages, tools=tools, model=model, settings=settings)
            messages, notes, report = built.messages, built.notes, built.report
        request = ModelRequest(messages=messages, tools=tools, tool_choice=choice, settings=settings)
        return request, notes, report

    def _parse_call(self, call_id: str, name: str | None, raw: str) -> tuple[ToolCall, CorrectionSent | None]:
        name = name or ""
        if name not in self.tools:
            offered = ", ".join(sorted(self.tools)) or "(none)"
            call = ToolCall(id=call_id, name=name or "unknown", arguments={})
            return call, self._correction(
                "unknown_tool", f"There is no tool named {name!r}. Available tools: {offered}.", call_id
            )
        try:
            arguments = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            call = ToolCall(id=call_id, name=name, arguments={})
            return call, self._correction(
                "invalid_json",
                f"The arguments for {name!r} are not valid JSON ({exc.msg} at position {exc.pos}). "
                "Send one JSON object.",
                call_id,
            )
        if not isinstance(arguments, dict):
            call = ToolCall(id=call_id, name=name, arguments={})
            return call, self._correction(
                "invalid_json", f"The arguments for {name!r} must be a JSON object, not {type(arguments).__name__}.",
                call_id,
            )
        call = ToolCall(id=call_id, name=name, arguments=arguments)
        try:
            self.validated[id(call)] = (call, self.tools[name].validate(arguments))
        except ValidationError as exc:
            return call, self._correction("invalid_arguments", format_validation_error(name, exc), call_id)
        return call, None

    async def _finish_text(self, turn: _Turn, final: list[Any]) -> AsyncGenerator[Event, None]:
        self.messages.append(AssistantMessage(content=turn.text))
        if self.output_adapter is None:
            if not turn.text.strip() and not self.asked_again and self.retries < self.limits.max_retries:
                self.asked_again = True
                # Small models sometimes open their answer by imitating a tool-result tag, which the stop cuts
                # at once: an empty answer helps nobody, so ask once more (within the retry budget).
                yield self._correction("empty_answer", EMPTY_ANSWER)
                self.messages.append(UserMessage(content=EMPTY_ANSWER, kind="correction"))
                return
            final.append(turn.text)
            return
        try:
            final.append(self.output_adapter.validate_json(turn.text))
        except ValidationError as exc:
            message = format_validation_error("final answer", exc).replace(
                "Call the tool again with corrected arguments.", "Answer again with JSON that matches the schema."
            )
            try:
                yield self._correction("invalid_output", message)
            except RetryBudgetExhausted as budget:
                raise OutputValidationError(f"final output never validated: {message}") from budget
            self.messages.append(UserMessage(content=message, kind="correction"))

    async def _finish_tool(self, call: ToolCall, final: list[Any]) -> AsyncGenerator[Event, None]:
        assert self.output_adapter is not None
        wrapped = self.output_schema is not None and self.output_schema.get("type") == "object"
        payload = call.arguments if wrapped else call.arguments.get("result")
        try:
            final.append(self.output_adapter.validate_python(payload))
        except ValidationError as exc:
            message = format_validation_error(FINAL_TOOL, exc)
            try:
                correction = self._correction("invalid_output", message, call.id)
            except RetryBudgetExhausted as budget:
                raise OutputValidationError(f"final output never validated: {message}") from budget
            yield correction
            self.messages.append(
                ToolResultMessage(tool_call_id=call.id, name=FINAL_TOOL, content=message, is_error=True, provenance="trusted")
            )
            return
        self.messages.append(ToolResultMessage(tool_call_id=call.id, name=FINAL_TOOL, content="accepted", provenance="trusted"))

    # -- gate and execution --------------------------------------------------------------------------------


EMPTY_ANSWER = "Your answer was empty. Answer the user's request now, in plain words, using the results above."


def new_run_id() -> str:
    return "run_" + uuid.uuid4().hex[:16]
