"""RevisionWatch: the revocation counter is read at most twice per interval, waited for once overdue."""

from __future__ import annotations

import asyncio

from clarion.tenancy.gateway import RevisionWatch


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Counter:
    def __init__(self) -> None:
        self.value = 7
        self.reads = 0
        self.changes = 0
        self.fail = False

    async def read(self) -> int:
        self.reads += 1
        if self.fail:
            raise ConnectionError("database down")
        return self.value

    def changed(self) -> None:
        self.changes += 1


async def test_reads_only_when_due_and_reports_changes() -> None:
    clock, counter = Clock(), Counter()
    watch = RevisionWatch(counter.read, counter.changed, interval=0.5, clock=clock)
    await watch.ensure_fresh()  # never read: waits for the first read
    assert (counter.reads, counter.changes) == (1, 0)
    for _ in range(100):
        await watch.ensure_fresh()
    assert counter.reads == 1  # fresh: no read per call
    counter.value = 8
    clock.now += 0.3  # past half the interval: refreshed in the background, the caller does not wait
    await watch.ensure_fresh()
    await asyncio.sleep(0)
    assert (counter.reads, counter.changes) == (2, 1)
    clock.now += 0.6  # overdue: the caller waits for the read
    counter.value = 9
    await watch.ensure_fresh()
    assert (counter.reads, counter.changes) == (3, 2)


async def test_an_unreadable_counter_does_not_fail_requests() -> None:
    clock, counter = Clock(), Counter()
    watch = RevisionWatch(counter.read, counter.changed, interval=0.5, clock=clock)
    await watch.ensure_fresh()
    counter.fail = True
    clock.now += 1.0
    await watch.ensure_fresh()
    assert counter.reads == 2
    await watch.ensure_fresh()
    assert counter.reads == 2  # retried after half an interval, not on every request
