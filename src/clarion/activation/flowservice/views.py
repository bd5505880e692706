"""The JSON of Flow Service entities as Adobe shows them (destinations.yaml examples, contract §2.3).

Times are epoch milliseconds, etags are quoted (``"\\"…\\""``) and ``version`` repeats the etag as in
Adobe's examples. A base connection shows its auth parameters with each secret replaced by a mask.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from clarion.activation.flowservice import specs
from clarion.activation.flowservice.connection_rules import MASK
from clarion.activation.flowservice.etags import quoted
from clarion.models.activation import Flow, FlowConnection, FlowEntity, FlowRun

XDM_ACTIVITY = "Activation Batch XdmProcessor Activity"
PUBLISHER_ACTIVITY = "Activation Batch Publisher Activity"
_ACTIVITY_NAMESPACE = uuid.UUID("0b7f1a52-3f6c-4b8e-9a43-5d1c2e7f8a90")


def epoch_ms(moment: datetime | None) -> int | None:
    """Epoch milliseconds of an aware datetime (None stays None)."""
    return None if moment is None else int(moment.timestamp() * 1000)


def _audit(entity: FlowEntity, ims_org_id: str) -> dict[str, Any]:
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


def _spec_ref(spec_id: str, version: str) -> dict[str, str]:
    return {"id": spec_id, "version": version}


def connection_view(
    connection: FlowConnection, *, ims_org_id: str, base: FlowConnection | None = None
) -> dict[str, Any]:
    """A base, source or target connection; ``base`` feeds ``inheritedAttributes`` of the other two."""
    view: dict[str, Any] = {"id": connection.id, **_audit(connection, ims_org_id)}
    view["name"] = connection.name
    view["description"] = connection.description
    if connection.kind != "base" and connection.base_connection_id:
        view["baseConnectionId"] = connection.base_connection_id
    view["connectionSpec"] = _spec_ref(connection.connection_spec_id, connection.connection_spec_version)
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
                "connectionSpec": _spec_ref(base.connection_spec_id, base.connection_spec_version),
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


def flow_view(flow: Flow, *, ims_org_id: str, connections: Mapping[str, FlowConnection]) -> dict[str, Any]:
    """A dataflow; ``connections`` (by id) fill ``inheritedAttributes`` (missing ones are left out)."""
    view: dict[str, Any] = {"id": flow.id, **_audit(flow, ims_org_id)}
    view["name"] = flow.name
    view["description"] = flow.description
    view["flowSpec"] = _spec_ref(flow.flow_spec_id, flow.flow_spec_version)
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
    return view


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
            "connectionSpec": _spec_ref(connection.connection_spec_id, connection.connection_spec_version),
        }
        base = connections.get(connection.base_connection_id or "")
        if base is not None:
            item["baseConnection"] = {
                "id": base.id,
                "connectionSpec": _spec_ref(base.connection_spec_id, base.connection_spec_version),
            }
        if source:
            item["typeInfo"] = {"type": "ProfileFragments", "id": "ups"}
        items.append(item)
    return items


def run_view(
    run: FlowRun, *, ims_org_id: str, base_url: str, flow_spec: tuple[str, str] | None = None
) -> dict[str, Any]:
    """A run in the contract's shape (§2.3); ``flow_spec`` is the flow's (id, version) when known."""
    metrics = copy.deepcopy(run.metrics) if run.metrics else {}
    status = metrics.setdefault("statusSummary", {})
    status.setdefault("status", run.status)
    if run.errors:
        status.setdefault("errors", run.errors)
    if run.started_at is not None and "durationSummary" not in metrics:
        metrics["durationSummary"] = {"startedAtUTC": epoch_ms(run.started_at)}
        if run.completed_at is not None:
            metrics["durationSummary"]["completedAtUTC"] = epoch_ms(run.completed_at)
    activities = _activities(run, metrics)
    if activities:
        status.setdefault("activityRefs", [activity["id"] for activity in activities])
    view: dict[str, Any] = {"id": run.id, **_audit(run, ims_org_id), "flowId": run.flow_id}
    if flow_spec is not None:
        view["flowSpec"] = _spec_ref(*flow_spec)
    view["providerRefId"] = run.id.replace("-", "")
    view["etag"] = quoted(run.etag)
    view["metrics"] = metrics
    view["activities"] = activities
    base = base_url.rstrip("/")
    view["_links"] = {
        "self": {"href": f"{base}/runs/{run.id}"},
        "flow": {"href": f"{base}/flows/{run.flow_id}"},
    }
    return view


def _activities(run: FlowRun, metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Adobe's two destination activities, derived from the run's metrics (none before it started)."""
    if run.started_at is None and run.status == "waiting":
        return []
    status = metrics["statusSummary"]
    records = metrics.get("recordSummary", {})
    activity_status: dict[str, Any] = {"status": status.get("status", run.status), "extensions": {}}
    if status.get("errors"):
        activity_status["errors"] = status["errors"]
    processor = {
        "id": str(uuid.uuid5(_ACTIVITY_NAMESPACE, f"{run.id}/xdm")),
        "name": XDM_ACTIVITY,
        "updatedAtUTC": epoch_ms(run.updated_at),
        "durationSummary": metrics.get("durationSummary", {}),
        "latencySummary": {},
        "sizeSummary": metrics.get("sizeSummary", {}),
        "recordSummary": {
            key: value for key, value in records.items() if key not in ("sourceSummaries", "targetSummaries")
        },
        "fileSummary": metrics.get("fileSummary", {}),
        "statusSummary": activity_status,
    }
    if run.status != "success":
        return [processor]
    publisher = {
        **processor,
        "id": str(uuid.uuid5(_ACTIVITY_NAMESPACE, f"{run.id}/publisher")),
        "name": PUBLISHER_ACTIVITY,
        "sizeSummary": {"outputBytes": metrics.get("sizeSummary", {}).get("outputBytes", 0)},
        "fileSummary": {"outputFileCount": metrics.get("fileSummary", {}).get("outputFileCount", 0)},
    }
    return [processor, publisher]
