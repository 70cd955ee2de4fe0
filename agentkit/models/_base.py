"""The model contract: one async generator per request; everything else is built on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from .._decoding import DecodingSettings
from .._messages import Message
from .._tools import Tool

ToolChoice = Literal["auto", "required", "none"] | str
"""auto, required, none, or the name of one tool that must be called."""

FinishReason = Literal["stop", "tool_calls", "length", "cancelled"]


@dataclass(frozen=True)
class ModelRequest:
    messages: Sequence[Message]
    tools: Sequence[Tool] = ()
    tool_choice: ToolChoice = "auto"
    settings: DecodingSettings = field(default_factory=DecodingSettings)


@dataclass(frozen=True)
class TextChunk:
    text: str
    kind: Literal["text"] = "text"


@dataclass(frozen=True)
class ToolCallChunk:
    """Part of a tool call as it streams: `name` arrives once, `arguments` in pieces."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    kind: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cached_prompt_tokens + other.cached_prompt_tokens,
        )


@dataclass(frozen=True)
class FinishChunk:
    """Last chunk of every response. Times are seconds; `queue_wait` is the wait for the model's lock."""

    reason: FinishReason
    usage: Usage = field(default_factory=Usage)
    queue_wait: float = 0.0
    prefill: float = 0.0
    decode: float = 0.0
    raw_tool_calls: list[dict[str, Any]] = field(default_factory=list)
    kind: Literal["finish"] = "finish"


ModelChunk = TextChunk | ToolCallChunk | FinishChunk


@runtime_checkable
class Model(Protocol):
    """A model backend. `stream` must end with exactly one FinishChunk, or raise a ModelError.

    Closing the iterator early must stop generation and release whatever the backend holds.
    """

    @property
    def name(self) -> str: ...

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]: ...


_BLOCKED: list[str] = []


def check_model_requests_allowed(model_name: str) -> None:
    """Real backends call this before each request; `agentkit.testing.block_model_requests` trips it."""
    if _BLOCKED:
        from .._errors import ModelRequestsBlocked

        raise ModelRequestsBlocked(
            f"real model {model_name!r} was called while model requests are blocked ({_BLOCKED[-1]}); "
            "use agentkit.testing.ScriptedModel, or mark the test to run the real model"
        )
