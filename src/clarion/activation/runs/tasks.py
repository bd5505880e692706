"""Queue handlers of runs: ``activation.export`` executes a dataflow run, ``audiences.export`` an export job.

A run exports one full file per audience. The worker marks it ``processing``, streams each audience through
the export engine to the destination, then records rows, bytes, SHA-256 and durations as the run's
``metrics``. A destination failure that can heal (network) is retried with exponential backoff up to
``export_max_attempts``; others fail the run at once with the reason (auth, disk, config). A re-delivered
job for a finished run (or export job) does nothing.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
import structlog

from clarion.activation.export import filenames
from clarion.activation.export.destinations import from_connection, local_folder
from clarion.activation.export.errors import DestinationError
from clarion.activation.export.schemas import (
    STATUS_COLUMN,
    Audience,
    Columns,
    CsvOptions,
    FileFormat,
    FileResult,
)
from clarion.activation.export.service import export_audience
from clarion.activation.flowservice import service as flowservice
from clarion.activation.flowservice.views import epoch_ms
from clarion.activation.runs import repository
from clarion.activation.runs.schemas import (
    ExportJobCreate,
    ExportJobRun,
    QualificationTime,
    RunJob,
    SegmentFilter,
)
from clarion.activation.runs.service import run_job
from clarion.audiences import service as audiences
from clarion.config import Settings
from clarion.db.uow import UnitOfWork
from clarion.kit.clock import utcnow
from clarion.kit.secretbox import SecretBox
from clarion.models.activation import Flow, FlowRun
from clarion.models.audiences import ExportJob
from clarion.queue.port import Job, backoff_seconds
from clarion.tenancy import service as tenancy
from clarion.tenancy.principal import job_principal

log = structlog.get_logger()

HEARTBEAT_SECONDS = 20.0
"""A processing run's ``updated_at`` moves this often; one untouched for 3 beats has lost its worker."""
STALE_AFTER = timedelta(seconds=3 * HEARTBEAT_SECONDS)
UNMAPPED = Columns(("email",), (STATUS_COLUMN,))
"""What a dataflow that maps no profile field exports: who (the email identity) and the member's status."""


@dataclass(frozen=True)
class AudienceFile:
    """One written file."""

    segment_id: str
    name: str
    result: FileResult


class RunExecutor:
    """The ``activation.export`` task: executes a run and records its outcome."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        secrets: SecretBox,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._secrets = secrets
        self._settings = settings
        self._clock = clock

    async def handle(self, job: Job) -> None:
        """Execute the run named by the job (nothing when it has finished already)."""
        run = await self._claim(msgspec.convert(job.payload, RunJob).run_id)
        if run is None:
            return
        heartbeat = asyncio.create_task(self._beat(run.id))
        try:
            written = await self._export(run)
        except DestinationError as error:
            await self._failed(run, error)
        except Exception as error:
            log.exception("export_run_crashed", run_id=run.id)
            await self._failed(run, DestinationError("config", f"export failed: {type(error).__name__}"))
        else:
            await self._succeeded(run, written)
        finally:
            heartbeat.cancel()

    async def _claim(self, run_id: str) -> FlowRun | None:
        """Mark the run processing, unless it is finished or another worker is alive on it."""
        now = self._clock()
        async with self._unit_of_work() as uow:
            run = await repository.run_by_id(uow.session, run_id)
            if run is None or run.status not in repository.ACTIVE:
                return None
            if run.status == "processing" and run.updated_at > now - STALE_AFTER:
                return None  # a redelivered job while the first worker still exports (its lease ran out)
            run.status, run.attempts, run.updated_at = "processing", run.attempts + 1, now
            run.started_at = run.started_at or now
            await uow.commit()
            return run

    async def _beat(self, run_id: str) -> None:
        """Keep the run's ``updated_at`` fresh while exporting (the sweeper re-queues silent runs)."""
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            async with self._unit_of_work() as uow:
                await repository.touch(uow.session, run_id, self._clock())
                await uow.commit()

    async def _export(self, run: FlowRun) -> list[AudienceFile]:
        principal = job_principal(run.org_id, run.sandbox_id)
        async with self._unit_of_work() as uow:
            flow = await flowservice.load_flow(uow, principal, run.flow_id)
            target = await flowservice.target_of(uow, self._secrets, flow)
            shape = await flowservice.export_shape(uow, flow)
            segments = await audiences.bulk_segments(uow, principal, run.segment_ids)
            names = {segment_id: segment.name for segment_id, segment in segments.items()}
            organization = (await tenancy.find_organization(uow, run.org_id)).name
        templates = {
            selector.segment_id: selector.filename_template for selector in flowservice.selectors(flow)
        }
        file_format = FileFormat(
            shape.file_type,  # type: ignore[arg-type]
            shape.compression,  # type: ignore[arg-type]
            CsvOptions.from_params(shape.csv_options),
        )
        columns = (
            Columns(tuple(shape.identities), tuple(shape.attributes))
            if shape.identities or shape.attributes
            else UNMAPPED
        )
        destination = from_connection(
            target.kind,
            auth=target.auth,
            params=target.params,
            landing_zone=self._settings.landing_zone or self._settings.home / "landing",
            timeout=self._settings.http_timeout_seconds,
        )
        written: list[AudienceFile] = []
        try:
            for segment_id in run.segment_ids:
                context = filenames.NameContext(
                    destination_name=target.destination_name,
                    segment_id=segment_id,
                    segment_name=names.get(segment_id, segment_id),
                    flow_id=flow.id,
                    flow_name=flow.name,
                    organization_name=organization,
                    sandbox_name=flow.sandbox_name,
                )
                name = filenames.render(
                    templates.get(segment_id),
                    context,
                    moment=run.scheduled_for,
                    extension=file_format.extension,
                )
                upload = await destination.open(name)
                async with self._unit_of_work() as uow:
                    audience = Audience(run.org_id, run.sandbox_id, segment_id)
                    result = await export_audience(uow.session, audience, columns, file_format, upload)
                written.append(AudienceFile(segment_id, name, result))
        finally:
            await destination.close()
        return written

    async def _succeeded(self, run: FlowRun, written: list[AudienceFile]) -> None:
        now = self._clock()
        async with self._unit_of_work() as uow:
            stored = await repository.run_by_id(uow.session, run.id)
            if stored is None:
                return
            flow = await flowservice.find_flow(uow, job_principal(run.org_id, run.sandbox_id), run.flow_id)
            stored.status, stored.completed_at, stored.updated_at = "success", now, now
            stored.files = [_file_entry(item) for item in written]
            stored.metrics = run_metrics(stored, flow, written, status="success", errors=[])
            await repository.release_audiences(uow.session, run.id)
            await uow.commit()
        log.info("export_run_succeeded", run_id=run.id, files=len(written))

    async def _failed(self, run: FlowRun, error: DestinationError) -> None:
        now = self._clock()
        retry = error.retryable and run.attempts < self._settings.export_max_attempts
        async with self._unit_of_work() as uow:
            stored = await repository.run_by_id(uow.session, run.id)
            if stored is None:
                return
            flow = await flowservice.find_flow(uow, job_principal(run.org_id, run.sandbox_id), run.flow_id)
            failure = {"code": f"ACTIVATION_BATCH-{error.kind.upper()}", "message": str(error)}
            stored.errors = [*stored.errors, {**failure, "attempt": stored.attempts}]
            stored.updated_at = now
            if retry:
                stored.status = "waiting"
                delay = backoff_seconds(
                    stored.attempts, base=self._settings.export_retry_base_seconds, cap=3600
                )
                uow.defer([run_job(stored, delay=delay)])
            else:
                stored.status, stored.completed_at = "failed", now
                await repository.release_audiences(uow.session, run.id)
            stored.metrics = run_metrics(stored, flow, [], status=stored.status, errors=[failure])
            await uow.commit()
        log.warning("export_run_failed", run_id=run.id, kind=error.kind, retry=retry, reason=str(error))


