"""`agentkit serve`: an OpenAI-compatible server with agent runs over SSE, keys, limits, a fair scheduler,
metrics and tracing. See docs/serving.md."""

from __future__ import annotations

from ..models._pool import EndpointPool
from ._app import ServeConfig, create_app
from ._keys import ApiKey, KeyStore, Priority
from ._limits import Limiter, TokenBucket
from ._metrics import Registry
from ._scheduler import QueueFull, ScheduledModel, Scheduler

__all__ = [
    "ApiKey",
    "EndpointPool",
    "KeyStore",
    "Limiter",
    "Priority",
    "QueueFull",
    "Registry",
    "ScheduledModel",
    "Scheduler",
    "ServeConfig",
    "TokenBucket",
    "create_app",
]
