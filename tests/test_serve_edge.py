"""`agentkit serve` against hostile and demanding clients: malformed OpenAI fields, bad run histories, bursts of
streaming clients beyond the queue limit, decisions while the queue is full."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from agentkit import Agent, ToolResultMessage, tool
from agentkit.models import ModelChunk, ModelRequest, TextChunk
from agentkit.serve import ServeConfig, create_app
from agentkit.testing import FunctionModel, ScriptedModel, ScriptedTurn, call, text

from .serve_support import HeldModel, chat_body, serving, wait_for


@pytest.mark.parametrize("extra", [
    {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": "not a schema"}}},
    {"response_format": {"type": "json_schema", "json_schema": "x"}},
    {"response_format": {"type": "xml"}},
    {"tool_choice": {"type": "function", "function": "lookup"}},
    {"tool_choice": {"type": "function", "function": ["lookup"]}},
])
def test_malformed_openai_fields_are_a_400_that_names_the_field(extra: dict[str, Any]) -> None:
    model = ScriptedModel([], name="s")
    with serving(create_app(models={"s": model})) as server:
        response = httpx.post(server.url + "/v1/chat/completions", json=chat_body("x", model="s", stream=False, **extra))
    assert response.status_code == 400, response.text
    assert next(iter(extra)) in response.json()["error"]["message"]
    assert not model.requests


@pytest.mark.parametrize("history", [
    [{"role": "tool", "content": "42"}],
    [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x"}}]}],
    [{"role": "assistant", "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "{oops"}}]}],
])
def test_an_agent_run_with_a_bad_history_is_a_400(history: list[dict[str, Any]]) -> None:
    model = ScriptedModel([text("hi")], name="m")
    with serving(create_app(agents={"a": Agent(model)})) as server:
        response = httpx.post(server.url + "/v1/agents/a/runs", json={"prompt": "x", "history": history, "stream": False})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_request"
    assert not model.requests


def burst(url: str, path: str, bodies: list[dict[str, Any]], held: HeldModel, app: Any) -> list[int]:
    """Send all `bodies` at once (streamed responses), wait until the scheduler has seen them, then let the
    held model answer."""

    async def one(client: httpx.AsyncClient, body: dict[str, Any]) -> int:
        async with client.stream("POST", path, json=body) as response:
            await response.aread()
            return response.status_code

    async def main() -> list[int]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            tasks = [asyncio.create_task(one(client, body)) for body in bodies]
            scheduler = app.state.server.schedulers[0]
            for _ in range(1000):  # until each request is refused, running or queued
                if sum(t.done() for t in tasks) + scheduler.running + scheduler.waiting == len(tasks):
                    break
                await asyncio.sleep(0.01)
            held.release()
            return list(await asyncio.gather(*tasks))

    return asyncio.run(main())


@pytest.mark.parametrize("kind", ["chat", "run"])
def test_a_burst_of_streaming_clients_beyond_the_queue_gets_429_not_a_longer_queue(kind: str) -> None:
    held = HeldModel(pieces=["x"])
    if kind == "chat":
        app = create_app(models={"held": held}, config=ServeConfig(max_queue=1))
        path, bodies = "/v1/chat/completions", [chat_body(f"c{i}") for i in range(6)]
    else:
        app = create_app(agents={"a": Agent(held)}, config=ServeConfig(max_queue=1))
        path, bodies = "/v1/agents/a/runs", [{"prompt": f"r{i}"} for i in range(6)]
    with serving(app) as server:
        statuses = burst(server.url, path, bodies, held, app)
        scheduler = app.state.server.schedulers[0]
        wait_for(lambda: scheduler.running == 0 and scheduler.waiting == 0)
    assert sorted(statuses) == [200, 200, 429, 429, 429, 429]  # one runs, one waits, the rest are refused
    assert len(held.started) == 2
    assert scheduler.reserved == 0


written: list[str] = []


@tool(effect="write")
def save_note(note: str) -> str:
    """Save a note.

    Args:
        note: The note.
    """
    written.append(note)
    return "saved"


class GatedModel:
    """Answers like `function`, but a request whose last message is "occupy" holds the model until `gate` opens."""

    def __init__(self, function: Any, gate: threading.Event) -> None:
        self.inner = FunctionModel(function, name="notes-model")
        self.name = self.inner.name
        self.gate = gate

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        return self._stream(request)

    async def _stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        if getattr(request.messages[-1], "content", "") == "occupy":
            await asyncio.to_thread(self.gate.wait, 30)
        async with contextlib.aclosing(self.inner.stream(request)) as chunks:  # type: ignore[type-var]
            async for chunk in chunks:
                yield chunk


def notes_turn(request: ModelRequest) -> ScriptedTurn:
    if any(isinstance(m, ToolResultMessage) for m in request.messages):
        return text("Done.")
    if getattr(request.messages[-1], "content", "") == "occupy":
        return text("ok")
    return call("save_note", {"note": "milk"})


def test_a_decision_while_the_queue_is_full_is_refused_and_the_run_stays_paused() -> None:
    written.clear()
    gate = threading.Event()
    model = GatedModel(notes_turn, gate)
    app = create_app(agents={"notes": Agent(model, tools=[save_note])}, config=ServeConfig(max_queue=0))
    scheduler = app.state.server.schedulers[0]
    with serving(app) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        paused = client.post("/v1/agents/notes/runs", json={"prompt": "remember milk", "stream": False}).json()
        run_id, fingerprint = paused["run_id"], paused["pending"][0]["fingerprint"]
        occupant = threading.Thread(target=client.post, args=("/v1/chat/completions",),
                                    kwargs={"json": chat_body("occupy", model="notes-model", stream=False)})
        occupant.start()
        try:
            wait_for(lambda: scheduler.running == 1)
            refused = client.post(f"/v1/agents/notes/runs/{run_id}/decisions",  # refused at once, not queued
                                  json={"decisions": {fingerprint: "approve"}, "stream": False}, timeout=5)
            still = client.get(f"/v1/agents/notes/runs/{run_id}").json()
        finally:
            gate.set()
            occupant.join(30)
        resumed = client.post(f"/v1/agents/notes/runs/{run_id}/decisions",
                              json={"decisions": {fingerprint: "approve"}, "stream": False})
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "queue_full"
    assert int(refused.headers["retry-after"]) >= 1
    assert still["status"] == "awaiting_confirmation"
    assert resumed.status_code == 200
    assert resumed.json()["status"] == "completed"
    assert written == ["milk"]


@dataclass
class TickingModel:
    """Streams a token every few milliseconds, forever, giving the event loop a turn as a real model does."""

    name: str = "ticking"
    started: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        return self._stream(request)

    async def _stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        label = str(getattr(request.messages[-1], "content", ""))
        self.started.append(label)
        try:
            while True:
                await asyncio.sleep(0.002)
                yield TextChunk("x")
        finally:
            self.stopped.append(label)


@pytest.mark.parametrize("kind", ["chat", "run"])
def test_a_non_streamed_client_that_gives_up_cancels_its_request(kind: str) -> None:
    model = TickingModel()
    app = create_app(models={"ticking": model}) if kind == "chat" else create_app(agents={"a": Agent(model)})
    server_state = app.state.server
    scheduler = server_state.schedulers[0]

    def give_up(content: str, seconds: float) -> None:
        path, body = ("/v1/chat/completions", chat_body(content, model="ticking", stream=False)) if kind == "chat" \
            else ("/v1/agents/a/runs", {"prompt": content, "stream": False})
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(server.url + path, json=body, timeout=seconds)

    with serving(app) as server:
        occupant = threading.Thread(target=give_up, args=("generating", 1.0))
        occupant.start()
        wait_for(lambda: model.started == ["generating"])
        give_up("queued", 0.3)  # queued behind the endless one, then gone
        occupant.join(30)
        wait_for(lambda: model.stopped == ["generating"])  # its client left: the generation stopped
        wait_for(lambda: scheduler.running == 0 and scheduler.waiting == 0)
        statuses = sorted(r.status for r in server_state.runs._runs.values())
    assert model.started == ["generating"]  # the queued request of a gone client never ran
    assert statuses == ([] if kind == "chat" else ["cancelled", "cancelled"])
