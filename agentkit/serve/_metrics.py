"""Prometheus text-format metrics, without a client library: counters, gauges and histograms with labels.

Only what the server needs. Label values are escaped as the exposition format requires; every family is
written with its HELP and TYPE lines, so `curl /metrics` can be scraped as is.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from typing import Literal, TypeVar

Kind = Literal["counter", "gauge", "histogram"]
LabelValues = tuple[str, ...]
_F = TypeVar("_F", bound="_Family")

DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class _Family:
    def __init__(self, name: str, help_text: str, kind: Kind, labels: Iterable[str]) -> None:
        self.name = name
        self.help = help_text
        self.kind = kind
        self.label_names = tuple(labels)
        self._lock = threading.Lock()

    def _key(self, labels: dict[str, str]) -> LabelValues:
        if set(labels) != set(self.label_names):
            raise ValueError(f"metric {self.name} takes labels {self.label_names}, got {sorted(labels)}")
        return tuple(str(labels[n]) for n in self.label_names)

    def _labels(self, values: LabelValues, extra: tuple[tuple[str, str], ...] = ()) -> str:
        pairs = [*zip(self.label_names, values, strict=True), *extra]
        if not pairs:
            return ""
        return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"

    def render(self) -> list[str]:
        raise NotImplementedError

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]


class Counter(_Family):
    def __init__(self, name: str, help_text: str, labels: Iterable[str] = ()) -> None:
        super().__init__(name, help_text, "counter", labels)
        self._values: dict[LabelValues, float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        return self._values.get(self._key(labels), 0.0)

    def render(self) -> list[str]:
        with self._lock:
            return self.header() + [f"{self.name}{self._labels(k)} {_number(v)}" for k, v in sorted(self._values.items())]


class Gauge(_Family):
    """A value set directly, or read from `callback` at scrape time (returning {label values: value})."""

    def __init__(
        self, name: str, help_text: str, labels: Iterable[str] = (), *,
        callback: Callable[[], dict[LabelValues, float]] | None = None,
    ) -> None:
        super().__init__(name, help_text, "gauge", labels)
        self._values: dict[LabelValues, float] = {}
        self._callback = callback

    def set(self, value: float, **labels: str) -> None:
        with self._lock:
            self._values[self._key(labels)] = value

    def render(self) -> list[str]:
        values = self._callback() if self._callback else dict(self._values)
        return self.header() + [f"{self.name}{self._labels(k)} {_number(v)}" for k, v in sorted(values.items())]


class Histogram(_Family):
    def __init__(
        self, name: str, help_text: str, labels: Iterable[str] = (), *, buckets: Iterable[float] = DEFAULT_BUCKETS,
    ) -> None:
        super().__init__(name, help_text, "histogram", labels)
        self.buckets = tuple(sorted(buckets))
        self._counts: dict[LabelValues, list[int]] = {}
        self._sums: dict[LabelValues, float] = {}
        self._observations: dict[LabelValues, list[float]] = {}

    def observe(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            counts = self._counts.setdefault(key, [0] * (len(self.buckets) + 1))
            for i, bound in enumerate(self.buckets):
                if value <= bound:
                    counts[i] += 1
            counts[-1] += 1
            self._sums[key] = self._sums.get(key, 0.0) + value
            kept = self._observations.setdefault(key, [])
            kept.append(value)
            if len(kept) > 10_000:  # a bounded window for quantiles()
                del kept[: len(kept) - 10_000]

    def quantile(self, q: float, **labels: str) -> float | None:
        """The q-quantile of the last 10,000 observations (for benchmarks and /v1/stats; not exported)."""
        values = sorted(self._observations.get(self._key(labels), []))
        if not values:
            return None
        return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]

    def count(self, **labels: str) -> int:
        counts = self._counts.get(self._key(labels))
        return counts[-1] if counts else 0

    def render(self) -> list[str]:
        lines = self.header()
        with self._lock:
            for key in sorted(self._counts):
                counts = self._counts[key]
                for bound, count in zip((*self.buckets, math.inf), counts, strict=True):
                    lines.append(f"{self.name}_bucket{self._labels(key, (('le', _number(bound)),))} {count}")
                lines.append(f"{self.name}_sum{self._labels(key)} {_number(self._sums[key])}")
                lines.append(f"{self.name}_count{self._labels(key)} {counts[-1]}")
        return lines


class Registry:
    """The server's metric families, rendered together for GET /metrics."""

    def __init__(self) -> None:
        self.families: list[_Family] = []
        self.requests = self.add(Counter(
            "agentkit_http_requests_total", "HTTP requests by route and status.", ("route", "status")))
        self.rejected = self.add(Counter(
            "agentkit_rejected_total", "Requests refused before running, by reason.", ("reason",)))
        self.tokens = self.add(Counter(
            "agentkit_tokens_total", "Tokens processed, by model and kind.", ("model", "kind")))
        self.queue_wait = self.add(Histogram(
            "agentkit_queue_wait_seconds", "Time a model request waited for a slot.", ("model",)))
        self.request_seconds = self.add(Histogram(
            "agentkit_model_request_seconds", "Time a model request held its slot.", ("model",)))
        self.runs = self.add(Counter(
            "agentkit_runs_total", "Agent runs by agent and outcome.", ("agent", "outcome")))

    def add(self, family: _F) -> _F:
        self.families.append(family)
        return family

    def render(self) -> str:
        lines: list[str] = []
        for family in self.families:
            lines += family.render()
        return "\n".join(lines) + "\n"
