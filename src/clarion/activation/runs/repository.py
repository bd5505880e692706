"""SQL of runs: dataflow runs (the worker's reads and writes, and the ``/runs`` lists), the per-audience
locks of ad-hoc runs, and export jobs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clarion.activation.listing import ListQuery
from clarion.activation.repository import Column, Found, ListingRepository, entity_columns, order_by
from clarion.db.dialect import dialect_of
from clarion.models.activation import ActiveAudienceRun, FlowRun
from clarion.models.audiences import ExportJob

ACTIVE = ("waiting", "processing")
RUN_COLUMNS = {
    **entity_columns(FlowRun),
    "flowId": Column(FlowRun.flow_id),
    "metrics.statusSummary.status": Column(FlowRun.status, "folded"),
    "metrics.durationSummary.startedAtUTC": Column(FlowRun.started_at, "time"),
    "metrics.durationSummary.completedAtUTC": Column(FlowRun.completed_at, "time"),
    # "Runs of this audience", as the contract and Adobe's filtering guide write it.
    "metrics.recordSummary.sourceSummaries[].id": Column(FlowRun.segment_ids, "segments"),
    "metrics.recordSummary.sourceSummaries[].entitySummaries[].id": Column(FlowRun.segment_ids, "segments"),
    "metrics.recordSummary.targetSummaries[].entitySummaries[].id": Column(FlowRun.segment_ids, "segments"),
}
RUN_ORDER = {
    "id": FlowRun.id,
    "flowId": FlowRun.flow_id,
    "createdAt": FlowRun.created_at,
    "updatedAt": FlowRun.updated_at,
    "status": FlowRun.status,
    "metrics.statusSummary.status": FlowRun.status,
    "startedAt": FlowRun.started_at,
    "metrics.durationSummary.startedAtUTC": FlowRun.started_at,
    "completedAt": FlowRun.completed_at,
    "metrics.durationSummary.completedAtUTC": FlowRun.completed_at,
}


class RunRepository(ListingRepository):
    """The runs of one sandbox, as ``GET /runs`` reads them."""

    async def run(self, run_id: str) -> FlowRun | None:
        """The run with this id."""
        return await self.session.scalar(self.scoped(FlowRun).where(FlowRun.id == run_id))

    async def find_runs(self, query: ListQuery) -> Found[FlowRun]:
        """A page of runs (newest first unless ``orderby`` says otherwise)."""
        order = order_by(query.order, RUN_ORDER, FlowRun.created_at)
        return await self.find(self.scoped(FlowRun), query, RUN_COLUMNS, [*order, FlowRun.id.desc()])


async def run_by_id(session: AsyncSession, run_id: str) -> FlowRun | None:
    """A run by id, whatever its tenant (the worker acts for the run's own tenant)."""
    return await session.get(FlowRun, run_id)


async def _insert_if_new(session: AsyncSession, row: Any, conflict_columns: tuple[str, ...]) -> bool:
    """Insert an unsaved ORM row unless one with the same ``conflict_columns`` exists; True if inserted."""
    table: Any = type(row).__table__
    statement = dialect_of(session).insert_ignore(table, conflict_columns=conflict_columns)
    values = {column.key: getattr(row, column.key) for column in table.columns}
    result: Any = await session.execute(statement.values(**values))
    return bool(result.rowcount)


async def insert_runs(session: AsyncSession, runs: Sequence[FlowRun]) -> list[str]:
    """Insert runs, skipping ids that exist (scheduled run ids are deterministic); the ids inserted."""
    return [run.id for run in runs if await _insert_if_new(session, run, ("id",))]


async def lock_audiences(
    session: AsyncSession, locks: Sequence[ActiveAudienceRun]
) -> ActiveAudienceRun | None:
    """Take every lock or none; returns the lock held by another run when one is taken already."""
    for lock in locks:
        if not await _insert_if_new(session, lock, ("org_id", "sandbox_id", "segment_id")):
            return await session.scalar(
                select(ActiveAudienceRun).where(
                    ActiveAudienceRun.org_id == lock.org_id,
                    ActiveAudienceRun.sandbox_id == lock.sandbox_id,
                    ActiveAudienceRun.segment_id == lock.segment_id,
                )
            )
    return None


async def release_audiences(session: AsyncSession, run_id: str) -> None:
    """Drop the locks a run holds."""
    await session.execute(delete(ActiveAudienceRun).where(ActiveAudienceRun.run_id == run_id))


async def active_scheduled_run(session: AsyncSession, flow_id: str, now: datetime) -> FlowRun | None:
    """A scheduled run of the flow that is due and not finished."""
    return await session.scalar(
        select(FlowRun)
        .where(
            FlowRun.flow_id == flow_id,
            FlowRun.trigger == "scheduled",
            FlowRun.status.in_(ACTIVE),
            FlowRun.scheduled_for <= now,
        )
        .limit(1)
    )


async def stalled_runs(session: AsyncSession, before: datetime) -> list[FlowRun]:
    """Active runs untouched since ``before``: a lost job (waiting) or a worker that died (processing)."""
    statement = select(FlowRun).where(FlowRun.status.in_(ACTIVE), FlowRun.updated_at < before).limit(500)
    return list(await session.scalars(statement))


async def touch(session: AsyncSession, run_id: str, moment: datetime) -> None:
    """Mark a run as just handled (the stalled-run sweeper looks at ``updated_at``)."""
    await session.execute(update(FlowRun).where(FlowRun.id == run_id).values(updated_at=moment))


async def add_export_job(session: AsyncSession, job: ExportJob) -> None:
    """Insert a new export job (its id is known afterwards)."""
    session.add(job)
    await session.flush()


async def export_job_by_id(session: AsyncSession, job_id: int) -> ExportJob | None:
    """An export job by id, whatever its tenant (the worker acts for the job's own tenant)."""
    return await session.get(ExportJob, job_id)


async def existing_export_jobs(
    session: AsyncSession, org_id: str, sandbox_id: str, ids: Sequence[int]
) -> set[int]:
    """Which of ``ids`` are export jobs of the sandbox."""
    statement = select(ExportJob.id).where(
        ExportJob.org_id == org_id, ExportJob.sandbox_id == sandbox_id, ExportJob.id.in_(list(ids))
    )
    return set(await session.scalars(statement))


async def export_job(session: AsyncSession, org_id: str, sandbox_id: str, job_id: int) -> ExportJob | None:
    """One export job of the sandbox."""
    statement = select(ExportJob).where(
        ExportJob.id == job_id, ExportJob.org_id == org_id, ExportJob.sandbox_id == sandbox_id
    )
    return await session.scalar(statement)


async def export_jobs_page(
    session: AsyncSession, org_id: str, sandbox_id: str, *, limit: int, offset: int, status: str | None
) -> tuple[list[ExportJob], int]:
    """Export jobs of the sandbox, newest first, and how many match."""
    conditions = [ExportJob.org_id == org_id, ExportJob.sandbox_id == sandbox_id]
    if status:
        conditions.append(ExportJob.status == status)
    total = await session.scalar(select(func.count()).select_from(ExportJob).where(*conditions)) or 0
    statement = (
        select(ExportJob)
        .where(*conditions)
        .order_by(ExportJob.created_at.desc(), ExportJob.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(await session.scalars(statement)), total
