"""Ad-hoc activation (``POST /data/core/activation/disflowprovider/adhocrun``, contract §2.2).

Every rule is checked before anything is written; then one run per (dataflow, audience) pair is created
with its audience lock in one transaction, so a refused request leaves nothing behind and two concurrent
requests for one audience cannot both start (the lock row's unique key decides).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from clarion.activation.flowservice import service as flowservice
from clarion.activation.runs import repository
from clarion.activation.runs.scheduling import first_activation, in_range
from clarion.activation.runs.service import audience_locks, new_run, run_job
from clarion.audiences import service as audiences
from clarion.db.uow import UnitOfWork
from clarion.errors import Invalid, MessageEnvelope, NotFound
from clarion.models.activation import Flow, FlowRun
from clarion.tenancy.principal import Principal

MAX_AUDIENCES = 80
V2_MEDIA_TYPE = "application/vnd.adobe.adhoc.activation+json; version=2"


class AdhocRefused(MessageEnvelope, Invalid):
    """A documented ad-hoc refusal: 400 with ``{"message": …}`` only."""

    code = "adhoc"


@dataclass(frozen=True)
class AdhocRequest:
    """A parsed request: dataflow id → audience ids, and the v1 export job ids."""

    activation_info: dict[str, list[str]]
    export_ids: list[str]
    version: int


def parse(body: Any, accept: str | None) -> AdhocRequest:
    """Validate the body for the version the ``Accept`` header selects."""
    version = 2 if accept and _is_v2(accept) else 1
    if not isinstance(body, dict):
        raise AdhocRefused("Request body must be a JSON object with activationInfo")
    info = body.get("activationInfo")
    if not isinstance(info, dict) or not info:
        raise AdhocRefused("activationInfo is required: an object of dataflow id -> list of audience ids")
    for flow_id, segment_ids in info.items():
        if (
            not isinstance(segment_ids, list)
            or not segment_ids
            or not all(isinstance(item, str) and item for item in segment_ids)
        ):
            raise AdhocRefused(f"activationInfo.{flow_id} must be a non-empty list of audience ids")
    export_ids = body.get("exportIds")
    if version == 1 and (not isinstance(export_ids, list) or not export_ids):
        raise AdhocRefused(f"exportIds is required (v1). Send 'Accept: {V2_MEDIA_TYPE}' to use v2 without it")
    total = sum(len(set(ids)) for ids in info.values())
    if total > MAX_AUDIENCES:
        raise AdhocRefused(
            f"Cannot activate {total} audiences in one job: at most {MAX_AUDIENCES} audiences per ad-hoc "
            "activation job"
        )
    return AdhocRequest(
        {flow_id: list(dict.fromkeys(ids)) for flow_id, ids in info.items()},
        [str(item) for item in export_ids or []],
        version,
    )


def _is_v2(accept: str) -> bool:
    parts = [part.strip().lower() for part in accept.split(";")]
    return "application/vnd.adobe.adhoc.activation+json" in parts and "version=2" in parts


async def activate(
    uow: UnitOfWork,
    principal: Principal,
    request: AdhocRequest,
    *,
    now: datetime,
    first_run_delay: timedelta,
) -> list[FlowRun]:
    """Check every rule, then create the runs (one per dataflow and audience) and their locks."""
    if request.version == 1:
        await _check_exports(uow, principal, request.export_ids)
    planned: list[FlowRun] = []
    for flow_id, segment_ids in request.activation_info.items():
        flow = await flowservice.load_flow(uow, principal, flow_id)
        await _check_flow(uow, principal, flow, segment_ids, now=now, first_run_delay=first_run_delay)
        planned += [
            new_run(principal, flow, [segment_id], trigger="adhoc", at=now) for segment_id in segment_ids
        ]
    await repository.insert_runs(uow.session, planned)
    for run in planned:
        held = await repository.lock_audiences(uow.session, audience_locks(run))
        if held is not None:
            message = (
                f"Run already going on for audience {held.segment_id} for order {held.flow_id} "
                f"with run id {held.run_id}"
            )
            await uow.rollback()
            raise AdhocRefused(message)
    uow.defer([run_job(run) for run in planned])
    await uow.commit()
    return planned


async def _check_exports(uow: UnitOfWork, principal: Principal, export_ids: list[str]) -> None:
    numeric = [int(item) for item in export_ids if item.isdigit()]
    found = await repository.existing_export_jobs(
        uow.session, principal.org_id, principal.sandbox_id, numeric
    )
    missing = [item for item in export_ids if not item.isdigit() or int(item) not in found]
    if missing:
        raise NotFound(f"exportIds: export job(s) {', '.join(missing)} not found in this sandbox")


async def _check_flow(
    uow: UnitOfWork,
    principal: Principal,
    flow: Flow,
    segment_ids: list[str],
    *,
    now: datetime,
    first_run_delay: timedelta,
) -> None:
    if flow.state != "enabled":
        raise AdhocRefused(f"Dataflow {flow.id} is disabled: enable it before an ad-hoc activation")
    scheduled = await repository.active_scheduled_run(uow.session, flow.id, now)
    if scheduled is not None:
        raise AdhocRefused(
            f"Run already going on for dataflow {flow.id}: scheduled export run {scheduled.id} is "
            f"{scheduled.status}; ad-hoc activation cannot run in parallel with a scheduled export"
        )
    selectors = {selector.segment_id: selector for selector in flowservice.selectors(flow)}
    outside = [
        segment_id
        for segment_id in segment_ids
        if segment_id not in selectors or not in_range(selectors[segment_id].schedule, now.date())
    ]
    if outside:
        found = await audiences.bulk_segments(uow, principal, outside)
        listed = ", ".join(found[item].name if item in found else item for item in outside)
        raise AdhocRefused(f"Segments {listed} are not part of this dataflow or out of schedule range!")
    for segment_id in segment_ids:
        ready = first_activation(selectors[segment_id]) + first_run_delay
        if now < ready:
            raise AdhocRefused(
                f"Audience {segment_id} cannot be activated ad hoc on dataflow {flow.id} before "
                f"{ready.isoformat()}: at least {_minutes(first_run_delay)} must pass after its first "
                "scheduled activation"
            )


def _minutes(delay: timedelta) -> str:
    minutes = round(delay.total_seconds() / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def order(runs_created: list[FlowRun], base_url: str) -> dict[str, Any]:
    """The 200 body: one order record per (dataflow, audience) with the run's status URL."""
    return {
        "order": [
            {
                "segment": run.segment_ids[0],
                "order": run.flow_id,
                "statusURL": f"{base_url}/data/foundation/flowservice/runs/{run.id}",
            }
            for run in runs_created
        ]
    }
