"""Helpers for the serve tests: a real uvicorn server on an ephemeral loopback port, and a model that waits
for the test to release it (to fill queues deterministically)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn

from agentkit.models import FinishChunk, ModelChunk, ModelRequest, TextChunk, Usage


class ServerThread:
    """uvicorn serving `app` on 127.0.0.1 in a thread; `stop()` shuts it down."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@contextlib.contextmanager
def serving(app: Any) -> Iterator[ServerThread]:
    server = ServerThread(app)
    try:
        yield server
    finally:
        server.stop()


@dataclass
class HeldModel:
    """Streams `pieces` one by one, each only once the test allows it (`release(n)`), or forever with
    `endless=True`. Records the order requests arrived and whether each stream was closed early."""

    pieces: list[str] = field(default_factory=lambda: ["a", "b", "c"])
    name: str = "held"
    endless: bool = False
    auto: bool = False
    started: list[str] = field(default_factory=list)
    closed_early: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    _allowed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def release(self, n: int = 1_000_000) -> None:
        with self._lock:
            self._allowed += n

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        return self._stream(request)

    async def _stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        label = getattr(request.messages[-1], "content", "")
        self.started.append(label)
        done = False
        try:
            i = 0
            while self.endless or i < len(self.pieces):
                while not self.auto:
                    with self._lock:
                        if self._allowed > 0:
                            self._allowed -= 1
                            break
                    await asyncio.sleep(0.005)
                yield TextChunk(self.pieces[i % len(self.pieces)])
                i += 1
            done = True
            self.finished.append(label)
            yield FinishChunk(reason="stop", usage=Usage(prompt_tokens=5, completion_tokens=i))
        finally:
            if not done:
                self.closed_early.append(label)


def sse_data(lines: list[str]) -> list[Any]:
    """The `data:` payloads of an SSE body, JSON-decoded except [DONE]."""
    out: list[Any] = []
    for line in lines:
        if line.startswith("data: "):
            data = line[6:]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def wait_for(predicate: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def chat_body(content: str, *, model: str = "held", stream: bool = True, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], "stream": stream, **extra}


__all__ = ["HeldModel", "ServerThread", "chat_body", "httpx", "serving", "sse_data", "wait_for"]
