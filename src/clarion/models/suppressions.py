"""The suppression list: addresses not to send to, per organization and sandbox, and what keeps it fresh.

Designed for the workers' in-memory copy (``suppressions/cache.py``): every change stamps its rows with the
sandbox's next ``revision`` (``SuppressionRevision``, bumped in the same transaction), and a removal leaves a
tombstone (``removed_at``) rather than deleting the row, so a process that holds revision ``r`` reads exactly
what changed since with one index range (``ix_suppressions_revision``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clarion.db.base import Base
from clarion.kit.clock import utcnow

ADDRESS = String(320).with_variant(String(320, collation="C"), "postgresql")
"""Addresses compare bytewise: lowercased at write, and a prefix search is an index range on PostgreSQL
too (a linguistic collation orders ``a.b`` and ``ab`` by letters first, which breaks prefix ranges)."""


class Suppression(Base):
    """One reason not to send to an address (an address may have several: a bounce and an unsubscribe)."""

    __tablename__ = "suppressions"
    __table_args__ = (
        UniqueConstraint("org_id", "sandbox_id", "address", "reason", "category"),
        Index("ix_suppressions_revision", "org_id", "sandbox_id", "revision"),
        Index("ix_suppressions_listing", "org_id", "sandbox_id", "id"),
        Index("ix_suppressions_reason", "org_id", "sandbox_id", "reason", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    """Increasing: the list's order (newest first) and its cursor."""
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(ADDRESS)
    """Lowercased: matching is case-insensitive."""
    reason: Mapped[str] = mapped_column(String(16))
    """hardBounce | softBounce | complaint | unsubscribe | manual."""
    category: Mapped[str] = mapped_column(String(64), default="")
    """The campaign category it applies to; "" for every category (an unsubscribe: ``Marketing``)."""
    source: Mapped[str] = mapped_column(String(16), default="")
    """What added it: bounce, complaint, unsubscribe, api, import, console."""
    message_id: Mapped[str] = mapped_column(String(80), default="")
    """The message whose bounce, complaint or unsubscribe caused it ("" when added by hand)."""
    detail: Mapped[str] = mapped_column(Text, default="")
    """The evidence: the relay's answer, the DSN's diagnostic, a note."""
    revision: Mapped[int] = mapped_column(BigInteger)
    """The sandbox's revision of the last change to this row (``SuppressionRevision``)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(default=None)
    """Set when removed: a tombstone the caches read as a removal; purged after a day."""


class SuppressionRevision(Base):
    """One counter per sandbox, bumped by every change to its list in the changing transaction.

    Its row lock orders the writers of one sandbox: revisions become visible in increasing order, so a
    reader that sees counter ``R`` can trust every row stamped ``≤ R`` to be committed.
    """

    __tablename__ = "suppression_revisions"

    org_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sandbox_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)


class SoftBounce(Base):
    """A message to an address that soft-bounced: ``softBounce`` suppression counts these per address."""

    __tablename__ = "suppression_soft_bounces"
    __table_args__ = (Index("ix_suppression_soft_bounces_at", "org_id", "sandbox_id", "at"),)

    org_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sandbox_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    address: Mapped[str] = mapped_column(ADDRESS, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    """Part of the key: a message's retries count once (N bounced *messages*, not attempts)."""
    at: Mapped[datetime] = mapped_column(default=utcnow)
