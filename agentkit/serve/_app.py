"""The HTTP server: OpenAI-compatible chat, agent runs over SSE, decisions, run state, health and metrics.

    app = create_app(agents={"helper": Agent(tools=[...])})
    uvicorn.run(app, host="127.0.0.1", port=8000)

Every request is checked in the same order: API key (401) -> rate limit and token quota (429 with
Retry-After) -> body size (413) -> validation (400) -> the model's queue (429 with Retry-After when full).
Errors use the OpenAI shape `{"error": {"message", "type", "code"}}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from opentelemetry.trace import Status, StatusCode
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .._agent import Agent
from .._decoding import DecodingSettings
from .._errors import AgentkitError, UserError
from .._events import EVENT_ADAPTER, Event, FinalOutput, RunFailed, RunPaused
from ..models._base import FinishChunk, Model, TextChunk, ToolCallChunk
from ..models._pool import EndpointPool
from ._connection import ApiError, EventStream, unless_disconnected
from ._keys import ApiKey, KeyStore, Priority
from ._limits import Limiter
from ._metrics import Gauge, Registry
from ._runs import RunRecord, RunRegistry
from ._scheduler import QueueFull, Reservation, ScheduledModel, Scheduler, schedulers_gauge
from ._sse import frame
from ._tracing import TRACER, RunSpans, model_spans
from ._wire import ChatRequest, ChunkWriter, WireMessage, error_body

ANONYMOUS = ApiKey.model_construct(id="anonymous", name="anonymous", salt="", digest="", requests_per_minute=None,
                                   burst=None, tokens_per_day=None, priority="interactive")


@dataclass(frozen=True)
class ServeConfig:
    """Server limits. `slots`: concurrent requests per model name (default 1 for in-process models, the
    pool's capacity for an EndpointPool); `max_queue`: waiting requests per model before 429."""

    max_body_bytes: int = 1024 * 1024
    max_queue: int = 64
    slots: Mapping[str, int] = field(default_factory=dict)
    max_tokens_cap: int | None = None
    quota_window_s: float = 86_400.0
    max_runs: int = 1000
    health_interval_s: float = 10.0


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1)
    history: list[WireMessage] = Field(default_factory=list, max_length=2000)
    settings: DecodingSettings | None = None
    stream: bool = True


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decisions: dict[str, Literal["approve", "deny"]] = Field(min_length=1)
    stream: bool = True


