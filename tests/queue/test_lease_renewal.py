"""``JobQueue.extend`` (the lease heartbeat's one operation), run against the backend chosen by
``CLARION_TEST_QUEUE_URL`` like the rest of the contract."""

from __future__ import annotations

import time

import pytest

from clarion.queue.port import Job, JobQueue, JobSpec
from tests.queue.conftest import QueueFactory
from tests.queue.helpers import EMPTY, counts, reserve_eventually, wait_for_clock

pytestmark = pytest.mark.timeout(30)


async def reserve(queue: JobQueue, *, limit: int = 100, lease: float = 30.0) -> list[Job]:
    return await queue.reserve("default", limit=limit, lease_seconds=lease)


async def test_renewed_lease_outlives_its_first_deadline(make_queue: QueueFactory) -> None:
    holder, rival = make_queue(), make_queue()
    [job_id] = await holder.enqueue([JobSpec("t.x")])
    [job] = await reserve(holder, lease=1.0)
    reserved_at = time.time()

    # Renew twice within the lease, then look past the first deadline: the job is still held.
    for beat in (0.4, 0.8, 1.2):
        await wait_for_clock(reserved_at + beat)
        assert await holder.extend([job], lease_seconds=1.0) == [job]
    await wait_for_clock(reserved_at + 1.5)
    assert await reserve(rival, lease=1.0) == []
    assert counts(await rival.stats())["leased"] == 1

    # Once the renewals stop, the lease lapses and the job comes back as a new attempt.
    [again] = await reserve_eventually(rival, lease=1.0)
    assert (again.id, again.attempts) == (job_id, 2)
    assert time.time() - reserved_at >= 2.1  # the last renewal at 1.2 s + a 1 s lease


async def test_renewal_after_takeover_renews_nothing(make_queue: QueueFactory) -> None:
    stale_holder, new_holder, third = make_queue(), make_queue(), make_queue()
    await stale_holder.enqueue([JobSpec("t.x")])
    [stale] = await reserve(stale_holder, lease=0.3)
    [current] = await reserve_eventually(new_holder, lease=0.3)
    assert current.attempts == 2

    # The stale delivery is told it lost the lease, and renewing it does not take the job back.
    assert await stale_holder.extend([stale], lease_seconds=0.3) == []
    assert await new_holder.extend([current], lease_seconds=30) == [current]
    assert await reserve(third, lease=30) == []
    # Its late ack or retry stays harmless (the existing contract): the new holder still owns the job.
    assert await stale_holder.retry(stale, error="too late") is True
    assert counts(await third.stats()) == {**EMPTY, "leased": 1}
    await new_holder.ack([current])
    assert counts(await third.stats()) == EMPTY


async def test_acked_or_retried_jobs_are_not_renewed(queue: JobQueue) -> None:
    await queue.enqueue([JobSpec("t.done"), JobSpec("t.failed"), JobSpec("t.running")])
    done, failed, running = await reserve(queue)
    await queue.ack([done])
    assert await queue.retry(failed, error="boom", delay=60) is True

    assert await queue.extend([done, failed, running], lease_seconds=30) == [running]
    assert await queue.extend([], lease_seconds=30) == []
    # The requeued job kept its backoff: renewing did not lease it again.
    assert counts(await queue.stats()) == {**EMPTY, "delayed": 1, "leased": 1}


async def test_renewal_spans_queues_in_one_call(queue: JobQueue) -> None:
    await queue.enqueue([JobSpec("t.a"), JobSpec("t.b", queue="other")])
    [first] = await reserve(queue)
    [second] = await queue.reserve("other", limit=10, lease_seconds=30)
    assert await queue.extend([first, second], lease_seconds=30) == [first, second]


async def test_an_expired_lease_is_found_at_once_behind_many_live_ones(make_queue: QueueFactory) -> None:
    """A reclaim pass finds an expired lease at the first reserve, whatever the number of live leases and
    however small the reserve (a throttle lane reserves one call at a time)."""
    busy, dead, rescuer = make_queue(), make_queue(), make_queue()
    live = 1500
    await busy.enqueue([JobSpec("t.live", {"i": i}) for i in range(live)])
    [orphan_id] = await busy.enqueue([JobSpec("t.orphan")])
    held = await reserve(busy, limit=live, lease=3.0)
    assert len(held) == live
    [orphan] = await reserve(dead, limit=1, lease=3.0)  # the newest lease: last in any walk of leases
    assert orphan.id == orphan_id
    reserved_at = time.time()

    # ``busy`` heartbeats; ``dead`` never renews again.
    await wait_for_clock(reserved_at + 1.5)
    assert len(await busy.extend(held, lease_seconds=3.0)) == live
    assert await reserve(rescuer, limit=1, lease=3.0) == []

    await wait_for_clock(reserved_at + 3.3)
    found: list[Job] = []
    for _ in range(2):
        found = await reserve(rescuer, limit=1, lease=3.0)
        if found:
            break
    assert [(job.id, job.attempts) for job in found] == [(orphan_id, 2)]
