"""Throttling configurations (one per organization), capping (endpoint) configurations, rule revisions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clarion.db.base import Base
from clarion.kit.clock import utcnow
from clarion.kit.ids import new_id


class ConfigLifecycle:
    """Columns both kinds share: authoring state, deployment, who changed what when.

    ``state`` is what the API shows (created, updated, deployed); ``authoring_state`` (created or updated)
    is where an undeploy returns to; ``has_been_deployed`` is true while a version runs, and
    ``deployed_config`` is the snapshot the runtime uses.
    """

    state: Mapped[str] = mapped_column(String(16), default="created")
    authoring_state: Mapped[str] = mapped_column(String(16), default="created")
    has_been_deployed: Mapped[bool] = mapped_column(default=False)
    deployed_config: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_by: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    modified_by: Mapped[str] = mapped_column(String(200))
    modified_by_id: Mapped[str] = mapped_column(String(200))
    modified_at: Mapped[datetime] = mapped_column(default=utcnow)
    deployed_by: Mapped[str | None] = mapped_column(String(200), default=None)
    deployed_by_id: Mapped[str | None] = mapped_column(String(200), default=None)
    deployed_at: Mapped[datetime | None] = mapped_column(default=None)


class ThrottlingConfig(ConfigLifecycle, Base):
    """The organization's throttling configuration, created in a production sandbox, applied org-wide.

    A deleted configuration whose calls are still draining stays as a tombstone (``deleted_at`` set,
    ``org_slot`` NULL) until 24 h after its undeploy, so the runtime keeps pacing what it queued.
    ``org_slot`` is 1 for the live configuration: the unique constraint makes "one per organization" hold
    under concurrent creates (NULLs never collide).
    """

    __tablename__ = "throttling_configs"
    __table_args__ = (UniqueConstraint("org_id", "org_slot"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), index=True)
    sandbox_name: Mapped[str] = mapped_column(String(64))
    org_slot: Mapped[int | None] = mapped_column(default=1)
    name: Mapped[str | None] = mapped_column(Text, default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    url_pattern: Mapped[str | None] = mapped_column(Text, default=None)
    methods: Mapped[list[str] | None] = mapped_column(default=None)
    max_throughput: Mapped[int | None] = mapped_column(default=None)
    undeployed_at: Mapped[datetime | None] = mapped_column(default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class EndpointConfig(ConfigLifecycle, Base):
    """A capping configuration of one sandbox: calls to ``url`` over the rating are rejected."""

    __tablename__ = "endpoint_configs"
    __table_args__ = (Index("ix_endpoint_configs_org_sandbox", "org_id", "sandbox_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"))
    url: Mapped[str | None] = mapped_column(Text, default=None)
    methods: Mapped[list[str] | None] = mapped_column(default=None)
    services: Mapped[dict[str, Any] | None] = mapped_column(default=None)


class RuleRevision(Base):
    """A counter per organization, bumped by every write to its throttling or capping configurations.

    The runtime polls it (one primary-key read) and reloads its rules only when it moved; a counter row,
    not ``max(modified_at)``, because a deletion must move it too.
    """

    __tablename__ = "throttling_rule_revisions"

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    revision: Mapped[int] = mapped_column(default=0)
