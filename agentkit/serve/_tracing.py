"""OpenTelemetry spans for the phases of a request: route, context, queue, prefill, decode and each tool.

Only opentelemetry-api is used: spans are no-ops until an SDK is configured (e.g. an OTLP exporter). The loop
already measures each phase and reports it in its events, so the spans are drawn from those events with their
real start and end times rather than by instrumenting the loop itself.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

from .._events import ContextBuilt, Event, ModelResponded, Routed, RunFailed, RunStarted, ToolResult
from ..models._base import FinishChunk

TRACER = trace.get_tracer("agentkit.serve")


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


def _child(parent: Span, name: str, start: float, end: float, **attributes: Any) -> None:
    context = trace.set_span_in_context(parent)
    span = TRACER.start_span(name, context=context, start_time=_ns(start), attributes=attributes)
    span.end(end_time=_ns(max(start, end)))


def model_spans(parent: Span, finish: FinishChunk, end: float, *, model: str) -> None:
    """queue -> prefill -> decode, laid back to back so they end at `end` (wall-clock seconds)."""
    decode_start = end - finish.decode
    prefill_start = decode_start - finish.prefill
    queue_start = prefill_start - finish.queue_wait
    _child(parent, "queue", queue_start, prefill_start, model=model)
    _child(parent, "prefill", prefill_start, decode_start, model=model,
           prompt_tokens=finish.usage.prompt_tokens, cached_prompt_tokens=finish.usage.cached_prompt_tokens)
    _child(parent, "decode", decode_start, end, model=model, completion_tokens=finish.usage.completion_tokens)


class RunSpans:
    """Feeds a run's events in; draws one child span per phase under `parent`."""

    def __init__(self, parent: Span) -> None:
        self.parent = parent
        self.last_at: float | None = None
        self.model = ""

    def observe(self, event: Event) -> None:
        previous = self.last_at if self.last_at is not None else event.at
        if isinstance(event, RunStarted):
            self.model = event.model
        elif isinstance(event, Routed):
            _child(self.parent, "route", previous, event.at, **_flat(event.decision))
        elif isinstance(event, ContextBuilt):
            _child(self.parent, "context", previous, event.at, step=event.step, messages=event.messages)
        elif isinstance(event, ModelResponded):
            decode_start = event.at - event.decode
            prefill_start = decode_start - event.prefill
            queue_start = prefill_start - event.queue_wait
            _child(self.parent, "queue", queue_start, prefill_start, model=self.model, step=event.step)
            _child(self.parent, "prefill", prefill_start, decode_start, model=self.model, step=event.step,
                   prompt_tokens=event.prompt_tokens)
            _child(self.parent, "decode", decode_start, event.at, model=self.model, step=event.step,
                   completion_tokens=event.completion_tokens)
        elif isinstance(event, ToolResult):
            _child(self.parent, f"tool {event.name}", event.at - event.seconds, event.at,
                   tool=event.name, call_id=event.call_id, is_error=event.is_error)
        elif isinstance(event, RunFailed):
            self.parent.set_status(Status(StatusCode.ERROR, event.message))
        self.last_at = event.at


def _flat(decision: dict[str, Any]) -> dict[str, Any]:
    """Span attributes take scalars (and lists of them) only."""
    out: dict[str, Any] = {}
    for key, value in decision.items():
        if isinstance(value, str | int | float | bool):
            out[f"route.{key}"] = value
    return out