class Server:
    """State behind the routes; `create_app` wires it into Starlette."""

    def __init__(self, *, models: Mapping[str, Model], agents: Mapping[str, Agent[Any]], keys: KeyStore,
                 config: ServeConfig) -> None:
        self.config = config
        self.keys = keys
        self.limiter = Limiter(quota_window_s=config.quota_window_s)
        self.metrics = Registry()
        self.runs = RunRegistry(max_runs=config.max_runs)
        self.agents = dict(agents)
        self.models: dict[str, Model] = dict(models)
        self._schedulers: dict[int, Scheduler] = {}
        for name, model in self.models.items():
            self.scheduler_for(model, name)
        for agent in self.agents.values():
            model = agent.resolved_model()
            self.models.setdefault(model.name, model)
            self.scheduler_for(model, model.name)
        self.metrics.add(Gauge("agentkit_queue_requests", "Requests running and waiting, per model.",
                               ("model", "state"), callback=lambda: schedulers_gauge(list(self._schedulers.values()))))

    def scheduler_for(self, model: Model, name: str | None = None) -> Scheduler:
        scheduler = self._schedulers.get(id(model))
        if scheduler is None:
            label = name or model.name
            slots = self.config.slots.get(label) or int(getattr(model, "capacity", 1))
            scheduler = Scheduler(
                label, slots=slots, max_queue=self.config.max_queue,
                on_wait=lambda s: self.metrics.queue_wait.observe(s, model=label),
                on_done=lambda s: self.metrics.request_seconds.observe(s, model=label),
            )
            self._schedulers[id(model)] = scheduler
        return scheduler

    @property
    def schedulers(self) -> list[Scheduler]:
        return list(self._schedulers.values())

    # -- checks ------------------------------------------------------------------------------------------------
    def authenticate(self, request: Request) -> ApiKey:
        if not len(self.keys):
            return ANONYMOUS
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        key = self.keys.verify(token.strip()) if scheme.lower() == "bearer" else None
        if key is None:
            raise ApiError(401, "missing or invalid API key: send 'Authorization: Bearer ak_...'",
                           kind="authentication_error", code="invalid_api_key")
        return key

    def admit(self, key: ApiKey) -> None:
        wait = self.limiter.check_rate(key)
        if wait is not None:
            self.metrics.rejected.inc(reason="rate_limit")
            raise ApiError(429, f"rate limit of {key.requests_per_minute:g} requests/minute reached for key "
                           f"{key.name!r}", kind="rate_limit_error", code="rate_limit", retry_after=wait)
        wait = self.limiter.check_quota(key)
        if wait is not None:
            self.metrics.rejected.inc(reason="quota")
            raise ApiError(429, f"token quota of {key.tokens_per_day} tokens per window used up for key {key.name!r}",
                           kind="rate_limit_error", code="quota_exceeded", retry_after=wait)

    def priority(self, request: Request, key: ApiKey) -> Priority:
        asked = request.headers.get("x-agentkit-priority", key.priority)
        if asked not in ("interactive", "batch"):
            raise ApiError(400, "X-Agentkit-Priority must be 'interactive' or 'batch'")
        return "batch" if key.priority == "batch" or asked == "batch" else "interactive"  # batch keys never jump

    async def body(self, request: Request) -> bytes:
        limit = self.config.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise ApiError(413, f"request body of {declared} bytes is over the {limit}-byte limit", code="too_large")
        data = bytearray()
        async for piece in request.stream():
            data += piece
            if len(data) > limit:
                raise ApiError(413, f"request body is over the {limit}-byte limit", code="too_large")
        return bytes(data)

    async def parse(self, request: Request, schema: type[BaseModel]) -> Any:
        raw = await self.body(request)
        try:
            return schema.model_validate_json(raw)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "(body)"
            raise ApiError(400, f"invalid request at {where}: {first['msg']}", code="invalid_request") from None

    def admit_queue(self, scheduler: Scheduler) -> Reservation:
        try:
            return scheduler.reserve()
        except QueueFull as full:
            self.metrics.rejected.inc(reason="queue_full")
            raise ApiError(429, str(full), kind="rate_limit_error", code="queue_full",
                           retry_after=full.retry_after) from None

    def account(self, key: ApiKey, model: str, finish: FinishChunk) -> None:
        self.limiter.charge(key, finish.usage.total_tokens)
        self.metrics.tokens.inc(finish.usage.prompt_tokens, model=model, kind="prompt")
        self.metrics.tokens.inc(finish.usage.completion_tokens, model=model, kind="completion")
        self.metrics.tokens.inc(finish.usage.cached_prompt_tokens, model=model, kind="cached_prompt")

    # -- chat completions --------------------------------------------------------------------------------------
    async def chat(self, request: Request) -> Response:
        key = self.authenticate(request)
        self.admit(key)
        chat: ChatRequest = await self.parse(request, ChatRequest)
        model = self.models.get(chat.model)
        if model is None:
            raise ApiError(404, f"no model named {chat.model!r}; GET /v1/models lists them", code="model_not_found")
        try:
            model_request = chat.to_model_request(max_tokens_cap=self.config.max_tokens_cap)
        except UserError as exc:
            raise ApiError(400, str(exc)) from None
        scheduler = self.scheduler_for(model)
        priority = self.priority(request, key)
        reservation = self.admit_queue(scheduler)
        scheduled = ScheduledModel(model, scheduler, key=key.id, priority=priority,
                                   on_finish=lambda f: self.account(key, chat.model, f), reservation=reservation)
        writer = ChunkWriter(chat.model)

        async def chunks() -> AsyncGenerator[dict[str, Any], None]:
            span = TRACER.start_span("chat.completions", attributes={"model": chat.model})
            stream = scheduled.stream(model_request)
            try:
                async for chunk in stream:
                    if isinstance(chunk, TextChunk):
                        yield writer.text_chunk(chunk)
                    elif isinstance(chunk, ToolCallChunk):
                        yield writer.call_chunk(chunk)
                    elif isinstance(chunk, FinishChunk):
                        model_spans(span, chunk, time.time(), model=chat.model)
                        yield {"finish": chunk}
            finally:
                span.end()
                await stream.aclose()  # type: ignore[attr-defined]

        if not chat.stream:
            async def collect() -> FinishChunk | None:
                finish: FinishChunk | None = None
                async with contextlib.aclosing(chunks()) as items:
                    async for item in items:
                        if "finish" in item:
                            finish = item["finish"]
                return finish

            try:
                finish = await unless_disconnected(request, collect())
            except AgentkitError as exc:
                raise ApiError(502, f"the model failed: {exc}", kind="server_error", code="model_error") from None
            finally:
                reservation.release()
            assert finish is not None
            return JSONResponse(writer.response(finish))

        async def sse() -> AsyncIterator[str]:
            yield frame(writer.first())
            try:
                async with contextlib.aclosing(chunks()) as items:
                    async for item in items:
                        if "finish" in item:
                            yield frame(writer.finish_chunk(item["finish"]))
                            yield frame(writer.usage_chunk(item["finish"]))
                        else:
                            yield frame(item)
            except AgentkitError as exc:
                yield frame(error_body(f"the model failed: {exc}", kind="server_error", code="model_error"))
            yield frame("[DONE]")

        return EventStream(sse(), on_close=reservation.release)

    def list_models(self, request: Request) -> Response:
        self.authenticate(request)
        data = [{"id": name, "object": "model", "created": 0, "owned_by": "agentkit"} for name in self.models]
        data += [{"id": f"agent:{name}", "object": "agent", "created": 0, "owned_by": "agentkit"} for name in self.agents]
        return JSONResponse({"object": "list", "data": data})

    # -- agent runs --------------------------------------------------------------------------------------------
    def _agent(self, request: Request) -> tuple[str, Agent[Any]]:
        name = request.path_params["name"]
        agent = self.agents.get(name)
        if agent is None:
            raise ApiError(404, f"no agent named {name!r}; known: {', '.join(sorted(self.agents)) or '(none)'}",
                           code="agent_not_found")
        return name, agent

    def _scheduled_agent(self, agent: Agent[Any], key: ApiKey, priority: Priority) -> tuple[Agent[Any], Reservation]:
        """The agent on a scheduled model, admitted to its queue (429 when full)."""
        model = agent.resolved_model()
        scheduler = self.scheduler_for(model)
        reservation = self.admit_queue(scheduler)
        scheduled = ScheduledModel(model, scheduler, key=key.id, priority=priority,
                                   on_finish=lambda f: self.account(key, model.name, f), reservation=reservation)
        return agent.with_model(scheduled), reservation

    async def start_run(self, request: Request) -> Response:
        key = self.authenticate(request)
        name, agent = self._agent(request)
        self.admit(key)
        body: RunRequest = await self.parse(request, RunRequest)
        try:
            history = ChatRequest(model="-", messages=body.history).agent_messages() if body.history else []
        except UserError as exc:
            raise ApiError(400, f"invalid request at history: {exc}", code="invalid_request") from None
        scheduled, reservation = self._scheduled_agent(agent, key, self.priority(request, key))
        try:
            events = scheduled.run_stream(body.prompt, history=history, settings=body.settings)
        except BaseException:
            reservation.release()
            raise
        return await self._respond(request, name, key, events, body.stream, record=None, reservation=reservation)

    async def decide(self, request: Request) -> Response:
        key = self.authenticate(request)
        name, agent = self._agent(request)
        record = self._record(request, key, name)
        self.admit(key)
        body: DecisionRequest = await self.parse(request, DecisionRequest)
        if record.status != "awaiting_confirmation" or record.state is None:
            raise ApiError(409, f"run {record.run_id} is {record.status}, not awaiting a decision", code="not_paused")
        pending = {p.fingerprint for p in record.state.pending}
        unknown = set(body.decisions) - pending
        if unknown:
            raise ApiError(400, f"no pending call has fingerprint {sorted(unknown)[0]}; pending: {sorted(pending)}")
        scheduled, reservation = self._scheduled_agent(agent, key, self.priority(request, key))  # 429: stays paused
        state, record.state, record.status = record.state, None, "running"
        try:
            events = scheduled.run_stream(state=state, decisions=dict(body.decisions))
        except BaseException:
            reservation.release()
            raise
        return await self._respond(request, name, key, events, body.stream, record=record, reservation=reservation)

    def get_run(self, request: Request) -> Response:
        key = self.authenticate(request)
        name, _ = self._agent(request)
        return JSONResponse(self._record(request, key, name).view())

    def _record(self, request: Request, key: ApiKey, agent: str) -> RunRecord:
        run_id = request.path_params["run_id"]
        record = self.runs.get(run_id)
        if record is None or record.agent != agent or record.key_id != key.id:
            raise ApiError(404, f"no run {run_id} of agent {agent!r} for this key", code="run_not_found")
        return record

    async def _respond(self, request: Request, name: str, key: ApiKey, events: AsyncIterator[Event], stream: bool,
                       *, record: RunRecord | None, reservation: Reservation) -> Response:
        holder: list[RunRecord] = [record] if record is not None else []

        async def observed() -> AsyncGenerator[Event, None]:
            span = TRACER.start_span("agent.run", attributes={"agent": name})
            spans = RunSpans(span)
            outcome = "cancelled"
            try:
                async with _closing(events):
                    async for event in events:
                        if not holder:
                            holder.append(self.runs.add(RunRecord(run_id=event.run_id, agent=name, key_id=key.id)))
                        holder[0].observe(event)
                        spans.observe(event)
                        if isinstance(event, FinalOutput | RunPaused | RunFailed):
                            outcome = {FinalOutput: "completed", RunPaused: "paused", RunFailed: "failed"}[type(event)]
                        yield event
            except AgentkitError as exc:
                outcome = "failed"
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                if holder and holder[0].status == "running":
                    holder[0].status, holder[0].error = "failed", str(exc)
                if not isinstance(exc, UserError):
                    return  # the RunFailed event already told the client
                raise
            finally:
                if holder and holder[0].status == "running":
                    holder[0].status = "cancelled"
                self.metrics.runs.inc(agent=name, outcome=outcome)
                span.end()

        if not stream:
            async def drain() -> None:
                async with contextlib.aclosing(observed()) as all_events:
                    async for _ in all_events:
                        pass

            try:
                await unless_disconnected(request, drain())
            except UserError as exc:
                raise ApiError(400, str(exc)) from None
            finally:
                reservation.release()
            return JSONResponse(holder[0].view() if holder else {"status": "failed"})

        async def sse() -> AsyncIterator[str]:
            try:
                async with contextlib.aclosing(observed()) as all_events:
                    async for event in all_events:
                        yield frame(EVENT_ADAPTER.dump_json(event).decode(), event=event.type)
            except UserError as exc:
                yield frame(error_body(str(exc), kind="invalid_request_error"), event="error")

        return EventStream(sse(), on_close=reservation.release)

    # -- operations --------------------------------------------------------------------------------------------
    def health(self, request: Request) -> Response:
        pools = {n: m.status() for n, m in self.models.items() if isinstance(m, EndpointPool)}
        return JSONResponse({"status": "ok", "models": {s.model: s.snapshot() for s in self.schedulers}, "pools": pools,
                             "agents": sorted(self.agents), "runs": len(self.runs)})

    def metrics_text(self, request: Request) -> Response:
        return PlainTextResponse(self.metrics.render(), media_type="text/plain; version=0.0.4")


