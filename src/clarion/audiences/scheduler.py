"""The daily batch segmentation: every sandbox with batch audiences gets one scheduled job per UTC day.

Idempotent across processes without locks: a scheduled job's id is derived from (sandbox, schedule, UTC
date), so the job row's primary key lets exactly one ``INSERT … ON CONFLICT DO NOTHING`` win, however many
processes tick at once; only the winner queues the evaluation.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time

from clarion.audiences.jobs import ALL_SEGMENTS, evaluate_spec
from clarion.audiences.repository import insert_job_once, sandboxes_with_batch_segments
from clarion.db.uow import UnitOfWork

_SCHEDULES = uuid.UUID("7d0f3a9e-2c41-4b8e-9f6d-1a2b3c4d5e6f")
"""Namespace of the derived schedule and scheduled-job ids."""
SCHEDULER_SOURCE = "scheduler"


def default_schedule_id(sandbox_id: str) -> str:
    """The id of a sandbox's built-in daily schedule (``properties.scheduleId`` of its jobs)."""
    return str(uuid.uuid5(_SCHEDULES, f"profile-default:{sandbox_id}"))


def scheduled_job_id(schedule_id: str, day: date) -> str:
    """The id of the job that ``schedule_id`` runs on ``day`` (UTC): one per schedule and day."""
    return str(uuid.uuid5(_SCHEDULES, f"{schedule_id}:{day.isoformat()}"))


def daily_time(schedule_time: str) -> time:
    """``HH:MM`` (``settings.segment_schedule_time``) as a time of day."""
    hours, _, minutes = schedule_time.partition(":")
    return time(int(hours), int(minutes))


async def due_segment_jobs(uow: UnitOfWork, now: datetime, *, schedule_time: str) -> int:
    """Create today's scheduled job in every sandbox with batch audiences once ``schedule_time`` (UTC) passed.

    Returns how many jobs this call created (0 when another call already did today). ``now`` must be aware.
    """
    now = now.astimezone(UTC)
    day = now.date()
    if now.time() < daily_time(schedule_time):
        return 0
    created = 0
    for org_id, sandbox_id in await sandboxes_with_batch_segments(uow.session):
        schedule_id = default_schedule_id(sandbox_id)
        job_id = scheduled_job_id(schedule_id, day)
        row = {
            "id": job_id,
            "org_id": org_id,
            "sandbox_id": sandbox_id,
            "status": "NEW",
            "source": SCHEDULER_SOURCE,
            "segment_ids": [ALL_SEGMENTS],
            "metrics": {},
            "errors": [],
            "request_id": "",
            "schedule_id": schedule_id,
            "created_at": now,
            "updated_at": now,
        }
        if await insert_job_once(uow.session, row):
            uow.defer([evaluate_spec(job_id, org_id=org_id, sandbox_id=sandbox_id)])
            created += 1
    await uow.commit()
    return created
