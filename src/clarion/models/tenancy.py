"""Organizations, sandboxes, API credentials and access tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clarion.db.base import Base
from clarion.kit.clock import utcnow
from clarion.kit.ids import new_id


class Organization(Base):
    """A tenant. ``ims_org_id`` is what clients send in ``x-gw-ims-org-id``."""

    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    ims_org_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    high_throughput_entitled: Mapped[bool] = mapped_column(default=False)
    standard_rate_per_second: Mapped[int] = mapped_column(default=500)
    high_throughput_rate_per_second: Mapped[int] = mapped_column(default=5000)
    standard_monthly_quota: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """Messages a month through standard mode (0: unlimited)."""
    high_throughput_monthly_quota: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """Messages a month through high-throughput mode (0: unlimited)."""
    quota_mode: Mapped[str] = mapped_column(String(8), default="hard", server_default="hard")
    """``hard``: a spent quota answers 429; ``soft``: accepted, flagged (log line, usage report, metric)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Sandbox(Base):
    """A named partition of an organization's data; every organization has a production sandbox ``prod``."""

    __tablename__ = "sandboxes"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200), default="")
    type: Mapped[str] = mapped_column(String(16))
    is_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiCredential(Base):
    """A client of the API: ``client_id`` is the ``x-api-key`` value. Bound to one organization."""

    __tablename__ = "api_credentials"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    technical_account: Mapped[str] = mapped_column(String(200))
    # admin | developer | user | read-only (tenancy/principal.Role); rows older than roles are admins.
    role: Mapped[str] = mapped_column(String(16), default="admin", server_default="admin")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    # Written by the gateway when it re-verifies a token, at most once a minute per key (not per request).
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class AccessToken(Base):
    """A bearer token, stored only as its SHA-256 hash."""

    __tablename__ = "access_tokens"
    __table_args__ = (Index("ix_access_tokens_expires_at", "expires_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    credential_id: Mapped[str] = mapped_column(
        ForeignKey("api_credentials.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class CredentialRevision(Base):
    """One row: a counter bumped by every revocation, in the revoking transaction.

    Each process's gateway reads it every ``REVISION_CHECK_SECONDS`` (one indexed read per process, not per
    request) and drops its cache of verified tokens when it moved, so a revocation is effective everywhere
    within a second.
    """

    __tablename__ = "credential_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(default=0)
