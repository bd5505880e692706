"""The ``/runs`` read API: one run, or a filtered, ordered, paged list (runs are written by the exporter)."""

from __future__ import annotations

from typing import Any

from clarion.activation import listing
from clarion.activation.errors import FlowResourceNotFound
from clarion.activation.flowservice import service as flowservice
from clarion.activation.runs.repository import RunRepository
from clarion.activation.runs.views import run_view
from clarion.db.uow import UnitOfWork
from clarion.models.activation import Flow, FlowRun
from clarion.tenancy.principal import Principal

RUN_FOLDED = frozenset({"metrics.statusSummary.status", "state"})
"""Run filters that compare without case (the contract's status CONFLICT: accept both spellings)."""


async def run_item(uow: UnitOfWork, principal: Principal, run_id: str, *, base_url: str) -> dict[str, Any]:
    """``GET /runs/{id}``: ``{"items": [run], "_links": {}}``."""
    run = await _repository(uow, principal).run(run_id)
    if run is None:
        raise FlowResourceNotFound("runs", run_id)
    flows = await flowservice.flows_by_id(uow, principal, [run.flow_id])
    return {"items": [_view_of_run(run, principal, base_url, flows)], "_links": {}}


async def search_runs(
    uow: UnitOfWork, principal: Principal, query: listing.ListQuery, *, path: str, base_url: str
) -> dict[str, Any]:
    """``GET /runs``: one page of runs, newest first by default (or ``{"count": n}``)."""
    found = await _repository(uow, principal).find_runs(query)
    flows = await flowservice.flows_by_id(uow, principal, list({row.flow_id for row in found.rows}))
    views = [_view_of_run(row, principal, base_url, flows) for row in found.rows]
    return listing.answer(views, found.total, found.residual, query, path, folded=RUN_FOLDED)


def _view_of_run(run: FlowRun, principal: Principal, base_url: str, flows: dict[str, Flow]) -> dict[str, Any]:
    flow = flows.get(run.flow_id)
    flow_spec = None if flow is None else (flow.flow_spec_id, flow.flow_spec_version)
    return run_view(run, ims_org_id=principal.ims_org_id, base_url=base_url, flow_spec=flow_spec)


def _repository(uow: UnitOfWork, principal: Principal) -> RunRepository:
    return RunRepository(uow.session, principal.org_id, principal.sandbox_id)
