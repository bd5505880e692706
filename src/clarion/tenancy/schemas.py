"""Wire shapes of Clarion's tenancy endpoints (/v1)."""

from __future__ import annotations

from dataclasses import dataclass
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
    role: str = Field(description="The role of the calling API key")


RoleName = Literal["admin", "developer", "user", "read-only"]


class CredentialCreate(BaseModel):
    """Create an API key. Without ``role``: ``admin`` for the organization's first key, ``user`` after."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="default", min_length=1, max_length=200, description="What this key is for")
    role: RoleName | None = None


class CredentialRead(BaseModel):
    """An API key (``x-api-key``): its role and last use, never a token."""

    clientId: str
    name: str
    role: RoleName
    technicalAccount: str
    createdAt: datetime
    lastUsedAt: datetime | None = Field(
        description="Last authenticated request, to within a minute plus the gateway's cache time"
    )
    revokedAt: datetime | None


class TokenRead(BaseModel):
    """An access token: its id (to revoke it), never its clear text."""

    tokenId: str
    clientId: str
    createdAt: datetime
    expiresAt: datetime
    revokedAt: datetime | None


class IssuedTokenRead(BaseModel):
    """A token just issued: the only answer that ever carries ``accessToken``."""

    clientId: str
    role: RoleName
    orgId: str
    tokenId: str
    accessToken: str
    expiresIn: int = Field(description="Seconds until the token expires")


@dataclass(frozen=True, slots=True)
class TenantSandbox:
    """A sandbox and its organization, as the operator's tools see every tenant."""

    org_id: str
    sandbox_id: str
    name: str
