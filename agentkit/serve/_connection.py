"""The client's side of one HTTP request: errors as OpenAI-style JSON, a non-streamed answer cancelled when
its client leaves, and an SSE response that releases what it holds when it ends.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.types import Receive, Scope, Send

from ._sse import SSE_HEADERS, pump
from ._wire import error_body

T = TypeVar("T")


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, kind: str = "invalid_request_error", code: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.code, self.retry_after = status, message, kind, code, retry_after

    def response(self) -> JSONResponse:
        headers = {"Retry-After": str(math.ceil(self.retry_after))} if self.retry_after is not None else None
        return JSONResponse(error_body(self.message, kind=self.kind, code=self.code), self.status, headers=headers)


async def unless_disconnected(request: Request, work: Coroutine[Any, Any, T]) -> T:
    """Await `work`, cancelled if the client goes away first: a non-streamed response has no failing send to
    notice it, and a queued or generating request of a gone client would hold the model for nothing."""

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    task = asyncio.create_task(work)
    watcher = asyncio.create_task(disconnected())
    try:
        await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (task, watcher):
            pending.cancel()
        await asyncio.gather(task, watcher, return_exceptions=True)
    if task.cancelled():
        raise ApiError(499, "the client closed the connection before the response", code="client_closed")
    return task.result()


class EventStream(StreamingResponse):
    """An SSE response that calls `on_close` when it ends, however it ends (even before its body started)."""

    def __init__(self, source: AsyncIterator[str], *, on_close: Callable[[], None]) -> None:
        super().__init__(pump(source), media_type="text/event-stream", headers=SSE_HEADERS)
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._on_close()
