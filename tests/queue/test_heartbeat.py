"""The lease heartbeat (``queue/leases.py``) in the worker: a slow handler keeps its job, a worker that
stops renewing (cancelled, killed) hands its jobs over about one lease later, and the heartbeat ends with
the worker."""

from __future__ import annotations

import asyncio
import time

import pytest

from clarion.queue.leases import LeaseKeeper
from clarion.queue.port import Job, JobQueue, JobSpec
from clarion.queue.worker import TaskRegistry, Worker
from tests.queue.conftest import QueueFactory
from tests.queue.helpers import EMPTY, counts, eventually, reserve_eventually, wait_for_clock

pytestmark = pytest.mark.timeout(30)

LEASE = 1.0


def heartbeats() -> list[asyncio.Task[object]]:
    """The heartbeat tasks alive on this loop."""
    return [task for task in asyncio.all_tasks() if task.get_name() == "clarion-lease-heartbeat"]


async def test_a_slow_handler_keeps_its_lease_for_many_leases(make_queue: QueueFactory) -> None:
    queue, rival = make_queue(), make_queue()
    started, release = asyncio.Event(), asyncio.Event()
    runs: list[int] = []
    registry = TaskRegistry()

    @registry.register("t.slow")
    async def slow(job: Job) -> None:
        runs.append(job.attempts)
        started.set()
        await release.wait()

    worker = Worker(queue, registry, queues=["default"], lease_seconds=LEASE, poll_interval=0.01)
    running = asyncio.create_task(worker.run())
    await queue.enqueue([JobSpec("t.slow")])
    await asyncio.wait_for(started.wait(), timeout=10)
    began = time.time()

    # Three leases long, a rival polling all the while never gets the job.
    while time.time() < began + 3 * LEASE:
        assert await rival.reserve("default", limit=10, lease_seconds=LEASE) == []
        await asyncio.sleep(0.05)  # pacing the rival's polls
    assert worker.leases.renewals >= 3

    release.set()

    async def acked() -> bool:
        return counts(await rival.stats()) == EMPTY

    await eventually(acked, what="the slow job acked")
    worker.stop()
    await asyncio.wait_for(running, timeout=10)
    assert runs == [1]
    assert worker.leases.lost == 0


async def test_a_cancelled_worker_stops_renewing_and_its_job_moves_on(make_queue: QueueFactory) -> None:
    queue, rescuer = make_queue(), make_queue()
    started = asyncio.Event()
    registry = TaskRegistry()

    @registry.register("t.stuck")
    async def stuck(job: Job) -> None:
        started.set()
        await asyncio.Event().wait()  # never finishes: only the cancellation ends it

    worker = Worker(queue, registry, queues=["default"], lease_seconds=LEASE)
    running = asyncio.create_task(worker.run())
    [job_id] = await queue.enqueue([JobSpec("t.stuck")])
    await asyncio.wait_for(started.wait(), timeout=10)
    assert len(heartbeats()) == 1

    running.cancel()
    cancelled_at = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert heartbeats() == [], "the heartbeat outlived its worker"

    [again] = await reserve_eventually(rescuer, lease=LEASE, timeout=5 * LEASE)
    assert (again.id, again.attempts) == (job_id, 2)
    assert time.monotonic() - cancelled_at <= LEASE + 1.0


async def test_stop_ends_the_heartbeat(queue: JobQueue) -> None:
    worker = Worker(queue, TaskRegistry(), queues=["default"], lease_seconds=LEASE)
    running = asyncio.create_task(worker.run())

    async def beating() -> bool:
        return len(heartbeats()) == 1

    await eventually(beating, what="the heartbeat to start")
    worker.stop()
    await asyncio.wait_for(running, timeout=5)
    assert heartbeats() == []


async def test_a_lease_found_taken_over_is_no_longer_renewed(make_queue: QueueFactory) -> None:
    stalled, rescuer = make_queue(), make_queue()
    keeper = LeaseKeeper(stalled, lease_seconds=0.3)
    await stalled.enqueue([JobSpec("t.x"), JobSpec("t.y")])
    taken_over, kept = await stalled.reserve("default", limit=2, lease_seconds=0.3)
    keeper.hold([taken_over, kept])
    reserved_at = time.time()

    # The process stalls past the lease; meanwhile one of its jobs is reserved elsewhere (with the same
    # lease: on Redis a lease is measured by whoever reclaims it).
    await wait_for_clock(reserved_at + 0.4)
    [rescued] = await rescuer.reserve("default", limit=1, lease_seconds=0.3)
    assert rescued.id == taken_over.id

    await keeper.renew()
    assert (keeper.holds(taken_over), keeper.holds(kept), keeper.lost) == (False, True, 1)
    assert keeper.renewals == 1
    # The next beat renews only the lease still held, and loses nothing more.
    await keeper.renew()
    assert (keeper.renewals, keeper.lost, keeper.holds(kept)) == (2, 1, True)
