"""EndpointPool: one model name over several real OpenAI-compatible endpoints (agentkit servers on 127.0.0.1
backed by function models), balancing, health checks and failover when one endpoint is stopped mid-test."""

from __future__ import annotations

import httpx
import pytest

from agentkit import DecodingSettings, ModelError, UserMessage
from agentkit.models import FinishChunk, ModelRequest, TextChunk
from agentkit.serve import EndpointPool, create_app
from agentkit.testing import FunctionModel, ScriptedTurn

from .serve_support import ServerThread, chat_body, sse_data


def endpoint(label: str) -> ServerThread:
    model = FunctionModel(lambda _: ScriptedTurn(text=f"from {label}"), name="m")
    return ServerThread(create_app(models={"m": model}))


async def ask(pool: EndpointPool) -> str:
    request = ModelRequest(messages=[UserMessage(content="hi")], settings=DecodingSettings(max_tokens=8))
    out = []
    async for chunk in pool.stream(request):
        if isinstance(chunk, TextChunk):
            out.append(chunk.text)
        assert not isinstance(chunk, FinishChunk) or chunk.reason == "stop"
    return "".join(out)


async def test_pool_balances_and_fails_over_when_an_endpoint_stops() -> None:
    a, b = endpoint("A"), endpoint("B")
    try:
        pool = EndpointPool.from_urls([a.url + "/v1", b.url + "/v1"], model="m", cooldown=30)
        first = [await ask(pool) for _ in range(4)]
        assert sorted(first) == ["from A", "from A", "from B", "from B"]
        b.stop()
        after = [await ask(pool) for _ in range(4)]
        assert after == ["from A"] * 4  # no request lost: the failure happened before any token
        status = {s["url"]: s for s in pool.status()}
        assert status[b.url + "/v1"]["healthy"] is False
        assert status[b.url + "/v1"]["failures"] == 1
        assert "cannot connect" in str(status[b.url + "/v1"]["last_error"])
        assert await pool.check_health() == {a.url + "/v1": True, b.url + "/v1": False}
    finally:
        a.stop()
        b.stop()


async def test_all_endpoints_down_is_a_clear_model_error() -> None:
    a = endpoint("A")
    a.stop()
    pool = EndpointPool.from_urls([a.url + "/v1", "http://127.0.0.1:9/v1"], model="m")
    with pytest.raises(ModelError, match="every endpoint of 'm' failed"):
        await ask(pool)


async def test_health_check_brings_a_recovered_endpoint_back() -> None:
    a = endpoint("A")
    try:
        pool = EndpointPool.from_urls([a.url + "/v1"], model="m", cooldown=300)
        pool._mark_down(pool.endpoints[0], "simulated earlier failure")
        assert pool.status()[0]["healthy"] is False
        assert await pool.check_health() == {a.url + "/v1": True}
        assert pool.status()[0]["healthy"] is True
    finally:
        a.stop()


def test_agentkit_serve_in_front_of_a_pool_survives_an_endpoint_failure() -> None:
    a, b = endpoint("A"), endpoint("B")
    front = None
    try:
        pool = EndpointPool.from_urls([a.url + "/v1", b.url + "/v1"], model="m", name="pooled")
        app = create_app(models={"pooled": pool})
        front = ServerThread(app)
        assert app.state.server.schedulers[0].slots == 2  # the pool's capacity
        answers = []
        with httpx.Client(base_url=front.url, timeout=30) as client:
            for i in range(6):
                if i == 2:
                    a.stop()
                with client.stream("POST", "/v1/chat/completions", json=chat_body("hi", model="pooled")) as r:
                    data = sse_data(list(r.iter_lines()))
                assert data[-1] == "[DONE]"
                answers.append("".join(c["choices"][0]["delta"].get("content", "") for c in data[:-1] if c["choices"]))
            health = client.get("/health").json()
        assert answers[2:] == ["from B"] * 4
        assert [p["healthy"] for p in health["pools"]["pooled"]] == [False, True]
    finally:
        for server in (front, a, b):
            if server is not None:
                server.stop()


def test_pool_needs_endpoints() -> None:
    from agentkit import UserError

    with pytest.raises(UserError):
        EndpointPool([])

