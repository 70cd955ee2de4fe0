"""Shared by the serve benchmarks: a uvicorn server in a thread, and one streamed chat request."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn


class ServerThread:
    def __init__(self, app: Any) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@dataclass
class Streamed:
    text: str
    deltas: int
    finish_reason: str | None
    done: bool
    seconds: float
    first_token: float
    usage: dict[str, Any] | None


async def stream_chat(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> Streamed:
    t0 = time.perf_counter()
    first = 0.0
    text: list[str] = []
    deltas = 0
    finish = None
    done = False
    usage = None
    async with client.stream("POST", url, json={**body, "stream": True}) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            data = line[6:]
            if data == "[DONE]":
                done = True
                continue
            chunk = json.loads(data)
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices") or []:
                content = (choice.get("delta") or {}).get("content")
                if content:
                    first = first or time.perf_counter()
                    text.append(content)
                    deltas += 1
                finish = choice.get("finish_reason") or finish
    end = time.perf_counter()
    return Streamed("".join(text), deltas, finish, done, end - t0, (first or end) - t0, usage)
