"""Wire shapes of Clarion's tenancy endpoints (/v1)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SandboxCreate(BaseModel):
    """Create a sandbox."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="Lowercase letters, digits and hyphens"
    )
    title: str = Field(default="", max_length=200)
    type: Literal["production", "development"] = "development"


class SandboxRead(BaseModel):
    """A sandbox, as the AEP sandbox API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    title: str
    type: str
    is_default: bool = Field(serialization_alias="isDefault")
    created_at: datetime = Field(serialization_alias="createdAt")


class OrganizationRead(BaseModel):
    """The caller's organization and its entitlements."""

    orgId: str
    name: str
    highThroughputEntitled: bool
    standardRatePerSecond: int
    highThroughputRatePerSecond: int
    standardMonthlyQuota: int = Field(description="Messages a month in standard mode; 0: unlimited")
    highThroughputMonthlyQuota: int = Field(description="Messages a month in HT mode; 0: unlimited")
    quotaMode: str = Field(description="hard: 429 once a quota is spent; soft: accepted and flagged")
    sandbox: str
