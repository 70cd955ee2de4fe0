"""The loop, driven by the scripted model: calls, corrections, limits, typed output, confirmation, streaming."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from pydantic import BaseModel

from agentkit import (
    Agent,
    ConfirmationRequest,
    Confirmer,
    CorrectionSent,
    Event,
    FinalOutput,
    ModelRetry,
    OutputValidationError,
    RetryBudgetExhausted,
    RunFailed,
    RunState,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolCallProposed,
    ToolResult,
    UsageLimitExceeded,
    UsageLimits,
    UserError,
    deny_all,
    tool,
)
from agentkit.testing import ScriptedCall, ScriptedModel, ScriptExhaustedError, call, text


@tool(effect="read")
def add(a: float, b: float) -> float:
    """Add two numbers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b


deleted: list[str] = []


@tool(effect="destructive")
def delete(path: str) -> str:
    """Delete a file."""
    deleted.append(path)
    return f"deleted {path}"


@delete.preview
def _preview_delete(arguments: dict[str, Any]) -> str:
    return f"would delete {arguments['path']}"


@pytest.fixture(autouse=True)
def _reset() -> None:
    deleted.clear()


def test_schema_from_hints_and_docstring() -> None:
    schema = add.parameters_schema
    assert schema["required"] == ["a", "b"]
    assert schema["properties"]["a"] == {"type": "number", "description": "The first number."}
    assert schema["additionalProperties"] is False
    assert add.description == "Add two numbers."
    assert add(1, 2) == 3  # a tool is still a plain function


def test_call_then_answer() -> None:
    with ScriptedModel([call("add", {"a": 2.5, "b": 4}), text("2.5 + 4 = 6.5")]) as model:
        result = Agent(model, tools=[add]).run_sync("What is 2.5 + 4?")
    assert result.output == "2.5 + 4 = 6.5"
    assert result.usage.tool_calls == 1
    assert result.usage.model_requests == 2
    tool_message = result.messages[-2]
    assert tool_message.role == "tool"
    assert tool_message.content == "6.5"
    assert tool_message.provenance == "untrusted"


@pytest.mark.parametrize(
    ("bad_turn", "reason", "fragment"),
    [
        (call("add", {"a": 1, "b": "two"}), "invalid_arguments", "b: Input should be a valid number"),
        (call("add", {"a": 1}), "invalid_arguments", "b: Field required"),
        (call("add", {"a": 1, "b": 2, "c": 3}), "invalid_arguments", "c: Extra inputs are not permitted"),
        (call("multiply", {"a": 1}), "unknown_tool", "There is no tool named 'multiply'. Available tools: add"),
        (call("add", '{"a": 1, "b": '), "invalid_json", "not valid JSON"),
        (call("add", "[1, 2]"), "invalid_json", "must be a JSON object"),
    ],
)
def test_bad_calls_become_corrections(bad_turn: Any, reason: str, fragment: str) -> None:
    model = ScriptedModel([bad_turn, call("add", {"a": 1, "b": 2}), text("3")])
    events = _collect(Agent(model, tools=[add]), "1+2?")
    corrections = [e for e in events if isinstance(e, CorrectionSent)]
    assert [c.reason for c in corrections] == [reason]
    assert fragment in corrections[0].message
    final = events[-1]
    assert isinstance(final, FinalOutput)
    assert final.result.output == "3"
    # the correction reached the model as a tool result tied to the bad call
    second_request = model.requests[1]
    assert fragment in second_request.messages[-1].content
    model.assert_all_used()


def test_retry_budget_is_bounded() -> None:
    model = ScriptedModel([call("nope")] * 3)
    agent = Agent(model, tools=[add], limits=UsageLimits(max_retries=2))
    with pytest.raises(RetryBudgetExhausted, match="unusable turns"):
        agent.run_sync("x")


def test_truncated_call_is_never_executed() -> None:
    model = ScriptedModel([call("delete", '{"path": "/tm', finish="length"), text("sorry")])
    agent = Agent(model, tools=[delete], confirmer=Confirmer(lambda r: True))
    events = _collect(agent, "delete /tmp/x")
    assert [e.reason for e in events if isinstance(e, CorrectionSent)] == ["truncated_call"]
    assert not [e for e in events if isinstance(e, ToolCallProposed)]
    assert deleted == []


