"""The daily schedule: one job per sandbox with batch audiences per UTC day, however many processes tick."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from clarion.audiences.scheduler import default_schedule_id, due_segment_jobs
from tests.audiences.conftest import Ups, UpsFactory


def a_day() -> datetime:
    """Midnight UTC of a random future day: the shared test database never saw a tick for it."""
    return datetime(2040, 1, 1, tzinfo=UTC) + timedelta(days=secrets.randbelow(300_000))


async def tick(ups: Ups, now: datetime, schedule_time: str = "01:30") -> int:
    """One scheduler tick in its own unit of work."""
    async with ups.container.unit_of_work() as uow:
        return await due_segment_jobs(uow, now, schedule_time=schedule_time)


async def scheduled_jobs(ups: Ups) -> list[dict[str, Any]]:
    """The sandbox's jobs created by the scheduler."""
    response = await ups.call("GET", "/segment/jobs?property=source==scheduler", expect=200)
    children: list[dict[str, Any]] = response.json()["children"]
    return children


async def test_nothing_is_due_before_the_daily_time(ups: Ups) -> None:
    await ups.segment("person.age >= 35")
    day = a_day()
    assert await tick(ups, day + timedelta(hours=1, minutes=29)) == 0
    assert await scheduled_jobs(ups) == []


async def test_one_job_per_day_even_when_ticked_twice(ups: Ups) -> None:
    segment = await ups.segment("person.age >= 35")
    day = a_day()
    assert await tick(ups, day + timedelta(hours=1, minutes=30)) >= 1
    assert await tick(ups, day + timedelta(hours=5)) == 0
    (job,) = await scheduled_jobs(ups)
    assert job["status"] == "NEW"
    assert job["source"] == "scheduler"
    assert job["segments"] == [{"segmentId": "*"}]
    assert job["properties"] == {"scheduleId": default_schedule_id(ups.sandbox_id), "runId": job["id"]}
    done = await ups.evaluate(job["id"])
    assert [item["segmentId"] for item in done["segments"]] == [segment["id"]]
    assert done["status"] == "SUCCEEDED"
    await tick(ups, day + timedelta(days=1, hours=2))
    assert len(await scheduled_jobs(ups)) == 2


async def test_concurrent_ticks_create_one_job(ups: Ups) -> None:
    await ups.segment("person.age >= 35")
    moment = a_day() + timedelta(hours=12)
    created = await asyncio.gather(*(tick(ups, moment) for _ in range(4)))
    assert len(await scheduled_jobs(ups)) == 1
    # Every tick created the jobs of all sandboxes (other tests' too) at most once between them.
    assert sum(created) == max(created)


async def test_only_sandboxes_with_batch_audiences_get_a_job(ups: Ups, make_ups: UpsFactory) -> None:
    await ups.segment("person.age >= 35")
    streaming_only = await make_ups()
    await streaming_only.segment("person.age >= 35", evaluationInfo={"continuous": {"enabled": True}})
    idle = await make_ups()
    await tick(ups, a_day() + timedelta(hours=2))
    assert len(await scheduled_jobs(ups)) == 1
    assert await scheduled_jobs(streaming_only) == []
    assert await scheduled_jobs(idle) == []


async def test_schedule_time_is_configurable(ups: Ups) -> None:
    await ups.segment("person.age >= 35")
    day = a_day()
    assert await tick(ups, day + timedelta(hours=22), schedule_time="23:00") == 0
    assert await tick(ups, day + timedelta(hours=23), schedule_time="23:00") >= 1
    assert len(await scheduled_jobs(ups)) == 1
