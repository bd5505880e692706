"""Flow Service entities for destinations: connections, dataflows (flows) and their runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clarion.db.base import Base
from clarion.kit.clock import utcnow
from clarion.kit.ids import new_id


class FlowEntity:
    """Columns every Flow Service entity shares: tenancy, etag, who created or changed it and when."""

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), index=True)
    sandbox_name: Mapped[str] = mapped_column(String(64))
    etag: Mapped[str] = mapped_column(String(64), default=new_id)
    created_by: Mapped[str] = mapped_column(String(200))
    created_client: Mapped[str] = mapped_column(String(200))
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_client: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    @staticmethod
    def authored(actor: str, client: str, at: datetime) -> dict[str, Any]:
        """The etag and audit columns of a new entity, created (and last changed) by ``actor`` at ``at``."""
        return {
            "etag": new_id(),
            "created_by": actor,
            "updated_by": actor,
            "created_client": client,
            "updated_client": client,
            "created_at": at,
            "updated_at": at,
        }


class FlowConnection(FlowEntity, Base):
    """A base connection (credentials), a source connection or a target connection (format, location).

    ``kind`` is ``base``, ``source`` or ``target``. A base connection's ``auth`` holds the credentials
    sealed with the secret box (never returned); ``params`` holds the non-secret parameters.
    """

    __tablename__ = "flow_connections"
    __table_args__ = (Index("ix_flow_connections_org_sandbox_kind", "org_id", "sandbox_id", "kind"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(512))
    description: Mapped[str] = mapped_column(Text, default="")
    connection_spec_id: Mapped[str] = mapped_column(String(36))
    connection_spec_version: Mapped[str] = mapped_column(String(16), default="1.0")
    base_connection_id: Mapped[str | None] = mapped_column(String(36), default=None)
    auth_spec_name: Mapped[str | None] = mapped_column(String(128), default=None)
    auth_sealed: Mapped[str | None] = mapped_column(Text, default=None)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default="enabled")


class Flow(FlowEntity, Base):
    """A dataflow: source → target connections, with the audiences (segment selectors) it exports.

    ``transformations`` is kept as the client sent it (JSON Patch applies to it); the exporter reads the
    selectors from ``transformations[…].params.segmentSelectors.selectors``.
    """

    __tablename__ = "flows"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(512))
    description: Mapped[str] = mapped_column(Text, default="")
    flow_spec_id: Mapped[str] = mapped_column(String(36))
    flow_spec_version: Mapped[str] = mapped_column(String(16), default="1.0")
    source_connection_ids: Mapped[list[str]] = mapped_column(default=list)
    target_connection_ids: Mapped[list[str]] = mapped_column(default=list)
    transformations: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    schedule_params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default="enabled")


class FlowRun(FlowEntity, Base):
    """One execution of a dataflow (scheduled or ad hoc) exporting one or more audiences.

    ``status`` is ``waiting``, ``processing``, ``success`` or ``failed`` (the contract's lower-case
    spelling); ``metrics`` holds the contract's run metrics; ``files`` one entry per file written
    (name, audience, rows, bytes, sha256).
    """

    __tablename__ = "flow_runs"
    __table_args__ = (
        Index("ix_flow_runs_org_sandbox_created", "org_id", "sandbox_id", "created_at"),
        Index("ix_flow_runs_flow_status", "flow_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    flow_id: Mapped[str] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"))
    trigger: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    segment_ids: Mapped[list[str]] = mapped_column(default=list)
    export_ids: Mapped[list[str]] = mapped_column(default=list)
    scheduled_for: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    files: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(default=list)


class ActiveAudienceRun(Base):
    """A lock row: audience ``segment_id`` is being exported by run ``run_id`` right now.

    The primary key makes "one running job per audience" hold under concurrent requests; the row is
    deleted when the run ends.
    """

    __tablename__ = "active_audience_runs"
    __table_args__ = (UniqueConstraint("org_id", "sandbox_id", "segment_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(String(36))
    sandbox_id: Mapped[str] = mapped_column(String(36))
    segment_id: Mapped[str] = mapped_column(String(36))
    flow_id: Mapped[str] = mapped_column(String(36))
    run_id: Mapped[str] = mapped_column(ForeignKey("flow_runs.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