def test_tool_retry_signal_and_tool_failure() -> None:
    attempts: list[int] = []

    @tool(effect="read")
    def lookup(key: str) -> str:
        """Look a key up."""
        attempts.append(1)
        if key == "boom":
            raise RuntimeError("disk on fire")
        if key != "b":
            raise ModelRetry("unknown key; valid keys are: b")
        return "value-b"

    model = ScriptedModel([call("lookup", {"key": "a"}), call("lookup", {"key": "boom"}),
                           call("lookup", {"key": "b"}), text("done")])
    events = _collect(Agent(model, tools=[lookup]), "get b")
    results = [e for e in events if isinstance(e, ToolResult)]
    assert [r.is_error for r in results] == [True, False]
    assert "RuntimeError: disk on fire" in results[0].content
    assert [e.reason for e in events if isinstance(e, CorrectionSent)] == ["tool_retry"]
    assert len(attempts) == 3


def test_several_calls_in_one_turn() -> None:
    turn = call("add", {"a": 1, "b": 2}, ScriptedCall("add", {"a": 3, "b": 4}))
    with ScriptedModel([turn, text("3 and 7")]) as model:
        result = Agent(model, tools=[add]).run_sync("both")
    assert [m.content for m in result.messages if m.role == "tool"] == ["3.0", "7.0"]


def test_repeated_identical_calls_are_broken() -> None:
    model = ScriptedModel([call("add", {"a": 1, "b": 1})] * 3 + [text("2")])
    events = _collect(Agent(model, tools=[add], limits=UsageLimits(max_identical_calls=2)), "1+1")
    assert [e.reason for e in events if isinstance(e, CorrectionSent)] == ["repeated_call"]
    assert sum(isinstance(e, ToolResult) for e in events) == 2


def test_limits() -> None:
    with pytest.raises(UsageLimitExceeded, match="max_steps=2"):
        Agent(ScriptedModel([call("add", {"a": 1, "b": i}) for i in range(3)]), tools=[add],
              limits=UsageLimits(max_steps=2)).run_sync("loop")
    with pytest.raises(UsageLimitExceeded, match="max_tool_calls=1"):
        Agent(ScriptedModel([call("add", {"a": 1, "b": i}) for i in range(3)]), tools=[add],
              limits=UsageLimits(max_tool_calls=1)).run_sync("loop")
    with pytest.raises(UsageLimitExceeded, match="max_tokens=5"):
        Agent(ScriptedModel([text("a b c d e f g")]), limits=UsageLimits(max_tokens=5)).run_sync("long")


class Weather(BaseModel):
    city: str
    celsius: float


def test_typed_output_without_tools_uses_response_schema() -> None:
    model = ScriptedModel([text("not json"), text('{"city": "Paris", "celsius": 21.5}')])
    result = Agent(model, output_type=Weather).run_sync("weather?")
    assert result.output == Weather(city="Paris", celsius=21.5)
    assert model.requests[0].settings.response_schema == Weather.model_json_schema()


def test_typed_output_with_tools_uses_final_tool() -> None:
    model = ScriptedModel([call("add", {"a": 20, "b": 1.5}), call("final_result", {"city": "Oslo", "celsius": 21.5})])
    result = Agent(model, tools=[add], output_type=Weather).run_sync("weather?")
    assert result.output == Weather(city="Oslo", celsius=21.5)
    assert model.requests[0].tool_choice == "required"


def test_typed_output_that_never_validates() -> None:
    model = ScriptedModel([text("{}")] * 4)
    with pytest.raises(OutputValidationError):
        Agent(model, output_type=int).run_sync("number?")


