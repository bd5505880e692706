"""Wire views of the Segmentation API: segment definitions and segment jobs as Adobe spells them.

Times follow segmentation.yaml: ``creationTime``/``updateTime`` are Unix milliseconds, ``updateEpoch`` Unix
seconds.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from clarion.models.audiences import SegmentDefinition, SegmentJob
from clarion.tenancy.principal import Principal
from clarion.tenancy.service import PRODUCTION_SANDBOX

BASE_PATH = "/data/core/ups"
_DERIVED = uuid.UUID("5c7d2d3e-0f51-4a39-9a43-6f0c6f2d8e11")
"""Namespace of ids derived from a job id (batchId) so that they are stable across reads."""


def epoch_ms(moment: datetime) -> int:
    """Unix time in milliseconds."""
    return int(moment.timestamp() * 1000)


def sandbox_view(principal: Principal) -> dict[str, Any]:
    """``{sandboxId, sandboxName, type, default}`` of the caller's sandbox."""
    return {
        "sandboxId": principal.sandbox_id,
        "sandboxName": principal.sandbox_name,
        "type": principal.sandbox_type,
        "default": principal.sandbox_name == PRODUCTION_SANDBOX,
    }


def definition_view(segment: SegmentDefinition, principal: Principal) -> dict[str, Any]:
    """A segment definition (``SegmentDefinition`` of segmentation.yaml)."""
    view: dict[str, Any] = {
        "id": segment.id,
        "schema": {"name": segment.schema_name},
        "profileInstanceId": segment.profile_instance_id,
        "imsOrgId": principal.ims_org_id,
        "sandbox": sandbox_view(principal),
        "name": segment.name,
        "description": segment.description,
        "expression": segment.expression,
        "evaluationInfo": segment.evaluation_info,
        "dataGovernancePolicy": {"excludeOptOut": True},
        "mergePolicyId": segment.merge_policy_id,
        "creationTime": epoch_ms(segment.created_at),
        "updateEpoch": int(segment.updated_at.timestamp()),
        "updateTime": epoch_ms(segment.updated_at),
    }
    if segment.payload_schema is not None:
        view["payloadSchema"] = segment.payload_schema
    return view


def job_view(
    job: SegmentJob, principal: Principal, segments: Mapping[str, SegmentDefinition]
) -> dict[str, Any]:
    """A segment job (``SegmentJob`` of segmentation.yaml); ``segments``: the definitions still present."""
    link = f"{BASE_PATH}/segment/jobs/{job.id}"
    view: dict[str, Any] = {
        "id": job.id,
        "imsOrgId": principal.ims_org_id,
        "sandbox": sandbox_view(principal),
        "profileInstanceId": "ups",
        "source": job.source,
        "status": job.status,
        "batchId": str(uuid.uuid5(_DERIVED, job.id)),
        "computeGatewayJobId": job.id,
        "segments": [_segment_info(segment_id, segments.get(segment_id)) for segment_id in job.segment_ids],
        "metrics": job_metrics(job.metrics),
        "errors": job.errors,
        "requestId": job.request_id,
        "schema": {"name": "_xdm.context.profile"},
        "properties": _properties(job),
        "_links": {
            "cancel": {"href": link, "method": "DELETE"},
            "checkStatus": {"href": link, "method": "GET"},
        },
        "creationTime": epoch_ms(job.created_at),
        "updateTime": epoch_ms(job.updated_at),
        "updateEpoch": int(job.updated_at.timestamp()),
    }
    return view


def job_metrics(stored: Mapping[str, Any]) -> dict[str, Any]:
    """The job's metrics; the two timing objects are always present (``{}`` until known), as required."""
    return {"totalTime": {}, "profileSegmentationTime": {}, **stored}


def _segment_info(segment_id: str, segment: SegmentDefinition | None) -> dict[str, Any]:
    if segment is None:
        return {"segmentId": segment_id}
    return {
        "segmentId": segment_id,
        "segment": {
            "id": segment.id,
            "expression": segment.expression,
            "mergePolicyId": segment.merge_policy_id,
            "mergePolicy": {"id": segment.merge_policy_id, "version": 1},
        },
    }


def _properties(job: SegmentJob) -> dict[str, Any]:
    if job.schedule_id is None:
        return {}
    return {"scheduleId": job.schedule_id, "runId": job.id}
