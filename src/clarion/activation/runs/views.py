"""The JSON of runs: a dataflow run as Adobe shows it (contract §2.3) and a segmentation export job (§2.5)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from clarion.activation.flowservice.etags import quoted
from clarion.activation.flowservice.views import audit_fields, epoch_ms, spec_ref
from clarion.models.activation import FlowRun
from clarion.models.audiences import ExportJob

XDM_ACTIVITY = "Activation Batch XdmProcessor Activity"
PUBLISHER_ACTIVITY = "Activation Batch Publisher Activity"
_ACTIVITY_NAMESPACE = uuid.UUID("0b7f1a52-3f6c-4b8e-9a43-5d1c2e7f8a90")


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
    view: dict[str, Any] = {"id": run.id, **audit_fields(run, ims_org_id), "flowId": run.flow_id}
    if flow_spec is not None:
        view["flowSpec"] = spec_ref(*flow_spec)
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


def export_job_view(job: ExportJob, *, ims_org_id: str) -> dict[str, Any]:
    """The contract's export job record."""
    request = job.request
    destination = dict(request.get("destination", {}))
    destination.update({"batchId": job.batch_id, "batches": job.metrics.get("batches", [])})
    destination.setdefault("segmentPerBatch", False)
    metrics = {key: value for key, value in job.metrics.items() if key != "batches"}
    return {
        "id": job.id,
        "jobType": "BATCH",
        "destination": destination,
        "fields": request.get("fields", ""),
        "schema": request.get("schema", {"name": "_xdm.context.profile"}),
        "imsOrgId": ims_org_id,
        "status": job.status,
        "filter": request.get("filter", {}),
        "additionalFields": request.get("additionalFields", {}),
        "mergePolicy": request.get("mergePolicy", {}),
        "profileInstanceId": "ups",
        "errors": job.errors,
        "metrics": metrics,
        "computeGatewayJobId": {"exportJob": f"export-{job.id}", "pushJob": f"push-{job.id}"},
        "creationTime": int(job.created_at.timestamp() * 1000),
        "updateTime": int(job.updated_at.timestamp() * 1000),
        "requestId": job.request_id,
    }
