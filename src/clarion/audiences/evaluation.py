"""Running a segment job: each audience's PQL runs inside the database, set-based, never row by row here.

Per audience, in ONE transaction (readers never see half a snapshot): (1) one INSERT … SELECT … ON CONFLICT
writes the qualifying profiles whose status changes (new → ``realized``, ``exited`` → ``realized``, realized
by an earlier job → ``existing``; ``existing`` ones are not rewritten), (2) one UPDATE marks ``exited`` the
members whose profile no longer qualifies, (3) counts by status and by identity namespace go into the job's
metrics. ``now`` is fixed when the job first starts (``profileSegmentationTime.startTimeInMs``), so a job
run again after a crash writes the same snapshot. Cancellation is checked between audiences.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from clarion.audiences import expressions
from clarion.audiences.errors import InvalidPql
from clarion.audiences.jobs import ALL_SEGMENTS
from clarion.audiences.repository import MembershipRepository, SegmentJobRepository, SegmentRepository
from clarion.audiences.service import default_merge_policy_id
from clarion.audiences.views import epoch_ms
from clarion.db.uow import UnitOfWork
from clarion.kit.clock import utcnow
from clarion.models.audiences import SegmentDefinition, SegmentJob
from clarion.models.profiles import Profile

log = structlog.get_logger()

CLAIMABLE = ("NEW", "QUEUED", "PROCESSING")
"""A PROCESSING job is claimable again: its worker crashed and the queue redelivered it."""
SEGMENT_FAILED = "CLARION-5500"


@dataclass(frozen=True, slots=True)
class JobScope:
    """Which job, of which organization and sandbox (the queue job's payload)."""

    org_id: str
    sandbox_id: str
    job_id: str


class Evaluation:
    """Evaluates one segment job, one audience per transaction."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork], scope: JobScope) -> None:
        self._unit_of_work = unit_of_work
        self._scope = scope

    async def run(self) -> None:
        """Claim the job, evaluate its audiences, record the outcome (a job not claimable is left alone)."""
        started = await self._claim()
        if started is None:
            return
        segment_ids, now = started
        for segment_id in segment_ids:
            if not await self._evaluate(segment_id, now):
                return
        await self._finish()

    async def fail(self, reason: str) -> None:
        """Mark the job FAILED (the queue gave up on it) with ``reason`` among its errors."""
        async with self._unit_of_work() as uow:
            job = await self._jobs(uow).get(self._scope.job_id)
            if job is None or job.status not in ("NEW", "QUEUED", "PROCESSING", "CANCELLING"):
                return
            job.errors = [*job.errors, {"code": SEGMENT_FAILED, "msg": reason}]
            job.metrics = _timed(job.metrics, "totalTime", end=utcnow())
            job.status, job.updated_at = "FAILED", utcnow()
            await uow.commit()

    async def _claim(self) -> tuple[list[str], datetime] | None:
        """PROCESSING now; resolve ``"*"``; fix the evaluation time (kept from an earlier attempt)."""
        async with self._unit_of_work() as uow:
            jobs = self._jobs(uow)
            claimed = await jobs.transition(
                self._scope.job_id, to="PROCESSING", allowed=CLAIMABLE, now=utcnow()
            )
            job = await jobs.get(self._scope.job_id)
            if not claimed or job is None:
                # A job cancelled while no worker ran it (e.g. its worker crashed) ends here.
                await self._stop(uow, job)
                return None
            if job.segment_ids == [ALL_SEGMENTS]:
                job.segment_ids = await self._segments(uow).batch_ids()
            started = job.metrics.get("profileSegmentationTime", {}).get("startTimeInMs")
            now = utcnow() if started is None else datetime.fromtimestamp(started / 1000, UTC)
            metrics = _timed(job.metrics, "totalTime", start=job.created_at)
            job.metrics = _timed(metrics, "profileSegmentationTime", start=now)
            job.updated_at = utcnow()
            segment_ids = list(job.segment_ids)
            await uow.commit()
        # The stored start has millisecond precision: use exactly it, so every attempt evaluates the same now.
        return segment_ids, datetime.fromtimestamp(epoch_ms(now) / 1000, UTC)

    async def _evaluate(self, segment_id: str, now: datetime) -> bool:
        """Evaluate one audience; False when the job was cancelled (and is now CANCELLED)."""
        async with self._unit_of_work() as uow:
            job = await self._jobs(uow).get(self._scope.job_id)
            if job is None or job.status != "PROCESSING":
                await self._stop(uow, job)
                return False
            segment = await self._segments(uow).get(segment_id)
            problem = await self._snapshot(uow, job, segment, segment_id, now)
            job.errors = [error for error in job.errors if error.get("segmentId") != segment_id]
            if problem is not None:
                job.errors = [*job.errors, {"code": SEGMENT_FAILED, "msg": problem, "segmentId": segment_id}]
            job.updated_at = utcnow()
            await uow.commit()
        return True

    async def _snapshot(
        self,
        uow: UnitOfWork,
        job: SegmentJob,
        segment: SegmentDefinition | None,
        segment_id: str,
        now: datetime,
    ) -> str | None:
        """Write the audience's snapshot and counts; the problem when it cannot be evaluated."""
        if segment is None:
            return f"Segment definition {segment_id!r} no longer exists (deleted before the job evaluated it)"
        try:
            expression = expressions.parse(segment.expression)
        except InvalidPql as error:
            return f"Segment definition {segment_id!r} cannot be evaluated: {error.detail}"
        condition = expressions.compile_condition(
            expression, attributes=Profile.__table__.c.attributes, dialect=uow.dialect.name, now=now
        )
        members = self._members(uow)
        await members.upsert_members(segment_id=segment_id, job_id=job.id, condition=condition, now=now)
        await members.exit_absent(segment_id=segment_id, job_id=job.id, condition=condition, now=now)
        by_status = await members.status_counts(segment_id=segment_id, job_id=job.id)
        by_namespace = await members.namespace_counts(segment_id=segment_id)
        job.metrics = _counted(job.metrics, segment_id, by_status, by_namespace)
        return None

    async def _finish(self) -> None:
        """Totals and end times; SUCCEEDED, or FAILED when an audience could not be evaluated."""
        async with self._unit_of_work() as uow:
            job = await self._jobs(uow).get(self._scope.job_id)
            if job is None or job.status not in ("PROCESSING", "CANCELLING"):
                return
            total = await self._members(uow).total_profiles()
            end = utcnow()
            metrics = _timed(job.metrics, "profileSegmentationTime", end=end)
            metrics = _timed(metrics, "totalTime", end=end)
            metrics["totalProfiles"] = total
            metrics["totalProfilesByMergePolicy"] = {default_merge_policy_id(self._scope.sandbox_id): total}
            job.metrics = metrics
            job.status, job.updated_at = ("FAILED" if job.errors else "SUCCEEDED"), end
            await uow.commit()
            log.info("segment_job.finished", job_id=job.id, status=job.status, segments=len(job.segment_ids))

    async def _stop(self, uow: UnitOfWork, job: SegmentJob | None) -> None:
        """A cancelled job becomes CANCELLED (the audiences already evaluated keep their snapshots)."""
        if job is None or job.status != "CANCELLING":
            return
        job.metrics = _timed(job.metrics, "totalTime", end=utcnow())
        job.status, job.updated_at = "CANCELLED", utcnow()
        await uow.commit()

    def _jobs(self, uow: UnitOfWork) -> SegmentJobRepository:
        return SegmentJobRepository(uow.session, self._scope.org_id, self._scope.sandbox_id)

    def _segments(self, uow: UnitOfWork) -> SegmentRepository:
        return SegmentRepository(uow.session, self._scope.org_id, self._scope.sandbox_id)

    def _members(self, uow: UnitOfWork) -> MembershipRepository:
        return MembershipRepository(uow.session, self._scope.org_id, self._scope.sandbox_id)


def _timed(
    metrics: dict[str, Any], name: str, *, start: datetime | None = None, end: datetime | None = None
) -> dict[str, Any]:
    """A copy of ``metrics`` with ``name``'s ``{startTimeInMs, endTimeInMs, totalTimeInMs}`` filled in.

    A start already recorded (an earlier attempt) is kept.
    """
    timing = dict(metrics.get(name) or {})
    if start is not None:
        timing.setdefault("startTimeInMs", epoch_ms(start))
    if end is not None:
        timing["endTimeInMs"] = epoch_ms(end)
        if "startTimeInMs" in timing:
            timing["totalTimeInMs"] = timing["endTimeInMs"] - timing["startTimeInMs"]
    return {**metrics, name: timing}


def _counted(
    metrics: dict[str, Any], segment_id: str, by_status: dict[str, int], by_namespace: dict[str, int]
) -> dict[str, Any]:
    """A copy of ``metrics`` with the audience's counters (members = realized + existing)."""
    updated = dict(metrics)
    for key, value in (
        ("segmentedProfileCounter", by_status["realized"] + by_status["existing"]),
        ("segmentedProfileByNamespaceCounter", by_namespace),
        ("segmentedProfileByStatusCounter", by_status),
    ):
        updated[key] = {**(metrics.get(key) or {}), segment_id: value}
    return updated