def _file_entry(item: AudienceFile) -> dict[str, Any]:
    return {
        "name": item.name,
        "segmentId": item.segment_id,
        "records": item.result.rows,
        "bytes": item.result.bytes,
        "sha256": item.result.sha256,
        "durationMs": round(item.result.seconds * 1000),
    }


def run_metrics(
    run: FlowRun,
    flow: Flow | None,
    written: list[AudienceFile],
    *,
    status: str,
    errors: list[dict[str, Any]],
) -> dict[str, Any]:
    """The run's ``metrics`` in the contract's shape (§2.3), plus the files written."""
    records = sum(item.result.rows for item in written)
    size = sum(item.result.bytes for item in written)
    entities = [
        {"id": f"segment:{item.segment_id}", "inputRecordCount": item.result.rows, "skippedRecordCount": 0}
        for item in written
    ]
    source_id = (flow.source_connection_ids or [""])[0] if flow else ""
    target_id = (flow.target_connection_ids or [""])[0] if flow else ""
    return {
        "durationSummary": {
            "startedAtUTC": epoch_ms(run.started_at),
            "completedAtUTC": epoch_ms(run.completed_at),
        },
        "sizeSummary": {"inputBytes": size, "outputBytes": size},
        "recordSummary": {
            "inputRecordCount": records,
            "createdRecordCount": records,
            "outputRecordCount": records,
            "skippedRecordCount": 0,
            "failedRecordCount": 0,
            "sourceSummaries": [
                {
                    "id": source_id,
                    "inputRecordCount": records,
                    "skippedRecordCount": 0,
                    "entitySummaries": entities,
                }
            ],
            "targetSummaries": [
                {
                    "id": target_id,
                    "createdRecordCount": records,
                    "outputRecordCount": records,
                    "entitySummaries": [
                        {**entity, "outputRecordCount": entity["inputRecordCount"]} for entity in entities
                    ],
                }
            ],
            "skippedInfo": [],
            "failedInfo": errors,
        },
        "fileSummary": {
            "inputFileCount": len(written),
            "outputFileCount": len(written),
            "files": [_file_entry(item) for item in written],
        },
        "statusSummary": {"status": status, "errors": errors, "activityRefs": []},
    }


class ExportJobRunner:
    """The ``audiences.export`` task: writes a job's files and records the outcome."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork], settings: Settings) -> None:
        self._unit_of_work = unit_of_work
        self._settings = settings

    async def handle(self, job: Job) -> None:
        """Run the export job named in the payload (nothing when it is finished or cancelled)."""
        async with self._unit_of_work() as uow:
            export_job_id = msgspec.convert(job.payload, ExportJobRun).export_job_id
            record = await repository.export_job_by_id(uow.session, export_job_id)
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
                result = await export_audience(uow.session, audience, columns, FileFormat("JSON"), upload)
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
            stored = await repository.export_job_by_id(uow.session, record.id)
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
