"""One model name backed by several OpenAI-compatible endpoints: load balancing, health and failover.

Requests go to the healthy endpoint with the fewest requests in flight (ties: round robin). An endpoint that
fails before its first token is marked down for `cooldown` seconds and the request moves to the next one;
once tokens have streamed, a failure is the caller's (a half-answer cannot be replayed). `check_health()`
probes every endpoint's `/models` and brings recovered ones back; the server calls it periodically.
Give each endpoint `max_retries=0`: the pool does the retrying, across endpoints.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import httpx

from .._errors import ModelError, UserError
from ._base import ModelChunk, ModelRequest
from ._openai import OpenAICompatibleModel


@dataclass
class EndpointState:
    model: OpenAICompatibleModel
    in_flight: int = 0
    down_until: float = 0.0
    failures: int = 0
    served: int = 0
    last_error: str = ""

    def healthy(self, now: float) -> bool:
        return now >= self.down_until


class EndpointPool:
    """A Model over several endpoints serving the same model. `slots_per_endpoint` sets `capacity`, which the
    server's scheduler uses as its number of concurrent requests."""

    def __init__(
        self, endpoints: Sequence[OpenAICompatibleModel], *, name: str | None = None, cooldown: float = 10.0,
        slots_per_endpoint: int = 1, health_timeout: float = 2.0,
    ) -> None:
        if not endpoints:
            raise UserError("an EndpointPool needs at least one endpoint")
        if slots_per_endpoint < 1:
            raise UserError(f"slots_per_endpoint must be >= 1; got {slots_per_endpoint}")
        self.endpoints = [EndpointState(e) for e in endpoints]
        self._name = name or endpoints[0].name
        self.cooldown = cooldown
        self.capacity = slots_per_endpoint * len(endpoints)
        self.health_timeout = health_timeout
        self._turn = itertools.count()

    @classmethod
    def from_urls(cls, urls: Sequence[str], *, model: str = "default", name: str | None = None,
                  cooldown: float = 10.0, slots_per_endpoint: int = 1) -> EndpointPool:
        return cls([OpenAICompatibleModel(u, model=model, max_retries=0) for u in urls], name=name or model,
                   cooldown=cooldown, slots_per_endpoint=slots_per_endpoint)

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"EndpointPool({[e.model.base_url for e in self.endpoints]!r}, name={self._name!r})"

    def _order(self) -> list[EndpointState]:
        now = time.monotonic()
        turn = next(self._turn)
        n = len(self.endpoints)
        rotated = [self.endpoints[(turn + i) % n] for i in range(n)]
        healthy = sorted((e for e in rotated if e.healthy(now)), key=lambda e: e.in_flight)
        down = sorted((e for e in rotated if not e.healthy(now)), key=lambda e: e.down_until)
        return healthy + down  # when all are down, still try them, soonest-back first

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        return self._stream(request)

    async def _stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        failures: list[str] = []
        for endpoint in self._order():
            endpoint.in_flight += 1
            started = False
            try:
                stream = endpoint.model.stream(request)
                try:
                    async for chunk in stream:
                        started = True
                        yield chunk
                finally:
                    await stream.aclose()  # type: ignore[attr-defined]
                endpoint.served += 1
                endpoint.failures = 0
                return
            except ModelError as exc:
                if started:
                    raise
                self._mark_down(endpoint, str(exc))
                failures.append(f"{endpoint.model.base_url}: {exc}")
            finally:
                endpoint.in_flight -= 1
        raise ModelError(f"every endpoint of {self._name!r} failed: " + " | ".join(failures))

    def _mark_down(self, endpoint: EndpointState, error: str) -> None:
        endpoint.failures += 1
        endpoint.last_error = error
        endpoint.down_until = time.monotonic() + self.cooldown * min(8, 2 ** (endpoint.failures - 1))

    async def check_health(self) -> dict[str, bool]:
        """Probe each endpoint's /models; up ones are healthy again at once, down ones are marked down."""

        async def probe(endpoint: EndpointState) -> bool:
            url = endpoint.model.base_url + "/models"
            try:
                async with httpx.AsyncClient(trust_env=False, timeout=self.health_timeout) as client:
                    response = await client.get(url, headers=endpoint.model._headers())
                ok = response.status_code == 200
            except httpx.HTTPError as exc:
                ok, endpoint.last_error = False, f"{type(exc).__name__}: {exc}"
            if ok:
                endpoint.down_until, endpoint.failures = 0.0, 0
            elif endpoint.healthy(time.monotonic()):
                self._mark_down(endpoint, endpoint.last_error or "health check failed")
            return ok

        results = await asyncio.gather(*(probe(e) for e in self.endpoints))
        return {e.model.base_url: ok for e, ok in zip(self.endpoints, results, strict=True)}

    def status(self) -> list[dict[str, object]]:
        now = time.monotonic()
        return [{"url": e.model.base_url, "healthy": e.healthy(now), "in_flight": e.in_flight, "served": e.served,
                 "failures": e.failures, "last_error": e.last_error} for e in self.endpoints]