def test_streaming_event_order() -> None:
    model = ScriptedModel([call("add", {"a": 1, "b": 2}), text("it is 3")])
    kinds = [e.type for e in _collect(Agent(model, tools=[add]), "1+2")]
    assert kinds[0] == "run_started"
    assert kinds.index("tool_call_delta") < kinds.index("tool_call_proposed") < kinds.index("policy_decided")
    assert kinds.index("policy_decided") < kinds.index("tool_result") < kinds.index("text_delta")
    assert kinds[-1] == "final"


def test_text_deltas_rebuild_the_output() -> None:
    events = _collect(Agent(ScriptedModel([text("one two three")])), "count")
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "one two three"
    deltas = [e for e in _collect(Agent(ScriptedModel([call("add", {"a": 1, "b": 2}), text("3")]), tools=[add]), "x")
              if isinstance(e, ToolCallDelta)]
    assert json.loads("".join(d.arguments_delta for d in deltas)) == {"a": 1, "b": 2}


async def test_closing_the_stream_cancels_the_run() -> None:
    model = ScriptedModel([call("add", {"a": 1, "b": 2}), text("3")])
    stream = Agent(model, tools=[add]).run_stream("1+2")
    async for event in stream:
        if isinstance(event, ToolCallDelta):
            break
    await stream.aclose()
    assert model.unused == 1


