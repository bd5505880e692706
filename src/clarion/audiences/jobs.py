"""Rules of segment jobs: submission (with the sandbox's cap), reads, cancellation.

The evaluation itself runs in a worker (``evaluation.py``), started by the queue job ``audiences.evaluate``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement

from clarion.audiences.errors import JOB_CAP_MESSAGE, InvalidSegment, SegmentJobNotFound, TooManySegmentJobs
from clarion.audiences.repository import FINISHED, SegmentJobRepository, SegmentRepository
from clarion.audiences.schemas import EvaluateJob
from clarion.audiences.service import parse_sort
from clarion.db.uow import UnitOfWork
from clarion.kit.clock import utcnow
from clarion.kit.repository import require
from clarion.models.audiences import SegmentDefinition, SegmentJob
from clarion.queue.port import JobSpec
from clarion.tenancy.principal import Principal

EVALUATE_TASK = "audiences.evaluate"
"""Queue task that evaluates one segment job (payload: ``jobId``, ``orgId``, ``sandboxId``)."""
ALL_SEGMENTS = "*"
"""A job's ``segmentId`` meaning every batch audience of the sandbox, resolved when the job starts."""
STATUSES = ("NEW", "QUEUED", "PROCESSING", "CANCELLING", "CANCELLED", "FAILED", "SUCCEEDED")
CAP_RETRY_AFTER_SECONDS = 30.0
SORTABLE = {
    "creationTime": SegmentJob.created_at,
    "updateTime": SegmentJob.updated_at,
    "status": SegmentJob.status,
    "id": SegmentJob.id,
}
"""``sort`` attributes of ``GET /segment/jobs`` and their columns."""
_PROPERTIES = {
    "source": SegmentJob.source,
    "status": SegmentJob.status,
    "id": SegmentJob.id,
    "requestId": SegmentJob.request_id,
    "properties.scheduleId": SegmentJob.schedule_id,
}
"""``property=<path>==<value>`` filters of ``GET /segment/jobs`` besides ``segments~segmentId==<id>``."""


def evaluate_spec(job_id: str, *, org_id: str, sandbox_id: str) -> JobSpec:
    """The queue job that evaluates segment job ``job_id`` (its id de-duplicates redundant enqueues)."""
    return JobSpec(
        EVALUATE_TASK,
        EvaluateJob(jobId=job_id, orgId=org_id, sandboxId=sandbox_id),
        job_id=f"segment-job:{job_id}",
    )


async def submit_job(
    uow: UnitOfWork, principal: Principal, segment_ids: Sequence[str], *, request_id: str, max_in_flight: int
) -> SegmentJob:
    """Store a NEW job for the audiences and queue its evaluation; 429 when too many are in flight."""
    wanted = await _checked_segment_ids(uow, principal, segment_ids)
    repo = _jobs(uow, principal)
    if await repo.count_in_flight() >= max_in_flight:
        raise TooManySegmentJobs(JOB_CAP_MESSAGE, retry_after=CAP_RETRY_AFTER_SECONDS)
    job = SegmentJob(
        org_id=principal.org_id,
        sandbox_id=principal.sandbox_id,
        status="NEW",
        source="api",
        segment_ids=wanted,
        metrics={},
        errors=[],
        request_id=request_id[:64],
    )
    repo.add(job)
    await uow.session.flush()
    uow.defer([evaluate_spec(job.id, org_id=job.org_id, sandbox_id=job.sandbox_id)])
    await uow.commit()
    return job


async def get_job(uow: UnitOfWork, principal: Principal, job_id: str) -> SegmentJob:
    """One segment job of the caller's sandbox."""
    return require(
        await _jobs(uow, principal).get(job_id),
        SegmentJobNotFound(f"Segment job {job_id!r} was not found in this sandbox", context={"id": job_id}),
    )


async def list_jobs(
    uow: UnitOfWork,
    principal: Principal,
    *,
    status: str | None,
    sort: str | None,
    property_filter: str | None,
    limit: int,
    offset: int,
) -> tuple[list[SegmentJob], int]:
    """One page of the sandbox's jobs (newest first unless ``sort`` says otherwise) and the total."""
    repo = _jobs(uow, principal)
    filters: list[ColumnElement[bool]] = []
    if status is not None:
        if status not in STATUSES:
            raise InvalidSegment(
                f"status: {status!r} is not one of {', '.join(STATUSES)}", context={"field": "status"}
            )
        filters.append(SegmentJob.status == status)
    if property_filter:
        filters.append(_property_filter(repo, property_filter))
    orders = parse_sort(sort, set(SORTABLE), default=[("creationTime", "desc")])
    order_by: list[Any] = [
        SORTABLE[name].desc() if direction == "desc" else SORTABLE[name].asc() for name, direction in orders
    ]
    order_by.append(SegmentJob.id)
    return await repo.search(filters=filters, order_by=order_by, limit=limit, offset=offset)


async def bulk_jobs(uow: UnitOfWork, principal: Principal, ids: Sequence[str]) -> dict[str, SegmentJob]:
    """The jobs among ``ids`` that exist in the caller's sandbox, by id."""
    return await _jobs(uow, principal).many(ids)


async def cancel_job(uow: UnitOfWork, principal: Principal, job_id: str) -> None:
    """Cancel a job: a waiting one at once, a running one at its next segment; a finished one is deleted."""
    job = await get_job(uow, principal, job_id)
    repo = _jobs(uow, principal)
    if job.status == "CANCELLING":
        return
    # Compare-and-set: the worker may finish the job between our read and this write.
    if job.status in FINISHED or not await repo.cancel(job_id, now=utcnow()):
        await repo.remove(job_id)
    await uow.commit()


async def segments_of(
    uow: UnitOfWork, principal: Principal, jobs: Iterable[SegmentJob]
) -> dict[str, SegmentDefinition]:
    """The definitions (still present) that the jobs name, for their views."""
    ids = sorted({segment_id for job in jobs for segment_id in job.segment_ids if segment_id != ALL_SEGMENTS})
    if not ids:
        return {}
    return await SegmentRepository(uow.session, principal.org_id, principal.sandbox_id).many(ids)


async def _checked_segment_ids(
    uow: UnitOfWork, principal: Principal, segment_ids: Sequence[str]
) -> list[str]:
    wanted = list(dict.fromkeys(segment_ids))
    if ALL_SEGMENTS in wanted:
        if len(wanted) > 1:
            raise InvalidSegment(
                'segmentId: "*" (every audience) cannot be combined with other segment ids',
                context={"field": "segmentId"},
            )
        return wanted
    found = await SegmentRepository(uow.session, principal.org_id, principal.sandbox_id).many(wanted)
    missing = [segment_id for segment_id in wanted if segment_id not in found]
    if missing:
        raise InvalidSegment(
            f"segmentId: segment definition(s) {', '.join(missing)} not found in this sandbox",
            context={"field": "segmentId", "missing": missing},
        )
    return wanted


def _property_filter(repo: SegmentJobRepository, expression: str) -> ColumnElement[bool]:
    path, separator, value = expression.partition("==")
    if separator and path == "segments~segmentId":
        return repo.naming(value)
    if separator and path in _PROPERTIES:
        return _PROPERTIES[path] == value
    raise InvalidSegment(
        f"property: {expression!r} is not supported; use segments~segmentId==<id> or "
        f"<{'|'.join(_PROPERTIES)}>==<value>",
        context={"field": "property"},
    )


def _jobs(uow: UnitOfWork, principal: Principal) -> SegmentJobRepository:
    return SegmentJobRepository(uow.session, principal.org_id, principal.sandbox_id)
