"""The JSON of connections and flows as Adobe shows them (destinations.yaml examples, contract §2.3).

Times are epoch milliseconds, etags are quoted (``"\\"…\\""``) and ``version`` repeats the etag as in
Adobe's examples. A base connection shows its auth parameters with each secret replaced by a mask.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from clarion.activation.flowservice import specs
from clarion.activation.flowservice.etags import quoted
from clarion.activation.flowservice.parameter_rules import MASK
from clarion.models.activation import Flow, FlowConnection, FlowEntity, FlowRun


def epoch_ms(moment: datetime | None) -> int | None:
    """Epoch milliseconds of an aware datetime (None stays None)."""
    return None if moment is None else int(moment.timestamp() * 1000)


def audit_fields(entity: FlowEntity, ims_org_id: str) -> dict[str, Any]:
    """The id-less audit fields every Flow Service entity shows (times, authors, sandbox, org)."""
    return {
        "createdAt": epoch_ms(entity.created_at),
        "updatedAt": epoch_ms(entity.updated_at),
        "createdBy": entity.created_by,
        "updatedBy": entity.updated_by,
        "createdClient": entity.created_client,
        "updatedClient": entity.updated_client,
        "sandboxId": entity.sandbox_id,
        "sandboxName": entity.sandbox_name,
        "imsOrgId": ims_org_id,
    }


def spec_ref(spec_id: str, version: str) -> dict[str, str]:
    """``{"id", "version"}`` of a connection or flow spec."""
    return {"id": spec_id, "version": version}


def connection_view(
    connection: FlowConnection, *, ims_org_id: str, base: FlowConnection | None = None
) -> dict[str, Any]:
    """A base, source or target connection; ``base`` feeds ``inheritedAttributes`` of the other two."""
    view: dict[str, Any] = {"id": connection.id, **audit_fields(connection, ims_org_id)}
    view["name"] = connection.name
    view["description"] = connection.description
    if connection.kind != "base" and connection.base_connection_id:
        view["baseConnectionId"] = connection.base_connection_id
    view["connectionSpec"] = spec_ref(connection.connection_spec_id, connection.connection_spec_version)
    view["state"] = connection.state
    if connection.kind == "base":
        if connection.auth_spec_name is not None:
            view["auth"] = {"specName": connection.auth_spec_name, "params": masked_auth_params(connection)}
    else:
        if connection.data:
            view["data"] = connection.data
        view["params"] = connection.params
    if connection.kind == "source":
        view["typeInfo"] = {"type": "ProfileFragments", "id": "ups"}
    view["version"] = view["etag"] = quoted(connection.etag)
    if connection.kind != "base" and base is not None:
        view["inheritedAttributes"] = {
            "baseConnection": {
                "id": base.id,
                "connectionSpec": spec_ref(base.connection_spec_id, base.connection_spec_version),
            }
        }
    return view


def masked_auth_params(connection: FlowConnection) -> dict[str, Any]:
    """A base connection's auth params with every secret shown as the mask."""
    spec = specs.connection_spec(connection.connection_spec_id)
    auth_spec = (
        None
        if spec is None or connection.auth_spec_name is None
        else spec.auth_spec(connection.auth_spec_name)
    )
    secrets = sorted(auth_spec.secrets) if auth_spec is not None and connection.auth_sealed else []
    return {**connection.params, **dict.fromkeys(secrets, MASK)}


def flow_view(
    flow: Flow,
    *,
    ims_org_id: str,
    connections: Mapping[str, FlowConnection],
    last_run: FlowRun | None = None,
) -> dict[str, Any]:
    """A dataflow; ``connections`` (by id) fill ``inheritedAttributes`` (missing ones are left out);
    ``last_run``, its newest run, fills ``lastRunDetails`` (absent before the first run, as Adobe's)."""
    view: dict[str, Any] = {"id": flow.id, **audit_fields(flow, ims_org_id)}
    view["name"] = flow.name
    view["description"] = flow.description
    view["flowSpec"] = spec_ref(flow.flow_spec_id, flow.flow_spec_version)
    view["state"] = flow.state
    view["version"] = view["etag"] = quoted(flow.etag)
    view["sourceConnectionIds"] = list(flow.source_connection_ids)
    view["targetConnectionIds"] = list(flow.target_connection_ids)
    view["inheritedAttributes"] = {
        "properties": {"isDestinationFlow": True},
        "sourceConnections": _inherited(flow.source_connection_ids, connections, source=True),
        "targetConnections": _inherited(flow.target_connection_ids, connections, source=False),
    }
    view["transformations"] = flow.transformations
    view["runs"] = f"/runs?property=flowId=={flow.id}"
    if last_run is not None:
        view["lastRunDetails"] = last_run_details(last_run)
    return view


def last_run_details(run: FlowRun) -> dict[str, Any]:
    """Adobe's ``lastRunDetails``: the run's id, state and times (epoch ms, once known)."""
    details: dict[str, Any] = {"id": run.id, "state": run.status}
    if run.started_at is not None:
        details["startedAtUTC"] = epoch_ms(run.started_at)
    if run.completed_at is not None:
        details["completedAtUTC"] = epoch_ms(run.completed_at)
    return details


def _inherited(
    ids: list[str], connections: Mapping[str, FlowConnection], *, source: bool
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for connection_id in ids:
        connection = connections.get(connection_id)
        if connection is None:
            continue
        item: dict[str, Any] = {
            "id": connection.id,
            "connectionSpec": spec_ref(connection.connection_spec_id, connection.connection_spec_version),
        }
        base = connections.get(connection.base_connection_id or "")
        if base is not None:
            item["baseConnection"] = {
                "id": base.id,
                "connectionSpec": spec_ref(base.connection_spec_id, base.connection_spec_version),
            }
        if source:
            item["typeInfo"] = {"type": "ProfileFragments", "id": "ups"}
        items.append(item)
    return items
