"""Dataflow runs: created (scheduled or ad hoc), executed by a worker task, recorded in the contract's shape.

A run exports one full file per audience. The worker marks it ``processing``, streams each audience through
the export engine to the destination, then records rows, bytes, SHA-256 and durations as the run's
``metrics``. A destination failure that can heal (network) is retried with exponential backoff up to
``export_max_attempts``; others fail the run at once with the reason (auth, disk, config). The queue job
carries only the run id; a re-delivered job for a finished run does nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from clarion.activation.export import exporter, filenames
from clarion.activation.export.destinations import DestinationError, from_connection
from clarion.activation.export.exporter import CsvOptions, FileFormat, FileResult
from clarion.activation.export.members import STATUS_COLUMN, Audience, Columns
from clarion.activation.flowservice import service as flows
from clarion.activation.runs import repository as run_store
from clarion.config import Settings
from clarion.db.uow import UnitOfWork
from clarion.kit.clock import utcnow
from clarion.kit.secretbox import SecretBox
from clarion.models.activation import ActiveAudienceRun, Flow, FlowRun
from clarion.queue.port import Job, JobSpec, backoff_seconds
from clarion.tenancy.principal import Principal, job_principal

log = structlog.get_logger()

EXPORT_TASK = "activation.export"
HEARTBEAT_SECONDS = 20.0
"""A processing run's ``updated_at`` moves this often; one untouched for 3 beats has lost its worker."""
STALE_AFTER = timedelta(seconds=3 * HEARTBEAT_SECONDS)
RUN_NAMESPACE = uuid.UUID("6f1d3c52-7d0e-4a8a-9a55-0c1a7a7d2b10")
RUN_JOB_UNIQUE_SECONDS = 7 * 24 * 3600.0
UNMAPPED = Columns(("email",), (STATUS_COLUMN,))
"""What a dataflow that maps no profile field exports: who (the email identity) and the member's status."""


def scheduled_run_id(flow_id: str, slot: datetime, *, key: str = "") -> str:
    """The id of a flow's run for a schedule slot (or ``key``, e.g. a segment job): the same in every
    process, so a slot runs once."""
    return str(uuid.uuid5(RUN_NAMESPACE, f"{flow_id}/{key or slot.isoformat()}"))


def run_job(run: FlowRun, *, delay: float = 0.0) -> JobSpec:
    """The queue job that executes ``run`` (one id per attempt, so a retry is a new job)."""
    return JobSpec(
        EXPORT_TASK,
        {"run_id": run.id},
        delay=delay,
        job_id=f"{run.id}:{run.attempts}",
        unique_for=RUN_JOB_UNIQUE_SECONDS,
        max_attempts=1,
    )


def new_run(
    principal: Principal,
    flow: Flow,
    segment_ids: Sequence[str],
    *,
    trigger: str,
    at: datetime,
    run_id: str | None = None,
    export_ids: Sequence[str] = (),
) -> FlowRun:
    """A waiting run of ``flow`` for ``segment_ids``."""
    actor = principal.technical_account or principal.client_id or "clarion-scheduler"
    return FlowRun(
        id=run_id or str(uuid.uuid4()),
        org_id=flow.org_id,
        sandbox_id=flow.sandbox_id,
        sandbox_name=flow.sandbox_name,
        flow_id=flow.id,
        trigger=trigger,
        status="waiting",
        segment_ids=list(segment_ids),
        export_ids=list(export_ids),
        scheduled_for=at,
        attempts=0,
        metrics={},
        files=[],
        errors=[],
        **FlowRun.authored(actor, principal.client_id or "clarion", at),
    )


def audience_locks(run: FlowRun) -> list[ActiveAudienceRun]:
    """The lock rows that say "these audiences are being exported by ``run``"."""
    return [
        ActiveAudienceRun(
            id=str(uuid.uuid4()),
            org_id=run.org_id,
            sandbox_id=run.sandbox_id,
            segment_id=segment_id,
            flow_id=run.flow_id,
            run_id=run.id,
            created_at=run.created_at,
        )
        for segment_id in run.segment_ids
    ]


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
        run = await self._claim(str(job.payload["run_id"]))
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
            run = await run_store.run_by_id(uow.session, run_id)
            if run is None or run.status not in run_store.ACTIVE:
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
                await run_store.touch(uow.session, run_id, self._clock())
                await uow.commit()

    async def _export(self, run: FlowRun) -> list[AudienceFile]:
        principal = job_principal(run.org_id, run.sandbox_id)
        async with self._unit_of_work() as uow:
            flow = await flows.load_flow(uow, principal, run.flow_id)
            target = await flows.target_of(uow, self._secrets, flow)
            shape = await flows.export_shape(uow, flow)
            names = await run_store.segment_names(uow.session, run.org_id, run.sandbox_id, run.segment_ids)
            organization = await run_store.organization_name(uow.session, run.org_id)
        templates = {selector.segment_id: selector.filename_template for selector in flows.selectors(flow)}
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
                    moment=run.scheduled_for,
                )
                name = filenames.render(templates.get(segment_id), context, extension=file_format.extension)
                upload = await destination.open(name)
                async with self._unit_of_work() as uow:
                    audience = Audience(run.org_id, run.sandbox_id, segment_id)
                    result = await exporter.export_audience(
                        uow.session, audience, columns, file_format, upload
                    )
                written.append(AudienceFile(segment_id, name, result))
        finally:
            await destination.close()
        return written

    async def _succeeded(self, run: FlowRun, written: list[AudienceFile]) -> None:
        now = self._clock()
        async with self._unit_of_work() as uow:
            stored = await run_store.run_by_id(uow.session, run.id)
            if stored is None:
                return
            flow = await uow.session.get(Flow, run.flow_id)
            stored.status, stored.completed_at, stored.updated_at = "success", now, now
            stored.files = [_file_entry(item) for item in written]
            stored.metrics = run_metrics(stored, flow, written, status="success", errors=[])
            await run_store.release_audiences(uow.session, run.id)
            await uow.commit()
        log.info("export_run_succeeded", run_id=run.id, files=len(written))

    async def _failed(self, run: FlowRun, error: DestinationError) -> None:
        now = self._clock()
        retry = error.retryable and run.attempts < self._settings.export_max_attempts
        async with self._unit_of_work() as uow:
            stored = await run_store.run_by_id(uow.session, run.id)
            if stored is None:
                return
            flow = await uow.session.get(Flow, run.flow_id)
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
                await run_store.release_audiences(uow.session, run.id)
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


def _epoch_ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


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
            "startedAtUTC": _epoch_ms(run.started_at),
            "completedAtUTC": _epoch_ms(run.completed_at),
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
