"""Edge cases of the loop and the tool layer, found by using the public API the way a demanding user would."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from pydantic import BaseModel

from agentkit import (
    Agent,
    OutputValidationError,
    RunContext,
    UsageLimitExceeded,
    UsageLimits,
    UserError,
    tool,
)
from agentkit._tools import parse_docstring, render_result
from agentkit.models import FinishChunk, ModelChunk, ModelRequest, TextChunk, Usage
from agentkit.testing import ScriptedCall, ScriptedModel, call, text


@tool(effect="read")
def add(a: float, b: float) -> float:
    """Add two numbers."""
    return a + b


def _tool_results(messages: list[Any]) -> dict[str, str]:
    return {m.tool_call_id: m.content for m in messages if m.role == "tool"}


def _calls_are_all_answered(messages: list[Any]) -> bool:
    """What OpenAI-compatible servers demand of a history: every assistant tool call has its tool result."""
    asked = {c.id for m in messages if m.role == "assistant" for c in m.tool_calls}
    return asked <= set(_tool_results(messages))


# -- tools: schema and docstrings ----------------------------------------------------------------------------

def test_rest_type_lines_stay_out_of_parameter_descriptions() -> None:
    def area(width: int, height: int) -> int:
        """Area of a rectangle.

        :param width: the width in metres
        :type width: int
        :param height: the height in metres
        :type height: int
        :returns: the area
        :rtype: int
        """
        return width * height

    _, params = parse_docstring(area.__doc__)
    assert params == {"width": "the width in metres", "height": "the height in metres"}


def test_run_context_in_another_position_is_a_user_error() -> None:
    def lookup(key: str, ctx: RunContext) -> str:
        return key

    with pytest.raises(UserError, match="first parameter"):
        tool(lookup)


def test_partials_and_callable_objects_get_a_user_error_not_a_traceback() -> None:
    def scale(x: int, factor: int) -> int:
        return x * factor

    with pytest.raises(UserError, match="def"):
        tool(functools.partial(scale, factor=2))

    class Doubler:
        def __call__(self, x: int) -> int:
            return 2 * x

    with pytest.raises(UserError, match="def"):
        tool(name="double")(Doubler())


# -- tools: what they return ---------------------------------------------------------------------------------

class Item(BaseModel):
    sku: str
    qty: int


@dataclasses.dataclass
class Point:
    x: int
    y: int


def test_nested_models_and_dataclasses_render_as_json() -> None:
    assert render_result([Item(sku="a", qty=1)]) == '[{"sku": "a", "qty": 1}]'
    assert render_result({"items": [Item(sku="b", qty=2)]}) == '{"items": [{"sku": "b", "qty": 2}]}'
    assert render_result(Point(1, 2)) == '{"x": 1, "y": 2}'
    assert render_result(object.__new__(object)).startswith('"<object object')  # anything else: still a string


def test_a_sync_wrapper_around_an_async_tool_is_awaited() -> None:
    def logged(fn: Callable[..., Awaitable[int]]) -> Callable[..., Awaitable[int]]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Awaitable[int]:
            return fn(*args, **kwargs)

        return wrapper

    @tool(effect="read")
    @logged
    async def triple(x: int) -> int:
        """Triple x."""
        await asyncio.sleep(0)
        return 3 * x

    with ScriptedModel([call("triple", {"x": 5}), text("15")]) as model:
        result = Agent(model, tools=[triple]).run_sync("3*5")
    assert list(_tool_results(result.messages).values()) == ["15"]


# -- several calls in one turn -------------------------------------------------------------------------------

def test_a_valid_call_sharing_its_id_with_an_invalid_one_still_runs() -> None:
    turn = call("add", {"a": 1, "b": 2}, ScriptedCall("add", {"a": "one"}, id="dup"), id="dup")
    with ScriptedModel([turn, text("3")]) as model:
        result = Agent(model, tools=[add]).run_sync("1+2")
    assert result.usage.tool_calls == 1
    contents = [m.content for m in result.messages if m.role == "tool"]
    assert "3.0" in contents
    assert any("Invalid arguments" in c for c in contents)


def test_calls_beside_the_final_answer_are_answered_in_the_history() -> None:
    turn = call("add", {"a": 1, "b": 2}, ScriptedCall("final_result", {"result": 3}))
    with ScriptedModel([turn, text("again")]) as model:
        agent = Agent(model, tools=[add], output_type=int)
        result = agent.run_sync("1+2")
        assert result.output == 3
        assert _calls_are_all_answered(result.messages)
        assert result.usage.tool_calls == 0  # the final answer ends the turn: nothing else runs after it
        Agent(model).run_sync("and again?", history=result.messages)
    assert _calls_are_all_answered(list(model.requests[1].messages))


def test_calls_beside_an_invalid_final_answer_are_answered_too() -> None:
    turn = call("add", {"a": 1, "b": 2}, ScriptedCall("final_result", {"result": "three"}))
    with ScriptedModel([turn, call("final_result", {"result": 3})]) as model:
        result = Agent(model, tools=[add], output_type=int).run_sync("1+2")
    assert result.output == 3
    assert _calls_are_all_answered(list(model.requests[1].messages))


def test_a_final_tool_that_never_validates_raises_output_validation_error() -> None:
    model = ScriptedModel([call("final_result", {"result": "x"})] * 4)
    with pytest.raises(OutputValidationError, match="never validated"):
        Agent(model, tools=[add], output_type=int, limits=UsageLimits(max_retries=3)).run_sync("number?")


# -- max_seconds bounds the waits, not only the gaps between them -------------------------------------------

async def test_max_seconds_stops_a_hung_async_tool() -> None:
    @tool(effect="read")
    async def hang() -> str:
        """Never returns."""
        await asyncio.Event().wait()
        return "unreachable"

    agent = Agent(ScriptedModel([call("hang"), text("x")]), tools=[hang], limits=UsageLimits(max_seconds=0.2))
    with pytest.raises(UsageLimitExceeded, match="max_seconds"):
        await asyncio.wait_for(agent.run("go"), 30)


class _StalledModel:
    """Sends one word, then never another chunk: a server that stopped answering mid-stream."""

    name = "stalled"

    def __init__(self) -> None:
        self.closed = False

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[ModelChunk]:
        try:
            yield TextChunk("hello")
            await asyncio.Event().wait()
            yield FinishChunk(reason="stop", usage=Usage())
        finally:
            self.closed = True


async def test_max_seconds_stops_a_stalled_model_stream_and_closes_it() -> None:
    model = _StalledModel()
    agent = Agent(model, limits=UsageLimits(max_seconds=0.2))
    with pytest.raises(UsageLimitExceeded, match="max_seconds"):
        await asyncio.wait_for(agent.run("hi"), 30)
    assert model.closed


async def test_a_tool_raising_its_own_timeout_is_a_tool_failure_not_the_run_limit() -> None:
    @tool(effect="read")
    async def flaky() -> str:
        """Times out on its own."""
        raise TimeoutError("upstream took too long")

    with ScriptedModel([call("flaky"), text("sorry")]) as model:
        result = await Agent(model, tools=[flaky], limits=UsageLimits(max_seconds=30)).run("go")
    assert "TimeoutError: upstream took too long" in next(iter(_tool_results(result.messages).values()))


# -- misuse gets a UserError, not silence ---------------------------------------------------------------------

def test_a_user_tool_named_final_result_is_not_silently_replaced_by_typed_output() -> None:
    @tool(effect="read")
    def final_result(x: int) -> str:
        """Mine."""
        return "mine"

    Agent(ScriptedModel([]), tools=[final_result])  # fine without typed output
    with pytest.raises(UserError, match="final_result"):
        Agent(ScriptedModel([]), tools=[final_result], output_type=int)


def test_history_beside_a_resumed_state_is_a_user_error() -> None:
    @tool(effect="write")
    def save(path: str) -> str:
        """Save."""
        return "saved"

    paused = Agent(ScriptedModel([call("save", {"path": "a"})]), tools=[save]).run_sync("save a")
    assert paused.state is not None
    with pytest.raises(UserError, match="history"):
        Agent(ScriptedModel([text("ok")]), tools=[save]).run_sync(
            state=paused.state, history=paused.messages, decisions={paused.state.pending[0].fingerprint: "approve"}
        )
