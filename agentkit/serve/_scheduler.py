"""One scheduler per model: a bounded priority queue in front of the model's slots.

Interactive requests go before batch ones; within a priority, API keys take turns (round robin), so one key
flooding the queue delays only itself. A full queue refuses at once with a Retry-After estimate instead of
letting clients hang. Admission reserves a place at once (a streamed response or an agent run asks for its
slot only later), so a burst of clients cannot all pass the check before any of them queues. A waiter whose
task is cancelled (its client went away) leaves the queue, and a slot granted to it at that instant is handed
on. Every wait is measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from ..models._base import FinishChunk, Model, ModelChunk, ModelRequest
from ._keys import Priority

PRIORITIES: tuple[Priority, ...] = ("interactive", "batch")


class QueueFull(Exception):
    """The model's queue is full: answer 429 with Retry-After."""

    def __init__(self, model: str, retry_after: float) -> None:
        super().__init__(f"the queue for model {model!r} is full; retry in {retry_after:.0f}s")
        self.retry_after = retry_after


@dataclass
class _Waiter:
    key: str
    priority: Priority
    future: asyncio.Future[None]
    enqueued: float = field(default_factory=time.perf_counter)


class Scheduler:
    """`slots` requests run at once (1 for an in-process llama.cpp model: it serializes anyway; more for a
    pool of servers); up to `max_queue` wait. `on_wait(seconds)` and `on_done(seconds)` feed metrics."""

    def __init__(
        self, model: str, *, slots: int = 1, max_queue: int = 64,
        on_wait: Callable[[float], None] | None = None, on_done: Callable[[float], None] | None = None,
    ) -> None:
        if slots < 1 or max_queue < 0:
            raise ValueError("slots must be >= 1 and max_queue >= 0")
        self.model = model
        self.slots = slots
        self.max_queue = max_queue
        self.running = 0
        self.reserved = 0
        """Requests admitted (`reserve()`) that have not asked for their slot yet: they count as queued."""
        self._queues: dict[Priority, OrderedDict[str, deque[_Waiter]]] = {p: OrderedDict() for p in PRIORITIES}
        self._on_wait = on_wait
        self._on_done = on_done
        self._service_ewma = 1.0
        self.served_order: deque[tuple[str, Priority]] = deque(maxlen=1000)
        """(key, priority) of the last grants, oldest first: lets tests and operators see the order."""

    @property
    def waiting(self) -> int:
        return sum(len(d) for q in self._queues.values() for d in q.values())

    def retry_after(self) -> float:
        """Seconds until a place is likely free: queued work times the mean service time, per slot."""
        estimate = self._service_ewma * (self.waiting + self.reserved + 1) / self.slots
        return float(min(300, max(1, math.ceil(estimate))))

    def check_admission(self) -> None:
        """Raise QueueFull if a new request would have to queue and the queue is full."""
        if self.running + self.waiting + self.reserved >= self.slots + self.max_queue:
            raise QueueFull(self.model, self.retry_after())

    def reserve(self) -> Reservation:
        """Admit a request now (QueueFull if the queue is full) and hold its place until it asks for a slot."""
        self.check_admission()
        self.reserved += 1
        return Reservation(self)

    @contextlib.asynccontextmanager
    async def slot(self, *, key: str = "", priority: Priority = "interactive", admit: bool = True) -> AsyncIterator[float]:
        """Hold one of the model's slots; yields the seconds waited. `admit=False` skips the queue-size check
        (for the second and later model requests of a run already admitted)."""
        waited = await self._acquire(key, priority, admit)
        started = time.perf_counter()
        try:
            yield waited
        finally:
            elapsed = time.perf_counter() - started
            self._service_ewma = 0.8 * self._service_ewma + 0.2 * elapsed
            if self._on_done:
                self._on_done(elapsed)
            self._release()

    async def _acquire(self, key: str, priority: Priority, admit: bool) -> float:
        if self.running < self.slots and self.waiting == 0:
            self.running += 1
            self._granted(key, priority, 0.0)
            return 0.0
        if admit:
            self.check_admission()
        waiter = _Waiter(key, priority, asyncio.get_running_loop().create_future())
        self._queues[priority].setdefault(key, deque()).append(waiter)
        try:
            await waiter.future
        except asyncio.CancelledError:
            if waiter.future.done() and not waiter.future.cancelled():
                self._release()  # the slot arrived as we were cancelled: pass it on
            else:
                self._remove(waiter)
            raise
        waited = time.perf_counter() - waiter.enqueued
        self._granted(key, priority, waited)
        return waited

    def _granted(self, key: str, priority: Priority, waited: float) -> None:
        self.served_order.append((key, priority))
        if self._on_wait:
            self._on_wait(waited)

    def _remove(self, waiter: _Waiter) -> None:
        queue = self._queues[waiter.priority]
        waiters = queue.get(waiter.key)
        if waiters is not None and waiter in waiters:
            waiters.remove(waiter)
            if not waiters:
                del queue[waiter.key]

    def _release(self) -> None:
        self.running -= 1
        while self.running < self.slots:
            waiter = self._next()
            if waiter is None:
                return
            if waiter.future.done():
                continue  # cancelled while queued
            self.running += 1
            waiter.future.set_result(None)

    def _next(self) -> _Waiter | None:
        for priority in PRIORITIES:
            queue = self._queues[priority]
            if not queue:
                continue
            key, waiters = next(iter(queue.items()))
            waiter = waiters.popleft()
            del queue[key]
            if waiters:
                queue[key] = waiters  # to the back: the other keys go first (round robin)
            return waiter
        return None

    def snapshot(self) -> dict[str, int]:
        return {"running": self.running, "waiting": self.waiting, "slots": self.slots, "max_queue": self.max_queue}


class Reservation:
    """A queue place taken at admission. `release()` gives it back (once): when the request asks for its
    slot, or when its response ends without having asked (a client gone early, a run that failed first)."""

    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler: Scheduler | None = scheduler

    def release(self) -> None:
        if self._scheduler is not None:
            self._scheduler.reserved -= 1
            self._scheduler = None


def schedulers_gauge(schedulers: Sequence[Scheduler]) -> dict[tuple[str, ...], float]:
    out: dict[tuple[str, ...], float] = {}
    for s in schedulers:
        out[(s.model, "running")] = s.running
        out[(s.model, "waiting")] = s.waiting
    return out


class ScheduledModel:
    """A model whose every request first takes a slot from the scheduler, on behalf of one key.

    The wait is added to the FinishChunk's `queue_wait`, so run timings and `--timings` include it.
    """

    def __init__(
        self, model: Model, scheduler: Scheduler, *, key: str, priority: Priority,
        on_finish: Callable[[FinishChunk], None] | None = None, reservation: Reservation | None = None,
    ) -> None:
        self.model = model
        self.scheduler = scheduler
        self.key = key
        self.priority: Priority = priority
        self.on_finish = on_finish
        self.reservation = reservation

    @property
    def name(self) -> str:
        return self.model.name

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        return self._stream(request)

    async def _stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        if self.reservation is not None:
            self.reservation.release()  # the place becomes a queue entry or a slot without an await between
        async with self.scheduler.slot(key=self.key, priority=self.priority, admit=False) as waited:
            stream = self.model.stream(request)
            try:
                async for chunk in stream:
                    if isinstance(chunk, FinishChunk):
                        chunk = dataclasses.replace(chunk, queue_wait=chunk.queue_wait + waited)
                        if self.on_finish:
                            self.on_finish(chunk)
                    yield chunk
            finally:
                await stream.aclose()  # type: ignore[attr-defined]
