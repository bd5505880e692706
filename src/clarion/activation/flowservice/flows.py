"""The ``/flows`` API: create, read, list, JSON Patch under ``If-Match``, enable/disable, delete.

A flow is validated as a whole at creation and after every patch: the flow spec of the target
connection's destination, connections of the sandbox (here), then audiences, schedules, file-name
templates and exported fields (``transformation_rules``). Writes are conditional on the etag the caller
read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from clarion.activation import listing
from clarion.activation.errors import VersionMismatch, catalogue, invalid
from clarion.activation.export import filenames
from clarion.activation.flowservice import connections, parameter_rules, schemas, specs, transformation_rules
from clarion.activation.flowservice.etags import CONCURRENT_CHANGE, require_current
from clarion.activation.flowservice.patch import apply as apply_patch
from clarion.activation.flowservice.repository import FlowServiceRepository
from clarion.activation.flowservice.service import load_flow
from clarion.activation.flowservice.views import flow_view
from clarion.audiences import service as audiences
from clarion.db.uow import UnitOfWork
from clarion.kit.clock import utcnow
from clarion.kit.ids import new_id
from clarion.models.activation import Flow, FlowConnection
from clarion.tenancy import service as tenancy
from clarion.tenancy.principal import Principal

FLOW_WRITABLE = ("name", "description", "sourceConnectionIds", "targetConnectionIds", "transformations")
DEFAULT_TRANSFORMATIONS: list[dict[str, Any]] = [
    {
        "name": "GeneralTransform",
        "params": {
            "mandatoryFields": [],
            "primaryFields": [],
            "profileMapping": {},
            "segmentSelectors": {"selectors": []},
        },
    }
]


async def create_flow(uow: UnitOfWork, principal: Principal, body: Any) -> Flow:
    """``POST /flows``: a dataflow from the Profile store to one destination."""
    request = schemas.read(schemas.FlowCreate, body)
    repo = FlowServiceRepository.for_principal(uow, principal)
    spec = _flow_spec(request.flow_spec.id)
    now = utcnow()
    flow = Flow(
        id=new_id(),
        org_id=principal.org_id,
        sandbox_id=principal.sandbox_id,
        sandbox_name=principal.sandbox_name,
        **Flow.authored(principal.technical_account, principal.client_id, now),
        flow_spec_id=request.flow_spec.id,
        flow_spec_version=request.flow_spec.version,
        state="enabled",
        schedule_params={},
    )
    document = {
        "name": request.name,
        "description": request.description,
        "sourceConnectionIds": request.source_connection_ids,
        "targetConnectionIds": request.target_connection_ids,
        "transformations": request.transformations
        if request.transformations is not None
        else DEFAULT_TRANSFORMATIONS,
    }
    for column, value in (await _checked(uow, principal, flow, spec, document)).items():
        setattr(flow, column, value)
    repo.add(flow)
    await uow.commit()
    return flow


async def patch_flow(
    uow: UnitOfWork, principal: Principal, flow_id: str, *, if_match: str | None, operations: Any
) -> Flow:
    """``PATCH /flows/{id}``: JSON Patch under ``If-Match``, the result validated as a whole."""
    repo = FlowServiceRepository.for_principal(uow, principal)
    flow = await load_flow(uow, principal, flow_id)
    require_current(if_match, flow.etag)
    current = {
        "name": flow.name,
        "description": flow.description,
        "sourceConnectionIds": flow.source_connection_ids,
        "targetConnectionIds": flow.target_connection_ids,
        "transformations": flow.transformations,
    }
    document = apply_patch(current, operations, writable=FLOW_WRITABLE)
    values = await _checked(uow, principal, flow, _flow_spec(flow.flow_spec_id), document)
    await _write(repo, principal, flow, values, if_match)
    await uow.commit()
    return flow


async def act_on_flow(
    uow: UnitOfWork, principal: Principal, flow_id: str, *, op: str, if_match: str | None
) -> Flow:
    """``POST /flows/{id}/action?op=enable|disable`` (``If-Match`` optional here, checked when given)."""
    flow = await load_flow(uow, principal, flow_id)
    states = {"enable": "enabled", "disable": "disabled"}
    state = states.get(op.lower())
    if state is None:
        raise catalogue(
            "FLOW-1434",
            "op",
            "unsupported_operation",
            f"Unsupported operation '{op}' received. Please use one of the supported operation types "
            "(enable, disable) and try again.",
        )
    if if_match is not None:
        require_current(if_match, flow.etag)
    await _write(
        FlowServiceRepository.for_principal(uow, principal), principal, flow, {"state": state}, if_match
    )
    await uow.commit()
    return flow


async def delete_flow(uow: UnitOfWork, principal: Principal, flow_id: str) -> None:
    """``DELETE /flows/{id}``: the flow and, with it, its runs."""
    flow = await load_flow(uow, principal, flow_id)
    await FlowServiceRepository.for_principal(uow, principal).remove(flow)
    await uow.commit()


async def flow_item(uow: UnitOfWork, principal: Principal, flow_id: str) -> dict[str, Any]:
    """``GET /flows/{id}``: ``{"items": [flow]}``."""
    flow = await load_flow(uow, principal, flow_id)
    repo = FlowServiceRepository.for_principal(uow, principal)
    linked = await _linked_connections(repo, [flow])
    last_run = (await repo.last_runs([flow.id])).get(flow.id)
    view = flow_view(flow, ims_org_id=principal.ims_org_id, connections=linked, last_run=last_run)
    return {"items": [view]}


async def search_flows(
    uow: UnitOfWork, principal: Principal, query: listing.ListQuery, path: str
) -> dict[str, Any]:
    """``GET /flows``: one page of dataflows (or ``{"count": n}``)."""
    repo = FlowServiceRepository.for_principal(uow, principal)
    found = await repo.find_flows(query)
    linked = await _linked_connections(repo, found.rows)
    last_runs = await repo.last_runs([row.id for row in found.rows])
    views = [
        flow_view(row, ims_org_id=principal.ims_org_id, connections=linked, last_run=last_runs.get(row.id))
        for row in found.rows
    ]
    return listing.answer(views, found.total, found.residual, query, path)


async def _linked_connections(
    repo: FlowServiceRepository, flows: Sequence[Flow]
) -> dict[str, FlowConnection]:
    ids = [cid for flow in flows for cid in (*flow.source_connection_ids, *flow.target_connection_ids)]
    linked = await repo.connections(ids)
    bases = await repo.connections([c.base_connection_id for c in linked.values() if c.base_connection_id])
    return {**linked, **bases}


async def _write(
    repo: FlowServiceRepository,
    principal: Principal,
    flow: Flow,
    values: dict[str, Any],
    if_match: str | None,
) -> None:
    changes = {
        **values,
        "etag": new_id(),
        "updated_at": utcnow(),
        "updated_by": principal.technical_account,
        "updated_client": principal.client_id,
    }
    if not await repo.update_if_current(flow, flow.etag, changes):
        raise VersionMismatch(str(if_match or "").strip(), CONCURRENT_CHANGE)


def _flow_spec(spec_id: str) -> specs.FlowSpec:
    spec = specs.flow_spec(spec_id)
    if spec is None:
        raise catalogue(
            "FLOW-1413",
            "flowSpec.id",
            "unknown_spec",
            f"The spec ID provided is invalid ({spec_id!r}). Please provide a valid spec ID and try again.",
        )
    return spec


async def _checked(
    uow: UnitOfWork,
    principal: Principal,
    flow: Flow,
    spec: specs.FlowSpec,
    document: dict[str, Any],
) -> dict[str, Any]:
    """The column values of a valid flow ``document`` (name, description, connections, transformations)."""
    name = connections.text_field(document.get("name"), "name", 512, required=True)
    description = connections.text_field(document.get("description", ""), "description", 4000, required=False)
    source_ids = _one_id(document.get("sourceConnectionIds"), "sourceConnectionIds")
    target_ids = _one_id(document.get("targetConnectionIds"), "targetConnectionIds")
    linked = await FlowServiceRepository.for_principal(uow, principal).connections([*source_ids, *target_ids])
    source, target = linked.get(source_ids[0]), linked.get(target_ids[0])
    if source is None or source.kind != "source":
        raise parameter_rules.not_in_sandbox("sourceConnectionIds[0]", "source connection", source_ids[0])
    if target is None or target.kind != "target":
        raise parameter_rules.not_in_sandbox("targetConnectionIds[0]", "target connection", target_ids[0])
    target_spec = connections.known_spec(target.connection_spec_id)
    if specs.connection_spec(spec.target_spec_id) is not target_spec:
        raise invalid(
            "flowSpec.id",
            "spec_mismatch",
            f"flow spec {flow.flow_spec_id} ({spec.name}) does not match target connection "
            f"{target.id} ({target_spec.name}); use flow spec {_flow_spec_for(target_spec)}",
        )
    transformations = document.get("transformations")
    previous = _stored_selectors(flow)
    facts = transformation_rules.FlowFacts(
        audiences=await _audience_names(
            uow, principal, transformation_rules.referenced_audiences(transformations)
        ),
        previous=previous,
        names=filenames.NameContext(
            destination_name=target_spec.name,
            segment_id="",
            segment_name="",
            flow_id=flow.id,
            flow_name=name,
            organization_name=(await tenancy.find_organization(uow, principal.org_id)).name,
            sandbox_name=principal.sandbox_name,
        ),
        extension=filenames.file_extension(
            target.params.get("fileType", "CSV"), target.params.get("compression", "NONE")
        ),
        now=utcnow(),
    )
    return {
        "name": name,
        "description": description,
        "source_connection_ids": source_ids,
        "target_connection_ids": target_ids,
        "transformations": transformation_rules.normalized(transformations, facts),
    }


async def _audience_names(uow: UnitOfWork, principal: Principal, ids: list[str]) -> dict[str, str]:
    """Audience id → name, for the ids that exist in the sandbox."""
    found = await audiences.bulk_segments(uow, principal, ids) if ids else {}
    return {segment_id: segment.name for segment_id, segment in found.items()}


def _one_id(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], str) or not value[0]:
        raise invalid(field, "one_connection", "must hold exactly one connection id")
    return [value[0]]


def _flow_spec_for(target_spec: specs.ConnectionSpec) -> str:
    return next(flow.id for flow in specs.FLOW_SPECS.values() if flow.target_spec_id == target_spec.id)


def _stored_selectors(flow: Flow) -> dict[str, dict[str, Any]]:
    """Audience id → stored selector value, before the change being checked (none for a new flow)."""
    stored: dict[str, dict[str, Any]] = {}
    for transformation in flow.transformations or []:
        for selector in transformation.get("params", {}).get("segmentSelectors", {}).get("selectors", []):
            stored[selector["value"]["id"]] = selector["value"]
    return stored
