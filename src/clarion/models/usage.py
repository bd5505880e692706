"""Messages accepted per organization, sandbox, mode and UTC day (the usage behind monthly quotas)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from clarion.db.base import Base


class MessageUsage(Base):
    """One counter row; intake adds a whole group-commit batch to it with one upsert."""

    __tablename__ = "message_usage"

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    mode: Mapped[str] = mapped_column(String(16), primary_key=True)
    """``standard`` or ``high-throughput``."""
    sandbox_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    """No foreign key: usage outlives a deleted sandbox (the month's volume was consumed all the same)."""
    messages: Mapped[int] = mapped_column(BigInteger, default=0)
