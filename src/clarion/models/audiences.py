"""Audiences: segment definitions (PQL), segment jobs, membership snapshots and export jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clarion.db.base import Base
from clarion.kit.clock import utcnow
from clarion.kit.ids import new_id


class SegmentDefinition(Base):
    """An audience: a PQL expression over profile attributes, unique by name within a sandbox."""

    __tablename__ = "segment_definitions"
    __table_args__ = (UniqueConstraint("org_id", "sandbox_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(512))
    description: Mapped[str] = mapped_column(Text, default="")
    expression: Mapped[dict[str, Any]] = mapped_column()
    evaluation_info: Mapped[dict[str, Any]] = mapped_column(default=dict)
    schema_name: Mapped[str] = mapped_column(String(128), default="_xdm.context.profile")
    profile_instance_id: Mapped[str] = mapped_column(String(64), default="ups")
    merge_policy_id: Mapped[str] = mapped_column(String(36))
    payload_schema: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SegmentMembership(Base):
    """Whether a profile belongs to an audience, as of the last evaluation.

    ``status`` is ``realized`` (entered at the last evaluation), ``existing`` (still in) or ``exited`` (left
    at an evaluation; kept so that incremental exports and clients can see the exit).
    """

    __tablename__ = "segment_memberships"
    __table_args__ = (Index("ix_segment_memberships_segment_status", "segment_id", "status"),)

    segment_id: Mapped[str] = mapped_column(
        ForeignKey("segment_definitions.id", ondelete="CASCADE"), primary_key=True
    )
    # No foreign key to profiles (a lookup per inserted member): deleting a profile deletes its memberships.
    profile_id: Mapped[str] = mapped_column(String(36), primary_key=True, index=True)
    org_id: Mapped[str] = mapped_column(String(36))
    sandbox_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16))
    job_id: Mapped[str] = mapped_column(String(36))
    qualified_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SegmentJob(Base):
    """One evaluation of one or more audiences (``POST /segment/jobs`` or the daily scheduler)."""

    __tablename__ = "segment_jobs"
    __table_args__ = (Index("ix_segment_jobs_org_sandbox_status", "org_id", "sandbox_id", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="NEW")
    source: Mapped[str] = mapped_column(String(32), default="api")
    segment_ids: Mapped[list[str]] = mapped_column(default=list)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    request_id: Mapped[str] = mapped_column(String(64), default="")
    schedule_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExportJob(Base):
    """A segmentation export job (``/export/jobs``): profiles of audiences written to a dataset folder.

    The contract's export job id is a number, hence the integer key.
    """

    __tablename__ = "export_jobs"
    __table_args__ = (Index("ix_export_jobs_org_sandbox_created", "org_id", "sandbox_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="NEW")
    request: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dataset_id: Mapped[str] = mapped_column(String(128))
    batch_id: Mapped[str] = mapped_column(String(36), default=new_id)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    request_id: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SegmentPreview(Base):
    """A preview job (``POST /preview``): an unsaved PQL expression, evaluated against profiles on read.

    ``evaluated_at`` fixes the ``now`` of relative times, so every page and the estimate agree. Rows older
    than a day are deleted when a new preview is created.
    """

    __tablename__ = "segment_previews"
    __table_args__ = (Index("ix_segment_previews_created_at", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"))
    expression: Mapped[dict[str, Any]] = mapped_column()
    evaluated_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
