"""Profiles and the identities (namespace + value) that resolve to them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clarion.db.base import Base
from clarion.kit.clock import utcnow
from clarion.kit.ids import new_id


class Profile(Base):
    """A customer profile: attributes as a JSON document (XDM-like paths: ``person.name.firstName``)."""

    __tablename__ = "profiles"
    __table_args__ = (Index("ix_profiles_org_sandbox", "org_id", "sandbox_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # No foreign keys here nor on identities (migration 0009): each cost a lookup per row of a bulk import.
    # Deletes remove dependents explicitly (ProfileRepository.remove and remove_sandbox).
    org_id: Mapped[str] = mapped_column(String(36))
    sandbox_id: Mapped[str] = mapped_column(String(36))
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    identities: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    """Denormalized identity map ``{namespace: [value, …]}`` (exports read it without a join)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProfileIdentity(Base):
    """One identity of a profile; an identity belongs to exactly one profile of a sandbox."""

    __tablename__ = "profile_identities"
    __table_args__ = (UniqueConstraint("org_id", "sandbox_id", "namespace", "value"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(String(36))
    sandbox_id: Mapped[str] = mapped_column(String(36))
    namespace: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(String(512))
    profile_id: Mapped[str] = mapped_column(String(36), index=True)
