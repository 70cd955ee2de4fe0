"""Server-sent events out: framing, and a pump that decouples producing from sending.

The producer (a model stream, an agent run) runs in its own task and the response only reads a bounded
queue. When the client goes away, Starlette cancels the response; the pump then cancels the producer with a
plain asyncio cancellation, so the producer's cleanup (stop the model, free the slot) runs exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_END = object()


def frame(data: str | dict[str, Any], *, event: str | None = None) -> str:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return head + "".join(f"data: {line}\n" for line in text.split("\n")) + "\n"


async def pump(source: AsyncIterator[str], *, buffer: int = 256) -> AsyncIterator[str]:
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=buffer)

    async def produce() -> None:
        try:
            async with contextlib.aclosing(source):  # type: ignore[type-var]
                async for item in source:
                    await queue.put(item)
        except asyncio.CancelledError:
            raise  # the consumer is gone
        except Exception as exc:  # handed to the consumer, which re-raises it
            await queue.put(exc)
            return
        await queue.put(_END)

    task = asyncio.create_task(produce())
    try:
        while True:
            item = await queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, str)
            yield item
    finally:
        if not task.done():
            task.cancel()
