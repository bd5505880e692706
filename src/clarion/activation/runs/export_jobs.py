"""Segmentation export jobs (``/data/core/ups/export/jobs``, contract §2.5): profiles into a dataset folder.

A job writes JSON lines under ``<landing zone>/datasets/<datasetId>/<batchId>/``: one file per audience
(``segment-<id>.json``), or ``profiles.json`` with every profile when no audience is given. With
``segmentPerBatch`` each audience gets its own batch id. Files appear atomically (the local destination
renames them into place). ``fields`` picks attributes (dotted paths); blank exports whole profiles.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from clarion.activation.export import exporter
from clarion.activation.export.destinations import DestinationError, local_folder
from clarion.activation.export.exporter import FileFormat
from clarion.activation.export.members import STATUS_COLUMN, Audience, Columns
from clarion.activation.runs import repository as run_store
from clarion.config import Settings
from clarion.db.uow import UnitOfWork
from clarion.errors import Invalid, NotFound
from clarion.kit.clock import utcnow
from clarion.models.audiences import ExportJob
from clarion.queue.port import Job, JobSpec
from clarion.tenancy.principal import Principal

EXPORT_JOB_TASK = "audiences.export"
STATUSES = ("realized", "existing", "exited")


class SegmentFilter(BaseModel):
    """One audience to export and the member statuses wanted."""

    model_config = ConfigDict(extra="allow")
    segmentId: str = Field(min_length=1)
    segmentNs: str = "ups"
    status: list[str] = Field(default_factory=lambda: ["realized", "existing"])

    @field_validator("status")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(STATUSES))
        if unknown or not value:
            raise ValueError(f"must be a non-empty list of {', '.join(STATUSES)} (got {unknown or value})")
        return value


class QualificationTime(BaseModel):
    """Window of segment qualification times (RFC 3339)."""

    startTime: datetime | None = None
    endTime: datetime | None = None


class ExportFilter(BaseModel):
    """Which profiles to export."""

    model_config = ConfigDict(extra="allow")
    segments: list[SegmentFilter] | None = None
    segmentQualificationTime: QualificationTime | None = None


class DatasetDestination(BaseModel):
    """Where the export goes."""

    model_config = ConfigDict(extra="allow")
    datasetId: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")
    segmentPerBatch: bool = False


class ExportJobCreate(BaseModel):
    """``POST /export/jobs`` body."""

    model_config = ConfigDict(extra="allow")
    fields: str = ""
    mergePolicy: dict[str, Any] | None = None
    filter: ExportFilter = Field(default_factory=ExportFilter)
    additionalFields: dict[str, Any] | None = None
    destination: DatasetDestination
    schema_: dict[str, Any] = Field(default_factory=lambda: {"name": "_xdm.context.profile"}, alias="schema")


async def create(
    uow: UnitOfWork, principal: Principal, body: ExportJobCreate, *, request_id: str
) -> ExportJob:
    """Store a NEW job (its audiences must exist) and queue its execution."""
    segment_ids = [segment.segmentId for segment in body.filter.segments or []]
    if segment_ids:
        found = await run_store.existing_segments(
            uow.session, principal.org_id, principal.sandbox_id, segment_ids
        )
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
    uow.session.add(job)
    await uow.session.flush()
    uow.defer([JobSpec(EXPORT_JOB_TASK, {"export_job_id": job.id}, job_id=f"export-job-{job.id}")])
    await uow.commit()
    return job


async def get(uow: UnitOfWork, principal: Principal, job_id: str) -> ExportJob:
    """A job of the caller's sandbox."""
    job = None
    if job_id.isdigit():
        job = await run_store.export_job(uow.session, principal.org_id, principal.sandbox_id, int(job_id))
    if job is None:
        raise NotFound(f"Export job {job_id} not found")
    return job


