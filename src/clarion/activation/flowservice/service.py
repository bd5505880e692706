"""The reads the run executor, the scheduler and ad-hoc activation make of dataflows and connections.

Flows are stored validated (``flows.py`` checks every create and patch), so these reads trust their
shape. ``target_of`` is the only place that opens a base connection's sealed secrets.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time

from clarion.activation.errors import FlowResourceNotFound, invalid
from clarion.activation.export import filenames, profile_fields
from clarion.activation.flowservice import connections, parameter_rules, specs
from clarion.activation.flowservice.repository import FlowServiceRepository, enabled_flows
from clarion.activation.flowservice.schemas import ExportShape, Schedule, Selector, Target
from clarion.db.uow import UnitOfWork
from clarion.kit.repository import require
from clarion.kit.secretbox import SecretBox
from clarion.models.activation import Flow, FlowConnection
from clarion.tenancy.principal import Principal


async def load_flow(uow: UnitOfWork, principal: Principal, flow_id: str) -> Flow:
    """The flow with this id in the principal's sandbox, or the Flow Service 404."""
    flow = await FlowServiceRepository.for_principal(uow, principal).flow(flow_id)
    return require(flow, FlowResourceNotFound("flows", flow_id))


def selectors(flow: Flow) -> list[Selector]:
    """The audiences of a flow with their schedules, in the order of its transformations."""
    found: list[Selector] = []
    for transformation in flow.transformations:
        for selector in transformation.get("params", {}).get("segmentSelectors", {}).get("selectors", []):
            value = selector["value"]
            schedule = value["schedule"]
            found.append(
                Selector(
                    segment_id=value["id"],
                    name=value.get("name", ""),
                    filename_template=value.get("filenameTemplate", filenames.DEFAULT_TEMPLATE),
                    export_mode=value["exportMode"],
                    schedule=Schedule(
                        frequency=schedule["frequency"],
                        start_date=date.fromisoformat(schedule["startDate"]),
                        end_date=date.fromisoformat(schedule["endDate"]) if schedule.get("endDate") else None,
                        start_time=time.fromisoformat(schedule["startTime"])
                        if schedule.get("startTime")
                        else None,
                        trigger_type=schedule.get("triggerType"),
                    ),
                    added_at=datetime.fromtimestamp(int(value.get("createTime") or 0), UTC),
                )
            )
    return found


async def target_of(uow: UnitOfWork, secrets: SecretBox, flow: Flow) -> Target:
    """The destination of a flow: its target connection's params merged with its base connection's."""
    target, base = await _target_and_base(_flow_repository(uow, flow), flow)
    spec = connections.known_spec(target.connection_spec_id)
    kind = specs.destination_kind(target.connection_spec_id)
    if kind is None:
        raise invalid(
            "targetConnectionIds", "not_a_destination", f"{target.id} is not a destination connection"
        )
    auth = {} if base is None else connections.opened_auth(base, secrets)
    public = {} if base is None else dict(base.params)
    return Target(kind=kind, auth=auth, params={**public, **target.params}, destination_name=spec.name)


async def export_shape(uow: UnitOfWork, flow: Flow) -> ExportShape:
    """The attributes, identities and file format of a flow's exports."""
    target, _ = await _target_and_base(_flow_repository(uow, flow), flow)
    fields = profile_fields.export_fields(flow.transformations)
    return ExportShape(
        attributes=fields.attributes,
        identities=fields.identities,
        file_type=target.params.get("fileType", "CSV"),
        compression=target.params.get("compression", "NONE"),
        csv_options=parameter_rules.csv_options(target.params),
        mandatory=fields.mandatory,
        primary=fields.primary,
    )


async def flows_with_schedules(uow: UnitOfWork) -> list[Flow]:
    """Every enabled flow of every organization (the scheduler reads their selectors)."""
    return await enabled_flows(uow.session)


async def find_flow(uow: UnitOfWork, principal: Principal, flow_id: str) -> Flow | None:
    """The flow with this id in the principal's sandbox, or None (a run's flow may be deleted meanwhile)."""
    return await FlowServiceRepository.for_principal(uow, principal).flow(flow_id)


async def flows_by_id(uow: UnitOfWork, principal: Principal, ids: Sequence[str]) -> dict[str, Flow]:
    """The flows among ``ids`` in the principal's sandbox, by id (the run reads show their flow spec)."""
    return await FlowServiceRepository.for_principal(uow, principal).flows(ids)


def _flow_repository(uow: UnitOfWork, flow: Flow) -> FlowServiceRepository:
    return FlowServiceRepository(uow.session, flow.org_id, flow.sandbox_id)


async def _target_and_base(
    repo: FlowServiceRepository, flow: Flow
) -> tuple[FlowConnection, FlowConnection | None]:
    target_id = flow.target_connection_ids[0]
    target = require(
        await repo.connection(target_id, "target"), FlowResourceNotFound("targetConnections", target_id)
    )
    base = await repo.connection(target.base_connection_id, "base") if target.base_connection_id else None
    return target, base