def test_destructive_call_pauses_without_confirmer_and_resumes_in_another_process(tmp_path: Any) -> None:
    model = ScriptedModel([call("delete", {"path": "a.txt"})])
    agent = Agent(model, tools=[delete])
    paused = agent.run_sync("delete a.txt")
    assert paused.status == "awaiting_confirmation"
    assert paused.state is not None
    assert deleted == []
    pending = paused.state.pending[0]
    assert pending.preview == "would delete a.txt"
    assert pending.fingerprint == paused.state.queue[0].fingerprint()
    state_file = tmp_path / "state.json"
    state_file.write_text(paused.state.dump())
    script = f"""
import json, sys
from agentkit import Agent, RunState
from agentkit.testing import ScriptedModel, text
from tests.test_loop import delete, deleted
state = RunState.load(open({str(state_file)!r}).read())
model = ScriptedModel([text("done")])
result = Agent(model, tools=[delete]).run_sync(state=state, decisions={{state.pending[0].fingerprint: "approve"}})
print(json.dumps({{"output": result.output, "deleted": deleted}}))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"output": "done", "deleted": ["a.txt"]}


def test_resume_with_denial_reports_to_the_model() -> None:
    paused = Agent(ScriptedModel([call("delete", {"path": "b"})]), tools=[delete]).run_sync("delete b")
    assert paused.state is not None
    state = RunState.load(paused.state.dump())
    model = ScriptedModel([text("ok, not deleted")])
    result = Agent(model, tools=[delete]).run_sync(state=state, decisions={state.pending[0].fingerprint: "deny"})
    assert result.output == "ok, not deleted"
    assert deleted == []
    assert "not executed" in model.requests[0].messages[-1].content


def test_approval_binds_to_the_exact_call() -> None:
    paused = Agent(ScriptedModel([call("delete", {"path": "b"})]), tools=[delete]).run_sync("delete b")
    assert paused.state is not None
    other = ToolCall(id=paused.state.queue[0].id, name="delete", arguments={"path": "c"})
    wrong = {other.fingerprint(): "approve"}
    # an approval for another fingerprint does not approve this call: it is refused, and nothing runs
    with pytest.raises(UserError, match="no pending call has fingerprint"):
        Agent(ScriptedModel([]), tools=[delete]).run_sync(state=paused.state, decisions=wrong)
    assert deleted == []


def test_confirmer_callback_sees_preview_and_decides() -> None:
    seen: list[ConfirmationRequest] = []

    def decide(request: ConfirmationRequest) -> bool:
        seen.append(request)
        return bool(request.call.arguments["path"] == "ok.txt")

    model = ScriptedModel([call("delete", {"path": "ok.txt"}, ScriptedCall("delete", {"path": "no.txt"})), text("1 of 2")])
    result = Agent(model, tools=[delete], confirmer=Confirmer(decide)).run_sync("delete both")
    assert deleted == ["ok.txt"]
    assert [r.preview for r in seen] == ["would delete ok.txt", "would delete no.txt"]
    assert result.output == "1 of 2"


def test_deny_all() -> None:
    with ScriptedModel([call("delete", {"path": "x"}), text("refused")]) as model:
        Agent(model, tools=[delete], confirmer=deny_all()).run_sync("delete x")
    assert deleted == []


def test_scripted_model_catches_unused_and_unexpected_turns() -> None:
    with pytest.raises(ScriptExhaustedError, match="never requested"), ScriptedModel([text("a"), text("b")]) as model:
        Agent(model).run_sync("x")
    with pytest.raises(ScriptExhaustedError, match="unexpected"):
        Agent(ScriptedModel([call("add", {"a": 1, "b": 1})]), tools=[add]).run_sync("x")


def test_errors_end_the_stream_with_an_event() -> None:
    events: list[Event] = []
    agent = Agent(ScriptedModel([call("add", {"a": 1, "b": 1})]), tools=[add], limits=UsageLimits(max_steps=1))
    with pytest.raises(UsageLimitExceeded):
        _collect(agent, "x", events)
    assert isinstance(events[-1], RunFailed)
    assert events[-1].error_type == "UsageLimitExceeded"


def test_misuse_gets_user_errors() -> None:
    with pytest.raises(UserError, match="tool_choice 'mul'"):
        Agent(ScriptedModel([]), tools=[add], tool_choice="mul")
    with pytest.raises(UserError, match="two tools are named 'add'"):
        Agent(ScriptedModel([]), tools=[add, add])
    with pytest.raises(UserError, match="unknown decoding preset"):
        Agent(ScriptedModel([]), preset="wild")

    def untyped(x):  # type: ignore[no-untyped-def]
        return x

    with pytest.raises(UserError, match="needs a type hint"):
        tool(untyped)


async def test_run_sync_inside_a_loop_says_what_to_do() -> None:
    with pytest.raises(UserError, match=r"await agent\.run"):
        Agent(ScriptedModel([text("x")])).run_sync("x")


def test_timings_and_usage_are_filled() -> None:
    result = Agent(ScriptedModel([call("add", {"a": 1, "b": 2}), text("3")]), tools=[add]).run_sync("1+2")
    assert result.timings.total > 0
    assert result.timings.tools > 0
    assert result.usage.prompt_tokens > 0
    assert "queue wait" in result.timings.table()


def _collect(agent: Agent[Any], prompt: str, sink: list[Event] | None = None) -> list[Event]:
    import asyncio

    out: list[Event] = [] if sink is None else sink

    async def go() -> None:
        async for event in agent.run_stream(prompt):
            out.append(event)

    asyncio.run(go())
    return out


def test_typed_list_output_with_tools_keeps_refs_resolvable() -> None:
    model = ScriptedModel([call("final_result", {"result": [{"city": "Rome", "celsius": 30}]})])
    agent = Agent(model, tools=[add], output_type=list[Weather])
    result = agent.run_sync("weather list")
    assert result.output == [Weather(city="Rome", celsius=30)]
    schema = model.requests[0].tools[-1].parameters_schema
    assert "$defs" in schema
    assert schema["properties"]["result"]["items"] == {"$ref": "#/$defs/Weather"}


def test_an_empty_answer_is_sent_back_once_then_accepted() -> None:
    model = ScriptedModel([call("add", {"a": 1, "b": 2}), text("  "), text("It is 3.")])
    events = _collect(Agent(model, tools=[add]), "1+2?")
    [correction] = [e for e in events if isinstance(e, CorrectionSent)]
    assert correction.reason == "empty_answer"
    assert model.requests[2].messages[-1].content == correction.message  # the model read it as a user turn
    final = events[-1]
    assert isinstance(final, FinalOutput)
    assert final.result.output == "It is 3."
    stubborn = ScriptedModel([text(""), text("")])  # asked once; a second empty answer ends the run as it is
    assert Agent(stubborn).run_sync("hi").output == ""
    budget = ScriptedModel([text("")])  # no retries left: nothing to ask with
    assert Agent(budget, limits=UsageLimits(max_retries=0)).run_sync("hi").output == ""
