"""Test doubles that ship with agentkit: a scripted model, a function model, and a switch that blocks real models.

    model = ScriptedModel([call("add", {"a": 1, "b": 2}), text("3")])
    result = Agent(model, tools=[add]).run_sync("1+2?")
    model.assert_all_used()
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .models._base import (
    _BLOCKED,
    FinishChunk,
    FinishReason,
    ModelChunk,
    ModelRequest,
    TextChunk,
    ToolCallChunk,
    Usage,
)

__all__ = [
    "FunctionModel",
    "ScriptExhaustedError",
    "ScriptedCall",
    "ScriptedModel",
    "ScriptedTurn",
    "block_model_requests",
    "call",
    "text",
]


class ScriptExhaustedError(AssertionError):
    """The model was asked for more turns than the script holds, or turns were left unused."""


@dataclass(frozen=True)
class ScriptedCall:
    name: str
    arguments: dict[str, Any] | str
    id: str | None = None

    def raw_arguments(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)


@dataclass(frozen=True)
class ScriptedTurn:
    """One model response. `finish` 'length' simulates a turn cut off by max_tokens."""

    text: str = ""
    calls: tuple[ScriptedCall, ...] = ()
    finish: FinishReason | None = None
    check: Callable[[ModelRequest], None] | None = None


def text(content: str, *, check: Callable[[ModelRequest], None] | None = None) -> ScriptedTurn:
    return ScriptedTurn(text=content, check=check)


def call(
    name: str, arguments: dict[str, Any] | str | None = None, *more: ScriptedCall, id: str | None = None,
    finish: FinishReason | None = None, check: Callable[[ModelRequest], None] | None = None,
) -> ScriptedTurn:
    """A turn with one call (plus any `more`). `arguments` as a string is sent verbatim, e.g. broken JSON."""
    first = ScriptedCall(name, {} if arguments is None else arguments, id)
    return ScriptedTurn(calls=(first, *more), finish=finish, check=check)


def _words(content: str) -> Iterator[str]:
    start = 0
    for i, ch in enumerate(content):
        if ch == " " and i > start:
            yield content[start:i]
            start = i
    if start < len(content):
        yield content[start:]


async def _play(turn: ScriptedTurn, prompt_tokens: int, request_index: int) -> AsyncIterator[ModelChunk]:
    completion = 0
    for piece in _words(turn.text):
        completion += 1
        yield TextChunk(piece)
    for index, scripted in enumerate(turn.calls):
        raw = scripted.raw_arguments()
        yield ToolCallChunk(index=index, id=scripted.id or f"call_{request_index}_{index}", name=scripted.name)
        half = len(raw) // 2
        for part in (raw[:half], raw[half:]):
            if part:
                completion += 1
                yield ToolCallChunk(index=index, arguments=part)
    reason: FinishReason = turn.finish or ("tool_calls" if turn.calls else "stop")
    yield FinishChunk(reason=reason, usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion))


def _count_prompt(request: ModelRequest) -> int:
    return sum(len(getattr(m, "content", "").split()) + 4 for m in request.messages)


@dataclass
class ScriptedModel:
    """Plays back `turns` in order, one per model request, and records each request it saw.

    Asking for more turns than scripted raises ScriptExhaustedError; `assert_all_used()` (or leaving a
    `with` block) fails if turns were left over.
    """

    turns: Sequence[ScriptedTurn]
    name: str = "scripted"
    requests: list[ModelRequest] = field(default_factory=list)

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        index = len(self.requests)
        if index >= len(self.turns):
            last = request.messages[-1] if request.messages else None
            raise ScriptExhaustedError(
                f"model request #{index + 1} is unexpected: the script has {len(self.turns)} turns "
                f"(last message: {getattr(last, 'content', '')[:120]!r})"
            )
        self.requests.append(request)
        turn = self.turns[index]
        if turn.check is not None:
            turn.check(request)
        return _play(turn, _count_prompt(request), index)

    @property
    def unused(self) -> int:
        return len(self.turns) - len(self.requests)

    def assert_all_used(self) -> None:
        if self.unused:
            raise ScriptExhaustedError(f"{self.unused} scripted turn(s) were never requested")

    def __enter__(self) -> ScriptedModel:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.assert_all_used()


@dataclass
class FunctionModel:
    """Computes each turn from the request: for tests that need the model to react to what it is sent."""

    function: Callable[[ModelRequest], ScriptedTurn]
    name: str = "function"
    requests: list[ModelRequest] = field(default_factory=list)

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        self.requests.append(request)
        return _play(self.function(request), _count_prompt(request), len(self.requests) - 1)


@contextmanager
def block_model_requests(reason: str = "unit tests") -> Iterator[None]:
    """Within this block any real backend (llama.cpp, HTTP) raises ModelRequestsBlocked instead of running."""
    _BLOCKED.append(reason)
    try:
        yield
    finally:
        _BLOCKED.pop()
