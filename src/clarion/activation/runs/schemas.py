"""Wire bodies of runs: the segmentation export job request (``POST /data/core/ups/export/jobs``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from pydantic import BaseModel, ConfigDict, Field, field_validator

STATUSES = ("realized", "existing", "exited")


class SegmentFilter(BaseModel):
    """One audience to export and the member statuses wanted."""

    model_config = ConfigDict(extra="allow")
    segmentId: str = Field(min_length=1)
    segmentNs: str = "ups"
    status: list[str] = Field(default_factory=lambda: ["realized", "existing"])

    @field_validator("status")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(STATUSES))
        if unknown or not value:
            raise ValueError(f"must be a non-empty list of {', '.join(STATUSES)} (got {unknown or value})")
        return value


class QualificationTime(BaseModel):
    """Window of segment qualification times (RFC 3339)."""

    startTime: datetime | None = None
    endTime: datetime | None = None


class ExportFilter(BaseModel):
    """Which profiles to export."""

    model_config = ConfigDict(extra="allow")
    segments: list[SegmentFilter] | None = None
    segmentQualificationTime: QualificationTime | None = None


class DatasetDestination(BaseModel):
    """Where the export goes."""

    model_config = ConfigDict(extra="allow")
    datasetId: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")
    segmentPerBatch: bool = False


class ExportJobCreate(BaseModel):
    """``POST /export/jobs`` body."""

    model_config = ConfigDict(extra="allow")
    fields: str = ""
    mergePolicy: dict[str, Any] | None = None
    filter: ExportFilter = Field(default_factory=ExportFilter)
    additionalFields: dict[str, Any] | None = None
    destination: DatasetDestination
    schema_: dict[str, Any] = Field(default_factory=lambda: {"name": "_xdm.context.profile"}, alias="schema")


class RunJob(msgspec.Struct, frozen=True):
    """Payload of the ``activation.export`` task: the dataflow run to execute."""

    run_id: str


class ExportJobRun(msgspec.Struct, frozen=True):
    """Payload of the ``audiences.export`` task: the segmentation export job to write."""

    export_job_id: int
