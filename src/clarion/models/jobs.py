"""The job ledger: one row per job whose effect has been committed (makes handlers idempotent)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from clarion.db.base import Base
from clarion.kit.clock import utcnow


class JobLedgerEntry(Base):
    """Written in the same transaction as a job's effect; a redelivered job finds it and skips."""

    __tablename__ = "job_ledger"

    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    task: Mapped[str] = mapped_column(String(100))
    finished_at: Mapped[datetime] = mapped_column(default=utcnow)
