"""Dataflow runs: how one is created (its id, audience locks and queue job) and read (``GET /runs``).

A run exports one full file per audience of a dataflow; the worker executes it (``tasks.py``). Its queue
job carries only the run id, so a re-delivered job for a finished run does nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from clarion.activation import listing
from clarion.activation.errors import FlowResourceNotFound
from clarion.activation.flowservice import service as flowservice
from clarion.activation.runs.repository import RunRepository
from clarion.activation.runs.schemas import RunJob
from clarion.activation.runs.views import run_view
from clarion.db.uow import UnitOfWork
from clarion.kit.repository import require
from clarion.models.activation import ActiveAudienceRun, Flow, FlowRun
from clarion.queue.port import JobSpec
from clarion.tenancy.principal import Principal

EXPORT_TASK = "activation.export"
RUN_NAMESPACE = uuid.UUID("6f1d3c52-7d0e-4a8a-9a55-0c1a7a7d2b10")
RUN_JOB_UNIQUE_SECONDS = 7 * 24 * 3600.0
RUN_FOLDED = frozenset({"metrics.statusSummary.status", "state"})
"""Run filters that compare without case (the contract's status CONFLICT: accept both spellings)."""


def scheduled_run_id(flow_id: str, slot: datetime, *, key: str = "") -> str:
    """The id of a flow's run for a schedule slot (or ``key``, e.g. a segment job): the same in every
    process, so a slot runs once."""
    return str(uuid.uuid5(RUN_NAMESPACE, f"{flow_id}/{key or slot.isoformat()}"))


def run_job(run: FlowRun, *, delay: float = 0.0) -> JobSpec:
    """The queue job that executes ``run`` (one id per attempt, so a retry is a new job)."""
    return JobSpec(
        EXPORT_TASK,
        RunJob(run.id),
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


async def run_item(uow: UnitOfWork, principal: Principal, run_id: str, *, base_url: str) -> dict[str, Any]:
    """``GET /runs/{id}``: ``{"items": [run], "_links": {}}``."""
    run = require(
        await RunRepository.for_principal(uow, principal).run(run_id), FlowResourceNotFound("runs", run_id)
    )
    flows = await flowservice.flows_by_id(uow, principal, [run.flow_id])
    return {"items": [_view_of_run(run, principal, base_url, flows)], "_links": {}}


async def search_runs(
    uow: UnitOfWork, principal: Principal, query: listing.ListQuery, *, path: str, base_url: str
) -> dict[str, Any]:
    """``GET /runs``: one page of runs, newest first by default (or ``{"count": n}``)."""
    found = await RunRepository.for_principal(uow, principal).find_runs(query)
    flows = await flowservice.flows_by_id(uow, principal, list({row.flow_id for row in found.rows}))
    views = [_view_of_run(row, principal, base_url, flows) for row in found.rows]
    return listing.answer(views, found.total, found.residual, query, path, folded=RUN_FOLDED)


def _view_of_run(run: FlowRun, principal: Principal, base_url: str, flows: dict[str, Flow]) -> dict[str, Any]:
    flow = flows.get(run.flow_id)
    flow_spec = None if flow is None else (flow.flow_spec_id, flow.flow_spec_version)
    return run_view(run, ims_org_id=principal.ims_org_id, base_url=base_url, flow_spec=flow_spec)
