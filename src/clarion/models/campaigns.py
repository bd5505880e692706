"""IP pools, channel configurations and campaigns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clarion.db.base import Base
from clarion.kit.clock import utcnow
from clarion.kit.ids import new_id


class IpPool(Base):
    """A named set of SMTP relays (and local addresses to bind). Organization-wide, as in AJO."""

    __tablename__ = "ip_pools"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    relays: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    """``[{host, port, tls, username, password_sealed}]`` — passwords encrypted, never returned."""
    bind_addresses: Mapped[list[str]] = mapped_column(default=list)
    max_connections: Mapped[int] = mapped_column(default=16)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChannelConfiguration(Base):
    """A channel surface: sender identity, IP pool, provider settings; standard or high throughput."""

    __tablename__ = "channel_configurations"
    __table_args__ = (UniqueConstraint("org_id", "sandbox_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(16))
    high_throughput: Mapped[bool] = mapped_column(default=False)
    ip_pool_id: Mapped[str | None] = mapped_column(ForeignKey("ip_pools.id"), index=True, default=None)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Channel-specific: email sender fields and headers; sms/push provider settings (secrets sealed)."""
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(default=utcnow)


class Campaign(Base):
    """An API-triggered campaign: content, channel configuration, mode, schedule and lifecycle status."""

    __tablename__ = "campaigns"
    __table_args__ = (Index("ix_campaigns_org_sandbox_status", "org_id", "sandbox_id", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    channel_configuration_id: Mapped[str] = mapped_column(ForeignKey("channel_configurations.id"), index=True)
    high_throughput: Mapped[bool] = mapped_column(default=False)
    identity_namespace: Mapped[str] = mapped_column(String(64), default="email")
    create_new_profile: Mapped[bool] = mapped_column(default=False)
    enable_webhooks: Mapped[bool] = mapped_column(default=False)
    webhook_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    webhook_events: Mapped[list[str] | None] = mapped_column(default=None)
    """Event types the webhook subscribes to (``message.bounced``, …); None: every final status."""
    throttle_rate_per_second: Mapped[int | None] = mapped_column(default=None)
    start_date: Mapped[datetime | None] = mapped_column(default=None)
    end_date: Mapped[datetime | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(16), default="Draft")
    content: Mapped[dict[str, Any]] = mapped_column(default=dict)
    custom_action_id: Mapped[str | None] = mapped_column(String(36), default=None)
    """Called once per recipient whose message was sent; no foreign key: a deleted action fails its calls."""
    track_opens: Mapped[bool] = mapped_column(default=False)
    """Email: a 1x1 pixel per message records ``opened`` events (``feedback/tracking.py``)."""
    track_clicks: Mapped[bool] = mapped_column(default=False)
    """Email: the HTML body's http(s) links go through a signed redirect that records ``clicked``."""
    version: Mapped[int] = mapped_column(default=1)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    modified_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(default=None)
    stopped_at: Mapped[datetime | None] = mapped_column(default=None)
