"""Custom actions (named outbound HTTP calls) and the action-call ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from clarion.db.base import Base
from clarion.kit.clock import utcnow
from clarion.kit.ids import new_id


class CustomAction(Base):
    """An outbound HTTP call configured once: URL, method, headers, query, authentication, body template."""

    __tablename__ = "custom_actions"
    __table_args__ = (UniqueConstraint("org_id", "sandbox_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(30))
    description: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(2048))
    method: Mapped[str] = mapped_column(String(8))
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    query_parameters: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    """``[{name, value}]`` or ``[{name, fromContext}]``, as on the wire."""
    authentication: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """``{type, username?, headerName?, <secret>Sealed?}`` — secrets encrypted, never returned."""
    body: Mapped[str | None] = mapped_column(Text, default=None)
    timeout_seconds: Mapped[float] = mapped_column(default=30.0)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ActionCall(Base):
    """One call of a custom action: queued → sent | failed | expired, with its attempts and last answer.

    Written by the throttle runtime in batches (rows carry their own organization and sandbox), read by
    ``/v1/action-calls``. No foreign keys: the ledger outlives deleted actions and must stay cheap to write.
    """

    __tablename__ = "action_calls"
    __table_args__ = (
        Index("ix_action_calls_org_sandbox_accepted", "org_id", "sandbox_id", "accepted_at"),
        Index("ix_action_calls_org_sandbox_status", "org_id", "sandbox_id", "status", "accepted_at"),
        Index("ix_action_calls_org_action", "org_id", "action_id", "accepted_at"),
        # The live throttling view counts a configuration's calls finished in the last seconds. Partial:
        # direct (unthrottled) calls, most of the ledger's writes, do not pay for it.
        Index(
            "ix_action_calls_org_throttle_updated",
            "org_id",
            "throttle_config_uid",
            "updated_at",
            sqlite_where=text("throttle_config_uid IS NOT NULL"),
            postgresql_where=text("throttle_config_uid IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """Given by the caller (a UUIDv7 from ``kit.ids.new_reference``), so a retried write hits the same row."""
    org_id: Mapped[str] = mapped_column(String(36))
    sandbox_id: Mapped[str] = mapped_column(String(36))
    action_id: Mapped[str] = mapped_column(String(36))
    action_name: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    """queued → sent | failed | expired."""
    attempts: Mapped[int] = mapped_column(default=0)
    response_status: Mapped[int | None] = mapped_column(default=None)
    response: Mapped[str] = mapped_column(Text, default="")
    """The error, or the first 500 characters of the answer."""
    latency_ms: Mapped[float | None] = mapped_column(default=None)
    throttle_config_uid: Mapped[str | None] = mapped_column(String(64), default=None)
    accepted_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    request_id: Mapped[str | None] = mapped_column(String(256), default=None)
