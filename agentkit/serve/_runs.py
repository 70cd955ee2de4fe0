"""Agent runs known to the server: their status, the paused state awaiting a decision, the outcome.

Bounded: past `max_runs`, the oldest finished runs are forgotten (a paused run is kept until it is resumed
or the bound forces it out, oldest first).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal

from .._events import Event, FinalOutput, RunFailed, RunPaused
from .._result import RunState, RunUsage

RunStatus = Literal["running", "awaiting_confirmation", "completed", "failed", "cancelled"]
FINISHED: tuple[RunStatus, ...] = ("completed", "failed", "cancelled")


@dataclass
class RunRecord:
    run_id: str
    agent: str
    key_id: str
    status: RunStatus = "running"
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    state: RunState | None = None
    output: Any = None
    error: str | None = None
    usage: RunUsage = field(default_factory=RunUsage)

    def observe(self, event: Event) -> None:
        self.updated = time.time()
        if isinstance(event, RunPaused):
            self.status, self.state, self.usage = "awaiting_confirmation", event.state, event.state.usage
        elif isinstance(event, FinalOutput):
            self.status, self.state = "completed", None
            self.output, self.usage = event.result.output, event.result.usage
        elif isinstance(event, RunFailed):
            self.status, self.state, self.error, self.usage = "failed", None, event.message, event.usage

    def view(self) -> dict[str, Any]:
        output = self.output
        if output is not None and not isinstance(output, str | int | float | bool | list | dict):
            dump = getattr(output, "model_dump", None)
            output = dump(mode="json") if callable(dump) else str(output)
        return {
            "run_id": self.run_id, "agent": self.agent, "status": self.status, "created": self.created,
            "updated": self.updated, "output": output, "error": self.error,
            "usage": self.usage.model_dump(),
            "pending": [p.model_dump(mode="json") for p in self.state.pending] if self.state else [],
        }


class RunRegistry:
    def __init__(self, *, max_runs: int = 1000) -> None:
        self.max_runs = max_runs
        self._runs: OrderedDict[str, RunRecord] = OrderedDict()

    def add(self, record: RunRecord) -> RunRecord:
        self._runs[record.run_id] = record
        if len(self._runs) > self.max_runs:
            finished = [r for r in self._runs.values() if r.status in FINISHED]
            victim = finished[0] if finished else next(iter(self._runs.values()))
            del self._runs[victim.run_id]
        return record

    def get(self, run_id: str) -> RunRecord | None:
        return self._runs.get(run_id)

    def __len__(self) -> int:
        return len(self._runs)
