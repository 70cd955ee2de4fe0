"""The per-model scheduler: priority, fairness between keys, bounded queue, cancellation, measured waits."""

from __future__ import annotations

import asyncio

import pytest

from agentkit.serve import QueueFull, Scheduler
from agentkit.serve._keys import KeyStore
from agentkit.serve._limits import Limiter, TokenBucket


async def occupy(scheduler: Scheduler, order: list[str], label: str, key: str, priority: str = "interactive",
                 hold: asyncio.Event | None = None, admit: bool = True) -> None:
    async with scheduler.slot(key=key, priority=priority, admit=admit):  # type: ignore[arg-type]
        order.append(label)
        if hold is not None:
            await hold.wait()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_keys_take_turns_so_one_key_cannot_starve_another() -> None:
    scheduler = Scheduler("m", slots=1, max_queue=10)
    order: list[str] = []
    gate = asyncio.Event()
    first = asyncio.create_task(occupy(scheduler, order, "a0", "alice", hold=gate))
    await settle()
    tasks = [asyncio.create_task(occupy(scheduler, order, f"a{i}", "alice")) for i in range(1, 4)]
    await settle()
    tasks.append(asyncio.create_task(occupy(scheduler, order, "b1", "bob")))
    await settle()
    gate.set()
    await asyncio.gather(first, *tasks)
    assert order == ["a0", "a1", "b1", "a2", "a3"]


async def test_interactive_before_batch_and_waits_are_measured() -> None:
    waits: list[float] = []
    scheduler = Scheduler("m", slots=1, max_queue=10, on_wait=waits.append)
    order: list[str] = []
    gate = asyncio.Event()
    first = asyncio.create_task(occupy(scheduler, order, "run", "k", hold=gate))
    await settle()
    batch = asyncio.create_task(occupy(scheduler, order, "batch", "k", "batch"))
    await settle()
    interactive = asyncio.create_task(occupy(scheduler, order, "interactive", "k2"))
    await settle()
    await asyncio.sleep(0.02)
    gate.set()
    await asyncio.gather(first, batch, interactive)
    assert order == ["run", "interactive", "batch"]
    assert len(waits) == 3
    assert waits[0] == 0.0
    assert min(waits[1:]) > 0.0


async def test_full_queue_refuses_at_once_with_retry_after() -> None:
    scheduler = Scheduler("m", slots=1, max_queue=2)
    gate = asyncio.Event()
    order: list[str] = []
    tasks = [asyncio.create_task(occupy(scheduler, order, str(i), "k", hold=gate)) for i in range(3)]
    await settle()
    assert scheduler.running == 1
    assert scheduler.waiting == 2
    with pytest.raises(QueueFull) as refused:
        async with scheduler.slot(key="k"):
            pass
    assert refused.value.retry_after >= 1
    async with asyncio.timeout(1):  # admitted runs' later requests never get refused
        extra = asyncio.create_task(occupy(scheduler, order, "extra", "k", admit=False))
        await settle()
        assert scheduler.waiting == 3
        gate.set()
        await asyncio.gather(*tasks, extra)
    assert scheduler.running == 0
    assert scheduler.waiting == 0


async def test_cancelled_waiter_leaves_the_queue_and_the_slot_passes_on() -> None:
    scheduler = Scheduler("m", slots=1, max_queue=5)
    gate = asyncio.Event()
    order: list[str] = []
    first = asyncio.create_task(occupy(scheduler, order, "first", "a", hold=gate))
    await settle()
    gone = asyncio.create_task(occupy(scheduler, order, "gone", "b"))
    after = asyncio.create_task(occupy(scheduler, order, "after", "c"))
    await settle()
    gone.cancel()
    await settle()
    assert scheduler.waiting == 1
    gate.set()
    await asyncio.gather(first, after)
    assert gone.cancelled()
    assert order == ["first", "after"]
    assert scheduler.running == 0


def test_token_bucket_and_quota_window() -> None:
    bucket = TokenBucket(rate=1.0, capacity=2, tokens=2, updated=0.0)
    assert bucket.take(0.0) == 0
    assert bucket.take(0.0) == 0
    assert bucket.take(0.0) == pytest.approx(1.0)
    assert bucket.take(1.0) == 0
    now = [0.0]
    limiter = Limiter(quota_window_s=100, clock=lambda: now[0])
    _, key = KeyStore().create("k", tokens_per_day=10)
    assert limiter.check_quota(key) is None
    limiter.charge(key, 12)
    assert limiter.check_quota(key) == pytest.approx(100)
    now[0] = 101
    assert limiter.check_quota(key) is None
    assert limiter.used(key) == 0


def test_keys_file_round_trip_and_errors(tmp_path: object) -> None:
    from pathlib import Path

    from agentkit import UserError

    path = Path(str(tmp_path)) / "keys.json"
    store = KeyStore()
    secret, record = store.create("ci", requests_per_minute=60, priority="batch")
    store.save(path)
    loaded = KeyStore.load(path)
    assert loaded.verify(secret) == record
    assert loaded.verify(secret + "x") is None
    assert loaded.verify("ak_nothing") is None
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    path.write_text('{"version": 1, "keys": [{"id": "zz"}]}')
    with pytest.raises(UserError, match=r"keys file .* is invalid"):
        KeyStore.load(path)
    with pytest.raises(UserError, match="exists already"):
        store.create("ci")