async def page(
    uow: UnitOfWork, principal: Principal, *, limit: int, offset: int, status: str | None
) -> tuple[list[ExportJob], int]:
    """Jobs newest first, and how many match."""
    return await run_store.export_jobs_page(
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


class ExportJobRunner:
    """The ``audiences.export`` task: writes a job's files and records the outcome."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork], settings: Settings) -> None:
        self._unit_of_work = unit_of_work
        self._settings = settings

    async def handle(self, job: Job) -> None:
        """Run the export job named in the payload (nothing when it is finished or cancelled)."""
        async with self._unit_of_work() as uow:
            record = await uow.session.get(ExportJob, int(job.payload["export_job_id"]))
            if record is None or record.status not in ("NEW", "PROCESSING"):
                return
            record.status, record.updated_at = "PROCESSING", utcnow()
            await uow.commit()
        started = time.time()
        try:
            batches, exported = await self._write(record)
        except (DestinationError, OSError) as error:
            await self._finish(
                record, "FAILED", started, errors=[{"code": "EXPORT-FAILED", "msg": str(error)}]
            )
            return
        await self._finish(record, "SUCCEEDED", started, batches=batches, exported=exported)

    async def _write(self, record: ExportJob) -> tuple[list[dict[str, Any]], int]:
        body = ExportJobCreate.model_validate(record.request)
        root = self._settings.landing_zone or self._settings.home / "landing"
        fields = tuple(field.strip() for field in body.fields.split(",") if field.strip())
        whole_profile = not body.fields.strip()
        window = body.filter.segmentQualificationTime or QualificationTime()
        batches: list[dict[str, Any]] = []
        exported = 0
        targets: list[SegmentFilter | None] = list(body.filter.segments or []) or [None]
        for target in targets:
            batch_id = str(uuid.uuid4()) if body.destination.segmentPerBatch and target else record.batch_id
            destination = local_folder(root, f"datasets/{record.dataset_id}/{batch_id}")
            audience = Audience(
                record.org_id,
                record.sandbox_id,
                target.segmentId if target else None,
                tuple(target.status) if target else (),
                window.startTime,
                window.endTime,
            )
            name = f"segment-{target.segmentId}.json" if target else "profiles.json"
            # Members of an audience carry their status; an export of every profile has none to carry.
            columns = Columns((), (*fields, STATUS_COLUMN) if target else fields, whole_profile)
            async with self._unit_of_work() as uow:
                upload = await destination.open(name)
                result = await exporter.export_audience(
                    uow.session, audience, columns, FileFormat("JSON"), upload
                )
            await destination.close()
            exported += result.rows
            if target:
                batches.append(
                    {
                        "segmentId": target.segmentId,
                        "segmentNs": target.segmentNs,
                        "status": target.status,
                        "batchId": batch_id,
                    }
                )
        return batches, exported

    async def _finish(
        self,
        record: ExportJob,
        status: str,
        started: float,
        *,
        batches: list[dict[str, Any]] | None = None,
        exported: int = 0,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        ended = time.time()
        span = {
            "startTimeInMs": int(started * 1000),
            "endTimeInMs": int(ended * 1000),
            "totalTimeInMs": int((ended - started) * 1000),
        }
        async with self._unit_of_work() as uow:
            stored = await uow.session.get(ExportJob, record.id)
            if stored is None:
                return
            if stored.status == "PROCESSING":
                stored.status = status
            stored.metrics = {
                "totalTime": span,
                "profileExportTime": span,
                "aCPDatasetWriteTime": span,
                "totalExportedProfileCounter": exported,
                "batches": batches or [],
            }
            stored.errors = errors or []
            stored.updated_at = utcnow()
            await uow.commit()


def view(job: ExportJob, *, ims_org_id: str) -> dict[str, Any]:
    """The contract's export job record."""
    request = job.request
    destination = dict(request.get("destination", {}))
    destination.update({"batchId": job.batch_id, "batches": job.metrics.get("batches", [])})
    destination.setdefault("segmentPerBatch", False)
    metrics = {key: value for key, value in job.metrics.items() if key != "batches"}
    return {
        "id": job.id,
        "jobType": "BATCH",
        "destination": destination,
        "fields": request.get("fields", ""),
        "schema": request.get("schema", {"name": "_xdm.context.profile"}),
        "imsOrgId": ims_org_id,
        "status": job.status,
        "filter": request.get("filter", {}),
        "additionalFields": request.get("additionalFields", {}),
        "mergePolicy": request.get("mergePolicy", {}),
        "profileInstanceId": "ups",
        "errors": job.errors,
        "metrics": metrics,
        "computeGatewayJobId": {"exportJob": f"export-{job.id}", "pushJob": f"push-{job.id}"},
        "creationTime": int(job.created_at.timestamp() * 1000),
        "updateTime": int(job.updated_at.timestamp() * 1000),
        "requestId": job.request_id,
    }
