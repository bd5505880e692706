"""Segmentation export jobs (``/data/core/ups/export/jobs``, contract §2.5): profiles into a dataset folder.

A job writes JSON lines under ``<landing zone>/datasets/<datasetId>/<batchId>/``: one file per audience
(``segment-<id>.json``), or ``profiles.json`` with every profile when no audience is given. With
``segmentPerBatch`` each audience gets its own batch id. Files appear atomically (the local destination
renames them into place). ``fields`` picks attributes (dotted paths); blank exports whole profiles.
This module stores, reads and cancels jobs; the worker writes the files (``tasks.ExportJobRunner``).
"""

from __future__ import annotations

import re
import uuid

from clarion.activation.runs import repository
from clarion.activation.runs.schemas import ExportJobCreate, ExportJobRun
from clarion.audiences import service as audiences
from clarion.db.uow import UnitOfWork
from clarion.errors import Invalid, NotFound
from clarion.kit.clock import utcnow
from clarion.kit.repository import require
from clarion.models.audiences import ExportJob
from clarion.queue.port import JobSpec
from clarion.tenancy.principal import Principal

EXPORT_JOB_TASK = "audiences.export"
_JOB_ID = re.compile(r"[0-9]{1,18}")


async def create(
    uow: UnitOfWork, principal: Principal, body: ExportJobCreate, *, request_id: str
) -> ExportJob:
    """Store a NEW job (its audiences must exist) and queue its execution."""
    segment_ids = [segment.segmentId for segment in body.filter.segments or []]
    if segment_ids:
        found = await audiences.bulk_segments(uow, principal, segment_ids)
        missing = [segment_id for segment_id in segment_ids if segment_id not in found]
        if missing:
            raise Invalid(f"filter.segments: segment definition(s) {', '.join(missing)} not found")
    job = ExportJob(
        org_id=principal.org_id,
        sandbox_id=principal.sandbox_id,
        status="NEW",
        request=body.model_dump(mode="json", by_alias=True, exclude_none=True),
        dataset_id=body.destination.datasetId,
        batch_id=str(uuid.uuid4()),
        metrics={},
        errors=[],
        request_id=request_id,
    )
    await repository.add_export_job(uow.session, job)
    uow.defer([JobSpec(EXPORT_JOB_TASK, ExportJobRun(job.id), job_id=f"export-job-{job.id}")])
    await uow.commit()
    return job


async def get(uow: UnitOfWork, principal: Principal, job_id: str) -> ExportJob:
    """A job of the caller's sandbox."""
    job = None
    # ASCII digits that fit a BIGINT: "²" passes isdigit() and fails int(); 2**63 overflows the column.
    if _JOB_ID.fullmatch(job_id):
        job = await repository.export_job(uow.session, principal.org_id, principal.sandbox_id, int(job_id))
    return require(job, NotFound(f"Export job {job_id} not found"))


async def page(
    uow: UnitOfWork, principal: Principal, *, limit: int, offset: int, status: str | None
) -> tuple[list[ExportJob], int]:
    """Jobs newest first, and how many match."""
    return await repository.export_jobs_page(
        uow.session,
        principal.org_id,
        principal.sandbox_id,
        limit=limit,
        offset=offset,
        status=status.upper() if status else None,
    )


async def cancel(uow: UnitOfWork, principal: Principal, job_id: str) -> None:
    """Mark a job for cancelling (a finished job keeps its status)."""
    job = await get(uow, principal, job_id)
    if job.status in ("NEW", "PROCESSING"):
        job.status, job.updated_at = "CANCELLED", utcnow()
    await uow.commit()
