"""The seams where routing, context building and guards plug into the loop.

The loop depends only on these small protocols; `agentkit.router`, `agentkit.context` and `agentkit.policy`
provide the real implementations. Each hook is optional: an agent without one behaves as if it were absent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from ._decoding import DecodingSettings
from ._messages import Message
from ._tools import Tool
from .models._base import Model

Risk = Literal["low", "medium", "high", "critical"]


@runtime_checkable
class RoutePlan(Protocol):
    """What the loop needs from a routing decision (a richer pydantic model in agentkit.router)."""

    @property
    def tool_names(self) -> Sequence[str] | None: ...  # None: offer every tool of the agent
    @property
    def preset(self) -> str | None: ...
    @property
    def tool_choice(self) -> str | None: ...
    @property
    def risk(self) -> Risk: ...
    @property
    def clarifying_question(self) -> str | None: ...  # set when the router abstains
    @property
    def refusal(self) -> str | None: ...  # set when the request must not be served (critical risk)

    def model_dump(self, *, mode: str = ...) -> dict[str, Any]: ...


@runtime_checkable
class Router(Protocol):
    def route(self, prompt: str, *, tools: Sequence[Tool], history: Sequence[Message]) -> RoutePlan: ...

    def model_for(self, plan: RoutePlan) -> Model | None:
        """The model the plan chose, or None to keep the agent's own."""
        ...


@dataclass
class BuiltContext:
    """The messages actually sent, plus what was done to fit them (reported in the ContextBuilt event)."""

    messages: list[Message]
    notes: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class ContextStrategy(Protocol):
    def build(
        self, messages: Sequence[Message], *, tools: Sequence[Tool], model: Model, settings: DecodingSettings
    ) -> BuiltContext: ...


class StreamFilter(Protocol):
    """Stateful filter over streamed text: may hold text back until it can decide (e.g. a secret split over deltas)."""

    def feed(self, text: str) -> str: ...
    def flush(self) -> str: ...


@runtime_checkable
class Guard(Protocol):
    def check_input(self, prompt: str, *, risk: Risk | None) -> str | None:
        """A refusal (with a safe alternative) for requests that must not be served, else None."""
        ...

    def output_filter(self) -> StreamFilter:
        """A fresh filter for one model response's text (redaction of secrets, etc.)."""
        ...
