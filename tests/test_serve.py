"""`agentkit serve` over real HTTP: uvicorn on 127.0.0.1, httpx clients, scripted and held models."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentkit import Agent, tool
from agentkit.serve import KeyStore, ServeConfig, create_app
from agentkit.testing import FunctionModel, ScriptedModel, ScriptedTurn, call, text

from .serve_support import HeldModel, chat_body, serving, sse_data, wait_for


def stream_lines(client: httpx.Client, path: str, body: dict[str, Any], **kw: Any) -> tuple[int, list[str]]:
    with client.stream("POST", path, json=body, **kw) as response:
        return response.status_code, list(response.iter_lines())


# -- chat completions -----------------------------------------------------------------------------------------
def test_chat_streams_openai_chunks_and_usage() -> None:
    model = ScriptedModel([text("Hello there, friend")], name="scripted")
    with serving(create_app(models={"scripted": model})) as server, httpx.Client(base_url=server.url) as client:
        status, lines = stream_lines(client, "/v1/chat/completions", chat_body("hi", model="scripted"))
    assert status == 200
    data = sse_data(lines)
    assert data[-1] == "[DONE]"
    chunks = data[:-1]
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert content == "Hello there, friend"
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    assert chunks[-1]["usage"]["completion_tokens"] == 3
    assert len({c["id"] for c in chunks}) == 1


def test_chat_non_streaming_returns_tool_calls() -> None:
    model = ScriptedModel([call("get_weather", {"city": "Paris"})], name="scripted")
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    with serving(create_app(models={"scripted": model})) as server:
        response = httpx.post(server.url + "/v1/chat/completions",
                              json=chat_body("weather?", model="scripted", stream=False, tools=tools))
    assert response.status_code == 200
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert model.requests[0].tools[0].parameters_schema["required"] == ["city"]


def test_models_health_and_unknown_model() -> None:
    model = ScriptedModel([], name="scripted")
    agent = Agent(ScriptedModel([], name="agent-model"))
    with serving(create_app(models={"scripted": model}, agents={"helper": agent})) as server:
        listed = httpx.get(server.url + "/v1/models").json()
        health = httpx.get(server.url + "/health").json()
        missing = httpx.post(server.url + "/v1/chat/completions", json=chat_body("x", model="nope"))
    assert {m["id"] for m in listed["data"]} == {"scripted", "agent-model", "agent:helper"}
    assert health["status"] == "ok"
    assert health["agents"] == ["helper"]
    assert missing.status_code == 404
    assert "GET /v1/models" in missing.json()["error"]["message"]


def test_validation_and_size_limits() -> None:
    model = ScriptedModel([], name="scripted")
    app = create_app(models={"scripted": model}, config=ServeConfig(max_body_bytes=2000))
    with serving(app) as server:
        too_big = httpx.post(server.url + "/v1/chat/completions", json=chat_body("x" * 5000, model="scripted"))
        bad_temp = httpx.post(server.url + "/v1/chat/completions", json=chat_body("x", model="scripted", temperature=9))
        not_json = httpx.post(server.url + "/v1/chat/completions", content=b"{nope")
        no_messages = httpx.post(server.url + "/v1/chat/completions", json={"model": "scripted", "messages": []})
    assert too_big.status_code == 413
    assert bad_temp.status_code == 400
    assert "temperature" in bad_temp.json()["error"]["message"]
    assert not_json.status_code == 400
    assert no_messages.status_code == 400
    assert not model.requests


# -- queue: overload, priority, disconnect ----------------------------------------------------------------------
def test_full_queue_answers_429_with_retry_after_not_a_hang() -> None:
    model = HeldModel()
    app = create_app(models={"held": model}, config=ServeConfig(max_queue=1))
    results: dict[str, Any] = {}

    def client(label: str) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            results[label] = stream_lines(c, "/v1/chat/completions", chat_body(label))

    with serving(app) as server:
        threads = [threading.Thread(target=client, args=(label,)) for label in ("first", "second")]
        threads[0].start()
        wait_for(lambda: model.started == ["first"])
        threads[1].start()
        wait_for(lambda: app.state.server.schedulers[0].waiting == 1)
        refused = httpx.post(server.url + "/v1/chat/completions", json=chat_body("third"), timeout=5)
        model.release()
        for t in threads:
            t.join(30)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"]["code"] == "queue_full"
    for label in ("first", "second"):
        status, lines = results[label]
        assert status == 200
        assert sse_data(lines)[-1] == "[DONE]"
    assert model.started == ["first", "second"]


def test_interactive_requests_go_before_batch() -> None:
    model = HeldModel(pieces=["x"])
    app = create_app(models={"held": model})
    done: list[str] = []

    def client(label: str, priority: str) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            stream_lines(c, "/v1/chat/completions", chat_body(label), headers={"X-Agentkit-Priority": priority})
            done.append(label)

    with serving(app) as server:
        first = threading.Thread(target=client, args=("running", "batch"))
        first.start()
        wait_for(lambda: model.started == ["running"])
        later = [threading.Thread(target=client, args=(f"batch{i}", "batch")) for i in range(2)]
        later.append(threading.Thread(target=client, args=("urgent", "interactive")))
        for t in later:
            t.start()
        wait_for(lambda: app.state.server.schedulers[0].waiting == 3)
        model.release()
        for t in [first, *later]:
            t.join(30)
    assert model.started[:2] == ["running", "urgent"]
    assert sorted(model.started[2:]) == ["batch0", "batch1"]


def test_client_disconnect_cancels_the_generation_and_frees_the_slot() -> None:
    model = HeldModel(endless=True, auto=True)
    app = create_app(models={"held": model})
    with serving(app) as server:
        with httpx.Client(base_url=server.url, timeout=30) as client, \
                client.stream("POST", "/v1/chat/completions", json=chat_body("forever")) as response:
            received = 0
            for line in response.iter_lines():
                received += line.startswith("data: ")
                if received > 20:
                    break
        wait_for(lambda: model.closed_early == ["forever"])
        wait_for(lambda: app.state.server.schedulers[0].running == 0)
        model.endless = False
        again = httpx.post(server.url + "/v1/chat/completions", json=chat_body("next", stream=False), timeout=5)
    assert again.status_code == 200  # the model is free again
    assert model.finished == ["next"]  # the endless stream never finished: it was cancelled


# -- keys, rate limits, quotas -----------------------------------------------------------------------------------
def test_keys_rate_limits_and_quotas(tmp_path: Path) -> None:
    store = KeyStore()
    good, _ = store.create("alice", requests_per_minute=2, burst=2)
    quota, _ = store.create("bob", tokens_per_day=10)
    store.save(tmp_path / "keys.json")
    assert good not in (tmp_path / "keys.json").read_text()  # only the hash is stored
    model = FunctionModel(lambda _: ScriptedTurn(text="one two three four"), name="fn")
    app = create_app(models={"fn": model}, keys=KeyStore.load(tmp_path / "keys.json"))
    url = "/v1/chat/completions"
    body = chat_body("hi", model="fn", stream=False)
    with serving(app) as server, httpx.Client(base_url=server.url) as client:
        anonymous = client.post(url, json=body)
        wrong = client.post(url, json=body, headers={"Authorization": good[:-3] + "xyz"})
        alice = [client.post(url, json=body, headers={"Authorization": f"Bearer {good}"}) for _ in range(3)]
        bob = [client.post(url, json=body, headers={"Authorization": f"Bearer {quota}"}) for _ in range(3)]
        metrics = client.get("/metrics").text
    assert anonymous.status_code == 401
    assert wrong.status_code == 401
    assert [r.status_code for r in alice] == [200, 200, 429]
    assert alice[2].json()["error"]["code"] == "rate_limit"
    assert float(alice[2].headers["retry-after"]) >= 1
    # 9 tokens (5 prompt + 4 completion) per request: the second request goes over the quota of 10
    assert [r.status_code for r in bob] == [200, 200, 429]
    assert bob[2].json()["error"]["code"] == "quota_exceeded"
    assert 'agentkit_rejected_total{reason="rate_limit"} 1' in metrics
    assert 'agentkit_rejected_total{reason="quota"} 1' in metrics


# -- agent runs over SSE, decisions, state ---------------------------------------------------------------------
written: list[str] = []


@tool(effect="write")
def save_note(text: str) -> str:
    """Save a note.

    Args:
        text: The note.
    """
    written.append(text)
    return "saved"


def run_events(client: httpx.Client, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    status, lines = stream_lines(client, path, body)
    assert status == 200, lines
    events = sse_data(lines)
    names = [line[7:] for line in lines if line.startswith("event: ")]
    assert names == [e["type"] for e in events]
    return events


@pytest.mark.parametrize("decision", ["approve", "deny"])
def test_agent_run_pauses_and_resumes_with_a_decision_over_http(decision: str) -> None:
    written.clear()
    model = ScriptedModel([call("save_note", {"text": "buy milk"}), text("Done.")], name="notes-model")
    agent = Agent(model, tools=[save_note])
    with serving(create_app(agents={"notes": agent})) as server, httpx.Client(base_url=server.url) as client:
        events = run_events(client, "/v1/agents/notes/runs", {"prompt": "remember to buy milk"})
        assert events[-1]["type"] == "run_paused"
        run_id = events[-1]["run_id"]
        state = client.get(f"/v1/agents/notes/runs/{run_id}").json()
        assert state["status"] == "awaiting_confirmation"
        assert not written
        fingerprint = state["pending"][0]["fingerprint"]
        wrong = client.post(f"/v1/agents/notes/runs/{run_id}/decisions", json={"decisions": {"0" * 64: "approve"}})
        assert wrong.status_code == 400
        resumed = run_events(client, f"/v1/agents/notes/runs/{run_id}/decisions",
                             {"decisions": {fingerprint: decision}})
        final = client.get(f"/v1/agents/notes/runs/{run_id}").json()
        again = client.post(f"/v1/agents/notes/runs/{run_id}/decisions", json={"decisions": {fingerprint: "approve"}})
    assert resumed[-1]["type"] == "final"
    assert final["status"] == "completed"
    assert final["output"] == "Done."
    assert written == (["buy milk"] if decision == "approve" else [])
    assert again.status_code == 409


def test_runs_belong_to_their_key() -> None:
    store = KeyStore()
    alice, _ = store.create("alice")
    bob, _ = store.create("bob")
    agent = Agent(ScriptedModel([text("hi")], name="m"))
    with serving(create_app(agents={"a": agent}, keys=store)) as server, httpx.Client(base_url=server.url) as client:
        response = client.post("/v1/agents/a/runs", json={"prompt": "hello", "stream": False},
                               headers={"Authorization": f"Bearer {alice}"})
        run_id = response.json()["run_id"]
        own = client.get(f"/v1/agents/a/runs/{run_id}", headers={"Authorization": f"Bearer {alice}"})
        other = client.get(f"/v1/agents/a/runs/{run_id}", headers={"Authorization": f"Bearer {bob}"})
    assert response.json()["status"] == "completed"
    assert response.json()["output"] == "hi"
    assert own.status_code == 200
    assert other.status_code == 404


# -- metrics and tracing ----------------------------------------------------------------------------------------
PROM_LINE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"]*",?)*\})? -?[0-9.e+Inf]+$')


def test_metrics_are_prometheus_text() -> None:
    model = FunctionModel(lambda _: ScriptedTurn(text="a b c"), name="fn")
    with serving(create_app(models={"fn": model})) as server:
        for _ in range(3):
            httpx.post(server.url + "/v1/chat/completions", json=chat_body("q", model="fn", stream=False))
        response = httpx.get(server.url + "/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.strip().splitlines()
    for line in lines:
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or PROM_LINE.match(line), line
    assert 'agentkit_http_requests_total{route="chat",status="200"} 3' in lines
    assert 'agentkit_queue_wait_seconds_count{model="fn"} 3' in lines
    assert 'agentkit_tokens_total{model="fn",kind="completion"} 9' in lines
    assert 'agentkit_queue_wait_seconds_bucket{model="fn",le="+Inf"} 3' in lines


def test_run_phases_become_opentelemetry_spans() -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    if trace.get_tracer_provider() is not provider:
        pytest.skip("another test installed the global tracer provider first")

    @tool(effect="read")
    def lookup(key: str) -> str:
        """Look a key up."""
        return key.upper()

    agent = Agent(ScriptedModel([call("lookup", {"key": "x"}), text("X")], name="m"), tools=[lookup])
    with serving(create_app(agents={"a": agent})) as server:
        httpx.post(server.url + "/v1/agents/a/runs", json={"prompt": "go", "stream": False})
    spans = exporter.get_finished_spans()
    names = [s.name for s in spans]
    for expected in ("agent.run", "context", "queue", "prefill", "decode", "tool lookup"):
        assert expected in names, names
    root = next(s for s in spans if s.name == "agent.run")
    assert all(s.parent is not None and s.parent.span_id == root.context.span_id for s in spans if s is not root)


# -- the real default model ---------------------------------------------------------------------------------------
@pytest.mark.model
def test_real_default_model_streams_through_the_server() -> None:
    from agentkit.models import DEFAULT_MODEL_NAME, default_model

    with serving(create_app(models={"default": default_model()})) as server, \
            httpx.Client(base_url=server.url, timeout=120) as client:
        status, lines = stream_lines(client, "/v1/chat/completions",
                                     chat_body("Say hello.", model="default", max_tokens=8, temperature=0, seed=0))
        listed = client.get("/v1/models").json()
    assert status == 200
    data = sse_data(lines)
    text_out = "".join(c["choices"][0]["delta"].get("content", "") for c in data[:-1] if c["choices"])
    assert text_out.strip()
    assert data[-2]["usage"]["completion_tokens"] >= 1
    assert [m["id"] for m in listed["data"]] == ["default"]
    assert DEFAULT_MODEL_NAME
