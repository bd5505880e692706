"""Wire shapes of the profile store (``/v1/profiles``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

MAX_BATCH = 1000


class ProfileWrite(BaseModel):
    """``PUT /v1/profiles/{namespace}/{id}``: attributes to deep-merge (``null`` removes), more identities."""

    model_config = ConfigDict(extra="forbid")

    attributes: dict[str, Any] = Field(
        default_factory=dict,
        description="Deep-merged into the stored attributes; a JSON null removes its key; lists replace",
    )
    identities: dict[str, list[str] | str] = Field(
        default_factory=dict, description="More identities of this profile: {namespace: [value, …]}"
    )


class ProfileBatch(BaseModel):
    """``POST /v1/profiles:batch``: items shaped ``{"identities": {...}, "attributes": {...}}``."""

    model_config = ConfigDict(extra="forbid")

    profiles: list[Any] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description="Items need an identity; the first value of the first namespace is the primary one",
    )


class BatchItemResult(BaseModel):
    """What became of one item: 200 applied, 201 created, 4xx refused with the reason."""

    model_config = ConfigDict(json_schema_extra={"example": {"index": 0, "status": 201, "id": "…"}})

    index: int
    status: int
    id: str | None = None
    error: str | None = None


class BatchResult(BaseModel):
    """Per-item results, in request order."""

    results: list[BatchItemResult]


class MembershipRead(BaseModel):
    """A profile's membership of one audience."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    status: str
    last_qualification_time: datetime


class ProfileRead(BaseModel):
    """A profile: identities, attributes, timestamps and audience memberships (``segmentMembership.ups``)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    id: str
    identities: dict[str, list[str]]
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    segment_membership: dict[str, dict[str, MembershipRead]]
