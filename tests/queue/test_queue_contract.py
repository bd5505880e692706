"""The ``JobQueue`` contract, run against the backend chosen by ``CLARION_TEST_QUEUE_URL``."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from clarion.queue.port import Backlog, Job, JobQueue, JobSpec
from tests.queue.conftest import QueueFactory
from tests.queue.helpers import EMPTY, counts, eventually, reserve_eventually, wait_for_clock

pytestmark = pytest.mark.timeout(30)


async def reserve(
    queue: JobQueue, name: str = "default", *, limit: int = 100, lease: float = 30.0
) -> list[Job]:
    return await queue.reserve(name, limit=limit, lease_seconds=lease)


async def test_enqueue_reserve_ack(queue: JobQueue) -> None:
    ids = await queue.enqueue(
        [
            JobSpec("mail.send", {"to": "ada@example.com", "n": 1}, job_id="job-1"),
            JobSpec("mail.send", {"n": 2}),
        ]
    )
    assert ids[0] == "job-1"
    assert str(uuid.UUID(ids[1])) == ids[1]

    jobs = await reserve(queue)
    assert [job.id for job in jobs] == ids
    first = jobs[0]
    assert (first.task, first.payload, first.queue) == (
        "mail.send",
        {"to": "ada@example.com", "n": 1},
        "default",
    )
    assert (first.attempts, first.max_attempts) == (1, 8)
    assert first.receipt

    await queue.ack(jobs)
    assert await reserve(queue) == []
    assert counts(await queue.stats()) == EMPTY


async def test_empty_batches_are_no_ops(queue: JobQueue) -> None:
    assert await queue.enqueue([]) == []
    await queue.ack([])
    assert await reserve(queue) == []


async def test_batch_ids_are_returned_in_order(queue: JobQueue) -> None:
    specs = [JobSpec("t.x", {"i": i}, job_id=f"chosen-{i}" if i % 3 == 0 else None) for i in range(60)]
    ids = await queue.enqueue(specs)
    assert len(ids) == len(set(ids)) == 60
    assert all(ids[i] == f"chosen-{i}" for i in range(0, 60, 3))

    jobs = await reserve(queue)
    assert [job.id for job in jobs] == ids
    assert [job.payload["i"] for job in jobs] == list(range(60))


async def test_order_follows_due_time(queue: JobQueue) -> None:
    start = time.time()
    await queue.enqueue([JobSpec("t.late", delay=0.4), JobSpec("t.soon", delay=0.2), JobSpec("t.now1")])
    await queue.enqueue([JobSpec("t.now2")])
    await wait_for_clock(start + 0.5)

    jobs = await reserve(queue)
    assert [job.task for job in jobs] == ["t.now1", "t.now2", "t.soon", "t.late"]


async def test_reserve_respects_limit(queue: JobQueue) -> None:
    ids = await queue.enqueue([JobSpec("t.x", {"i": i}) for i in range(5)])
    batches = [await reserve(queue, limit=2) for _ in range(4)]
    assert [len(batch) for batch in batches] == [2, 2, 1, 0]
    assert [job.id for batch in batches for job in batch] == ids


async def test_queues_are_separate(queue: JobQueue) -> None:
    [job_id] = await queue.enqueue([JobSpec("t.x", queue="other")])
    assert await reserve(queue, "default") == []
    assert [job.id for job in await reserve(queue, "other")] == [job_id]


async def test_expired_lease_makes_job_reservable_again(queue: JobQueue) -> None:
    [job_id] = await queue.enqueue([JobSpec("t.x")])
    [first] = await reserve(queue, lease=1.0)
    assert await reserve(queue, lease=1.0) == []  # still leased

    [again] = await reserve_eventually(queue, lease=1.0)
    assert (again.id, first.attempts, again.attempts) == (job_id, 1, 2)


async def test_retry_backs_off_exponentially(make_queue: QueueFactory) -> None:
    queue = make_queue(backoff_base=0.3)
    await queue.enqueue([JobSpec("t.x")])
    [job] = await reserve(queue)

    retried_at = time.monotonic()
    assert await queue.retry(job, error="boom") is True
    assert await reserve(queue) == []
    assert counts(await queue.stats()) == {**EMPTY, "delayed": 1}
    [second] = await reserve_eventually(queue)
    first_wait = time.monotonic() - retried_at

    retried_at = time.monotonic()
    assert await queue.retry(second, error="boom again") is True
    [third] = await reserve_eventually(queue)
    second_wait = time.monotonic() - retried_at

    assert (second.attempts, third.attempts) == (2, 3)
    assert first_wait >= 0.25
    assert second_wait >= 0.55


async def test_retry_with_explicit_delay(queue: JobQueue) -> None:
    await queue.enqueue([JobSpec("t.x")])
    [job] = await reserve(queue)
    assert await queue.retry(job, error="later", delay=60) is True
    assert await reserve(queue) == []
    assert counts(await queue.stats()) == {**EMPTY, "delayed": 1}


async def test_dead_letter_after_max_attempts(make_queue: QueueFactory) -> None:
    queue = make_queue(max_attempts=2)
    await queue.enqueue([JobSpec("t.x")])
    [job] = await reserve(queue)
    assert await queue.retry(job, error="boom") is True
    [again] = await reserve_eventually(queue)
    assert again.attempts == again.max_attempts == 2

    assert await queue.retry(again, error="still broken") is False
    assert counts(await queue.stats()) == {**EMPTY, "dead": 1}
    assert await reserve(queue) == []


async def test_job_can_override_max_attempts(queue: JobQueue) -> None:
    await queue.enqueue([JobSpec("t.x", max_attempts=1)])
    [job] = await reserve(queue)
    assert job.max_attempts == 1
    assert await queue.retry(job, error="once is enough") is False
    assert counts(await queue.stats()) == {**EMPTY, "dead": 1}


async def test_expired_lease_on_last_attempt_dead_letters(queue: JobQueue) -> None:
    await queue.enqueue([JobSpec("t.x", max_attempts=1)])
    assert len(await reserve(queue, lease=0.2)) == 1

    async def buried() -> bool:
        assert await reserve(queue, lease=0.2) == [], "a job past its last attempt was delivered again"
        return counts(await queue.stats())["dead"] == 1

    await eventually(buried, what="the expired job to be dead-lettered")
    assert counts(await queue.stats()) == {**EMPTY, "dead": 1}


async def test_delayed_job_waits_until_due(queue: JobQueue) -> None:
    enqueued_at = time.monotonic()
    [job_id] = await queue.enqueue([JobSpec("t.x", delay=0.5)])
    assert await reserve(queue) == []
    assert counts(await queue.stats()) == {**EMPTY, "delayed": 1}

    [job] = await reserve_eventually(queue)
    assert job.id == job_id
    assert time.monotonic() - enqueued_at >= 0.45


async def test_stats_counts_per_queue(queue: JobQueue) -> None:
    await queue.enqueue(
        [
            JobSpec("t.a"),
            JobSpec("t.a"),
            JobSpec("t.a"),
            JobSpec("t.b", delay=60),
            JobSpec("t.c", queue="other"),
        ]
    )
    await queue.enqueue([JobSpec("t.d", queue="other", max_attempts=1)])
    assert len(await reserve(queue, limit=1)) == 1
    [doomed] = await reserve(queue, "other", limit=1)
    [survivor] = await reserve(queue, "other", limit=1)
    await queue.retry(survivor, error="x", delay=60)
    await queue.retry(doomed, error="x")

    stats = await queue.stats()
    assert counts(stats, "default") == {"ready": 2, "delayed": 1, "leased": 1, "dead": 0}
    assert counts(stats, "other") == {"ready": 0, "delayed": 1, "leased": 0, "dead": 1}


async def test_jobs_survive_close_and_reopen(make_queue: QueueFactory) -> None:
    first = make_queue()
    ids = await first.enqueue([JobSpec("t.x", {"i": i}) for i in range(3)])
    [leased] = await reserve(first, limit=1)
    await first.close()

    reopened = make_queue()
    assert counts(await reopened.stats()) == {**EMPTY, "ready": 2, "leased": 1}
    jobs = await reserve(reopened)
    assert [(job.id, job.payload) for job in jobs] == [(ids[1], {"i": 1}), (ids[2], {"i": 2})]
    assert leased.id == ids[0]


async def test_two_consumers_never_get_the_same_job(make_queue: QueueFactory) -> None:
    producer, first, second = make_queue(), make_queue(), make_queue()
    ids = await producer.enqueue([JobSpec("t.x", {"i": i}) for i in range(300)])

    async def consume(consumer: JobQueue) -> list[str]:
        taken: list[str] = []
        while batch := await reserve(consumer, limit=7):
            taken.extend(job.id for job in batch)
            await asyncio.sleep(0)  # let the other consumer interleave
        return taken

    got_first, got_second = await asyncio.gather(consume(first), consume(second))
    assert not set(got_first) & set(got_second)
    assert sorted(got_first + got_second) == sorted(ids)
    assert len(got_first) + len(got_second) == len(ids)


async def test_stale_retry_after_takeover_changes_nothing(make_queue: QueueFactory) -> None:
    slow, fast = make_queue(), make_queue()
    await slow.enqueue([JobSpec("t.x")])
    [stale] = await reserve(slow, lease=0.3)
    [current] = await reserve_eventually(fast, lease=0.3)
    assert current.attempts == 2

    # The lease was taken over: the stale retry must neither requeue a second copy nor free the new lease.
    assert await slow.retry(stale, error="too late") is True
    assert counts(await fast.stats()) == {**EMPTY, "leased": 1}
    assert await reserve(fast) == []
    await fast.ack([current])
    assert counts(await fast.stats()) == EMPTY
    assert await reserve(fast) == []


async def test_unique_job_is_stored_once_within_its_window(queue: JobQueue) -> None:
    first = JobSpec("t.unique", {"n": 1}, job_id="req-42", unique_for=60)
    again = JobSpec("t.unique", {"n": 2}, job_id="req-42", unique_for=60)
    assert await queue.enqueue([first]) == ["req-42"]
    jobs = await reserve(queue)
    await queue.ack(jobs)
    # After the job finished, and within one batch, the same id is still refused.
    assert await queue.enqueue([again, again]) == ["req-42", "req-42"]
    assert [job.payload for job in jobs] == [{"n": 1}]
    assert await reserve(queue) == []


async def test_enqueue_new_tells_a_replay_from_a_new_job(queue: JobQueue) -> None:
    replay = JobSpec("t.unique", {"n": 1}, job_id="order-7", unique_for=60)
    other = JobSpec("t.unique", {"n": 2}, job_id="order-8", unique_for=60)
    plain = JobSpec("t.plain", {"n": 3})
    ids, stored = await queue.enqueue_new([replay, other, replay, plain])
    assert (ids[:3], stored) == (["order-7", "order-8", "order-7"], [True, True, False, True])
    assert (await queue.enqueue_new([other, plain]))[1] == [False, True]
    jobs = await reserve(queue, limit=10)
    assert sorted(job.task for job in jobs) == ["t.plain", "t.plain", "t.unique", "t.unique"]


async def test_unique_window_expires(queue: JobQueue) -> None:
    spec = JobSpec("t.unique", {"n": 1}, job_id="short-window", unique_for=0.2)
    await queue.enqueue([spec])
    await queue.ack(await reserve(queue))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        await queue.enqueue([spec])
        jobs = await reserve(queue)
        if jobs:
            assert [job.id for job in jobs] == ["short-window"]
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the unique window never expired")


async def test_backlog_counts_one_queue_and_names_the_next_job(queue: JobQueue) -> None:
    assert await queue.backlog("lane") == Backlog(ready=0, leased=0, delayed=0, next_payload=None)
    await queue.enqueue([JobSpec("t.x", {"n": n}, queue="lane") for n in range(3)])
    await queue.enqueue([JobSpec("t.x", {"n": 9}, queue="lane", delay=60), JobSpec("t.x", queue="other")])
    assert await queue.backlog("lane") == Backlog(ready=3, leased=0, delayed=1, next_payload={"n": 0})

    await reserve(queue, "lane", limit=1)
    assert await queue.backlog("lane") == Backlog(ready=2, leased=1, delayed=1, next_payload={"n": 1})
    await queue.ack(await reserve(queue, "lane", limit=2))
    assert await queue.backlog("lane") == Backlog(ready=0, leased=1, delayed=1, next_payload=None)
