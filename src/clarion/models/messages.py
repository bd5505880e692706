"""The delivery ledger and audience/scheduled executions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clarion.db.base import Base
from clarion.kit.clock import utcnow
from clarion.kit.ids import new_id


class Message(Base):
    """One message to one recipient: the truth about what was sent, when, and what the server answered."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_org_execution", "org_id", "execution_id"),
        Index("ix_messages_org_campaign_status", "org_id", "campaign_id", "status"),
        Index("ix_messages_org_recipient", "org_id", "recipient"),
        Index("ix_messages_org_sandbox_updated", "org_id", "sandbox_id", "updated_at"),
    )

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    """``<executionId>:<recipient index>`` — deterministic, so a redelivered job updates the same row."""
    org_id: Mapped[str] = mapped_column(String(36))
    sandbox_id: Mapped[str] = mapped_column(String(36))
    campaign_id: Mapped[str] = mapped_column(String(36))
    execution_id: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(256), default="")
    user_id: Mapped[str] = mapped_column(String(256), default="")
    recipient: Mapped[str] = mapped_column(String(320), default="")
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    """accepted → sent | failed | expired."""
    attempts: Mapped[int] = mapped_column(default=0)
    response: Mapped[str] = mapped_column(Text, default="")
    rendered_size: Mapped[int] = mapped_column(default=0)
    header_message_id: Mapped[str] = mapped_column(String(256), default="")
    """The Message-ID of the last attempt (the captured copy's key; a first-time send writes no event)."""
    accepted_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    payload: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    """The recipient's job payload, kept only while the message is not sent (for ``/v1/messages/resend``)."""


class Execution(Base):
    """An audience execution, optionally scheduled (``executeAt``); unitary executions need no row."""

    __tablename__ = "executions"
    __table_args__ = (Index("ix_executions_org_schedule", "org_id", "schedule_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    sandbox_id: Mapped[str] = mapped_column(String(36))
    campaign_id: Mapped[str] = mapped_column(String(36))
    request_id: Mapped[str] = mapped_column(String(256), default="")
    audience_id: Mapped[str | None] = mapped_column(String(256), default=None)
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    recipients: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    """Explicit recipients (Clarion's extension until audiences resolve members)."""
    status: Mapped[str] = mapped_column(String(16), default="InProgress")
    targeted_profile_count: Mapped[int] = mapped_column(default=0)
    schedule_id: Mapped[str | None] = mapped_column(String(64), default=None)
    execute_at: Mapped[datetime | None] = mapped_column(default=None)
    schedule_status: Mapped[str | None] = mapped_column(String(16), default=None)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(default=utcnow)


class MessageEvent(Base):
    """One step of a message's history: a delivery attempt's outcome (with the server's answer) or a resend.

    Acceptance is the message row's ``accepted_at`` (the intake writes no row); every attempt the worker
    records and every resend adds one event, so the SMTP answer of each attempt survives the next one.
    """

    __tablename__ = "message_events"
    __table_args__ = (
        Index("ix_message_events_message", "message_id", "at"),
        # Campaign statistics count events by kind (unique opens and clicks, bounces, complaints).
        Index("ix_message_events_campaign_kind", "org_id", "campaign_id", "kind"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(80))
    org_id: Mapped[str] = mapped_column(String(36))
    sandbox_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(16))
    """sent | retry | failed | expired | resent | suppressed | bounced | complained | unsubscribed | opened |
    clicked (``delivery/schemas.EventKind``)."""
    campaign_id: Mapped[str] = mapped_column(String(36), default="")
    """The message's campaign ("" on events written before migration 0016), for per-campaign statistics."""
    attempt: Mapped[int] = mapped_column(default=0)
    response: Mapped[str] = mapped_column(Text, default="")
    header_message_id: Mapped[str] = mapped_column(String(256), default="")
    """The ``Message-ID`` header the attempt was written with ("" when nothing was written): it finds the
    captured copy in the outbox."""
    data: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    """What the kind carries beyond the answer: a bounce's ``type``/``status``/``diagnostic``, a click's
    ``url``, an open's ``machine`` flag and ``userAgent`` (``delivery/feedback.py``)."""
    at: Mapped[datetime] = mapped_column(default=utcnow)