class _closing:
    """`contextlib.aclosing` for an AsyncIterator typed only by protocol."""

    def __init__(self, iterator: AsyncIterator[Any]) -> None:
        self.iterator = iterator

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *_: object) -> None:
        close = getattr(self.iterator, "aclose", None)
        if close is not None:
            await close()


async def _check_pools(pools: list[EndpointPool], interval: float) -> None:
    while True:
        await asyncio.gather(*(pool.check_health() for pool in pools))
        await asyncio.sleep(interval)


def create_app(
    *, models: Mapping[str, Model] | None = None, agents: Mapping[str, Agent[Any]] | None = None,
    keys: KeyStore | None = None, config: ServeConfig | None = None,
) -> Starlette:
    """The ASGI app. Serve it with uvicorn; bind 127.0.0.1 unless it sits behind a TLS proxy with keys set."""
    if not models and not agents:
        raise UserError("give at least one model (models={'name': model}) or agent (agents={'name': Agent(...)})")
    server = Server(models=models or {}, agents=agents or {}, keys=keys or KeyStore(), config=config or ServeConfig())

    def route(path: str, handler: Any, methods: list[str], label: str) -> Route:
        async def endpoint(request: Request) -> Response:
            try:
                result = handler(request)
                response: Response = await result if hasattr(result, "__await__") else result
            except ApiError as exc:
                response = exc.response()
            except json.JSONDecodeError as exc:  # pragma: no cover - bodies are parsed by pydantic
                response = ApiError(400, f"invalid JSON: {exc.msg}").response()
            server.metrics.requests.inc(route=label, status=str(response.status_code))
            return response

        return Route(path, endpoint, methods=methods)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        pools = [m for m in server.models.values() if isinstance(m, EndpointPool)]
        task = asyncio.create_task(_check_pools(pools, server.config.health_interval_s)) if pools else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = Starlette(lifespan=lifespan, routes=[
        route("/health", server.health, ["GET"], "health"),
        route("/metrics", server.metrics_text, ["GET"], "metrics"),
        route("/v1/models", server.list_models, ["GET"], "models"),
        route("/v1/chat/completions", server.chat, ["POST"], "chat"),
        route("/v1/agents/{name}/runs", server.start_run, ["POST"], "runs"),
        route("/v1/agents/{name}/runs/{run_id}", server.get_run, ["GET"], "run"),
        route("/v1/agents/{name}/runs/{run_id}/decisions", server.decide, ["POST"], "decisions"),
    ])
    app.state.server = server
    return app
