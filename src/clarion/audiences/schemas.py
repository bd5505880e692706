"""Request bodies of the Segmentation API (``/data/core/ups``); answers are built in ``views.py``.

Bodies ignore unknown fields: Adobe's own examples send read-only fields back (``id``, ``creationTime`` …
in a PATCH), and a client written against Adobe must keep working.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from pydantic import BaseModel, ConfigDict, Field

PROFILE_SCHEMA = "_xdm.context.profile"
"""The only schema class Clarion segments (profiles)."""
MAX_BULK_IDS = 1000
"""Ids one bulk-get may ask for."""


class Body(BaseModel):
    """Wire names as Adobe spells them (camelCase aliases), unknown fields ignored."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class ExpressionIn(Body):
    """``{type: "PQL", format: "pql/text" | "pql/json", value}``; a pql/json value: string or object."""

    type: Literal["PQL"]
    format: Literal["pql/text", "pql/json"]
    value: str | dict[str, Any] = Field(min_length=1)


class Toggle(Body):
    """``{"enabled": bool}``."""

    enabled: bool = False


class EvaluationInfoIn(Body):
    """How the audience is evaluated; the daily schedule and ``"*"`` jobs run ``batch`` audiences."""

    batch: Toggle | None = None
    continuous: Toggle | None = None
    synchronous: Toggle | None = None


class SchemaRef(Body):
    """``{"name": "_xdm.context.profile"}``."""

    name: str = Field(min_length=1, max_length=128)


class SegmentDefinitionCreate(Body):
    """``POST /segment/definitions``."""

    name: str = Field(min_length=1, max_length=512)
    description: str = Field(default="", max_length=4096)
    expression: ExpressionIn
    schema_: SchemaRef = Field(alias="schema")
    evaluation_info: EvaluationInfoIn | None = Field(default=None, alias="evaluationInfo")
    profile_instance_id: str = Field(default="ups", alias="profileInstanceId", min_length=1, max_length=64)
    payload_schema: str | None = Field(default=None, alias="payloadSchema", max_length=128)


class SegmentDefinitionUpdate(Body):
    """``PATCH /segment/definitions/{id}``: the fields given replace the stored ones."""

    name: str | None = Field(default=None, min_length=1, max_length=512)
    description: str | None = Field(default=None, max_length=4096)
    expression: ExpressionIn | None = None
    schema_: SchemaRef | None = Field(default=None, alias="schema")
    evaluation_info: EvaluationInfoIn | None = Field(default=None, alias="evaluationInfo")
    profile_instance_id: str | None = Field(
        default=None, alias="profileInstanceId", min_length=1, max_length=64
    )
    payload_schema: str | None = Field(default=None, alias="payloadSchema", max_length=128)


class IdRef(Body):
    """``{"id": "…"}``."""

    id: str = Field(min_length=1, max_length=64)


class BulkGet(Body):
    """``POST …/bulk-get`` body: ``{"ids": [{"id": …}, …]}``."""

    ids: list[IdRef] = Field(min_length=1, max_length=MAX_BULK_IDS)


class SegmentRef(Body):
    """One item of a segment job request: ``{"segmentId": …}`` (``"*"`` = every batch audience)."""

    segment_id: str = Field(alias="segmentId", min_length=1, max_length=64)


class SegmentJobsObject(Body):
    """The object form of a job request (documented for "more than 1500 segments"): ``{schema, segments}``."""

    schema_: SchemaRef | None = Field(default=None, alias="schema")
    segments: list[SegmentRef] = Field(min_length=1, max_length=MAX_BULK_IDS)


SegmentJobCreate = (
    Annotated[list[SegmentRef], Field(min_length=1, max_length=MAX_BULK_IDS)] | SegmentJobsObject
)
"""``POST /segment/jobs``: ``[{"segmentId": …}]`` or ``{"segments": [{"segmentId": "*"}]}``."""


class EvaluateJob(msgspec.Struct, frozen=True):
    """Payload of the ``audiences.evaluate`` task: which segment job, of which organization and sandbox."""

    jobId: str
    orgId: str
    sandboxId: str
