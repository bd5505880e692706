"""The job ledger makes handlers "exactly once in effect" on an at-least-once queue: its table and ``claim``.

A handler calls ``claim`` inside the same database transaction as its effect::

    async with session.begin():
        if await claim(session, job):
            ...  # write the effect

If the transaction commits, the ledger row and the effect exist together; a redelivered job (crashed
worker, expired lease) finds the row, ``claim`` returns False and the effect is skipped. Two concurrent
deliveries serialize on the primary key: the second insert waits for the first transaction and then
inserts nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import String, Table
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from clarion.db.base import Base
from clarion.db.dialect import dialect_of
from clarion.kit.clock import utcnow
from clarion.queue.port import Job


class JobLedgerEntry(Base):
    """Written in the same transaction as a job's effect; a redelivered job finds it and skips."""

    __tablename__ = "job_ledger"

    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    task: Mapped[str] = mapped_column(String(100))
    finished_at: Mapped[datetime] = mapped_column(default=utcnow)


async def claim(session: AsyncSession, job: Job) -> bool:
    """Record ``job`` as done in the session's transaction; True if this call is the first to do so."""
    table = cast(Table, JobLedgerEntry.__table__)
    statement = dialect_of(session).insert_ignore(table, conflict_columns=("job_id",))
    # ``finished_at`` comes from the model's Python-side default, which Core inserts apply too.
    result: Any = await session.execute(statement.values(job_id=job.id, task=job.task))
    return bool(result.rowcount == 1)
