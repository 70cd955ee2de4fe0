"""Reading one model response: its chunks become typed events and one `_Turn` (text, calls, finish).

A mixin of the loop's run, like `_acting`: output filters see the text as it streams, tool-call pieces are
put together by index, and with `max_seconds` set each chunk is awaited under the run's deadline.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._errors import ModelError, UsageLimitExceeded
from ._events import Event, TextDelta, ToolCallDelta
from ._hooks import StreamFilter
from ._result import RunUsage, Timings
from .models._base import FinishChunk, Model, ModelChunk, ModelRequest, TextChunk, ToolCallChunk

if TYPE_CHECKING:
    from ._agent import Agent
    from ._loop import UsageLimits


@dataclass
class _Turn:
    text: str
    calls: list[tuple[str, str | None, str]]  # (id, name, raw arguments)
    finish: FinishChunk


class _Streaming:
    agent: Agent[Any]
    limits: UsageLimits
    usage: RunUsage
    timings: Timings

    def _event_kwargs(self) -> dict[str, Any]:
        raise NotImplementedError

    def _check_time(self) -> None:
        raise NotImplementedError

    def _seconds_left(self) -> float:
        raise NotImplementedError

    def _over_time(self) -> UsageLimitExceeded:
        raise NotImplementedError

    async def _stream_model(self, model: Model, request: ModelRequest) -> AsyncGenerator[Event | _Turn, None]:
        text: list[str] = []
        calls: dict[int, list[Any]] = {}
        finish: FinishChunk | None = None
        filters: list[StreamFilter] = [g.output_filter() for g in self.agent.guards]
        stream = model.stream(request)
        chunks = stream if self.limits.max_seconds is None else self._until_deadline(stream)
        try:
            async for chunk in chunks:
                self._check_time()
                if isinstance(chunk, TextChunk):
                    piece = chunk.text
                    for f in filters:
                        piece = f.feed(piece)
                    if piece:
                        text.append(piece)
                        yield TextDelta(text=piece, **self._event_kwargs())
                elif isinstance(chunk, ToolCallChunk):
                    slot = calls.setdefault(chunk.index, [None, None, ""])
                    if chunk.id:
                        slot[0] = chunk.id
                    if chunk.name:
                        slot[1] = chunk.name
                    slot[2] += chunk.arguments
                    yield ToolCallDelta(
                        index=chunk.index, name=chunk.name, arguments_delta=chunk.arguments, **self._event_kwargs()
                    )
                elif isinstance(chunk, FinishChunk):
                    finish = chunk
        finally:
            if chunks is not stream:
                await chunks.aclose()  # type: ignore[attr-defined]
            await stream.aclose()  # type: ignore[attr-defined]
        tail = ""
        for f in filters:  # each filter gets what the one before released, then releases what it held back
            tail = (f.feed(tail) if tail else "") + f.flush()
        if tail:
            text.append(tail)
            yield TextDelta(text=tail, **self._event_kwargs())
        if finish is None:
            raise ModelError(f"model {model.name} ended its stream without a finish chunk")
        ordered = [
            (slot[0] or f"call_{uuid.uuid4().hex[:12]}", slot[1], slot[2]) for _, slot in sorted(calls.items())
        ]
        yield _Turn(text="".join(text), calls=ordered, finish=finish)

    async def _until_deadline(self, stream: AsyncIterator[ModelChunk]) -> AsyncGenerator[ModelChunk, None]:
        """The model's chunks, each awaited no later than the run's max_seconds: a stalled stream ends the run."""
        while True:
            deadline = asyncio.timeout(self._seconds_left())
            try:
                async with deadline:
                    chunk = await anext(stream)
            except StopAsyncIteration:
                return
            except TimeoutError:
                if deadline.expired():
                    raise self._over_time() from None
                raise
            yield chunk

    def _account(self, finish: FinishChunk) -> None:
        self.usage.model_requests += 1
        self.usage.prompt_tokens += finish.usage.prompt_tokens
        self.usage.completion_tokens += finish.usage.completion_tokens
        self.usage.cached_prompt_tokens += finish.usage.cached_prompt_tokens
        self.timings.queue_wait += finish.queue_wait
        self.timings.prefill += finish.prefill
        self.timings.decode += finish.decode
        limit = self.limits.max_tokens
        if limit is not None and self.usage.total_tokens > limit:
            raise UsageLimitExceeded(
                f"run used {self.usage.total_tokens} tokens, over max_tokens={limit}; raise UsageLimits.max_tokens"
            )
