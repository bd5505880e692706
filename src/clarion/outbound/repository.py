"""SQL of the action-call ledger (``action_calls``): the runtime's writes, the /v1/action-calls reads and the
live throttling view's count."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clarion.db.dialect import dialect_of
from clarion.kit.repository import SandboxRepository, TenantRepository
from clarion.models.actions import ActionCall
from clarion.outbound.schemas import CallRecord

_FINAL_COLUMNS = (
    "status",
    "attempts",
    "response_status",
    "response",
    "latency_ms",
    "throttle_config_uid",
    "updated_at",
    "sent_at",
)
"""What a sender's final write changes; who, what and when the call was accepted never change."""


async def insert_queued(session: AsyncSession, records: Sequence[CallRecord]) -> None:
    """Record accepted calls, skipping ids already recorded (a sender may have finished one already).

    Not tenant-scoped: the runtime writes for many organizations at once and every record carries its
    own ``org_id``/``sandbox_id``.
    """
    if not records:
        return
    table: Any = ActionCall.__table__
    statement = dialect_of(session).insert_ignore(table, conflict_columns=("id",))
    await session.execute(statement, _rows(records))


async def upsert_calls(session: AsyncSession, records: Sequence[CallRecord]) -> None:
    """Record calls' latest state, inserting calls never recorded as queued."""
    if not records:
        return
    table: Any = ActionCall.__table__
    statement = dialect_of(session).upsert(table, conflict_columns=("id",), update_columns=_FINAL_COLUMNS)
    await session.execute(statement, _rows(records))


def _rows(records: Sequence[CallRecord]) -> list[dict[str, Any]]:
    """The ``action_calls`` rows of ``records`` (each holds every column: its fields are named after them)."""
    return [msgspec.structs.asdict(record) for record in records]


class ActionCallRepository(SandboxRepository):
    """Reads of the action-call ledger for one sandbox (the /v1/action-calls API)."""

    async def search(
        self,
        *,
        action_id: str | None,
        status: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        offset: int,
    ) -> tuple[list[ActionCall], int]:
        """One page of calls matching the filters (``since`` ≤ acceptedAt < ``until``), newest first."""
        statement = self.scoped(ActionCall)
        if action_id is not None:
            statement = statement.where(ActionCall.action_id == action_id)
        if status is not None:
            statement = statement.where(ActionCall.status == status)
        if since is not None:
            statement = statement.where(ActionCall.accepted_at >= since)
        if until is not None:
            statement = statement.where(ActionCall.accepted_at < until)
        total = await self.session.scalar(select(func.count()).select_from(statement.subquery()))
        newest_first = statement.order_by(ActionCall.accepted_at.desc(), ActionCall.id.desc())
        rows = await self.session.scalars(newest_first.limit(limit).offset(offset))
        return list(rows), int(total or 0)

    async def get(self, call_id: str) -> ActionCall | None:
        """One call of this sandbox."""
        return await self.session.scalar(self.scoped(ActionCall).where(ActionCall.id == call_id))


class ThrottledCallRepository(TenantRepository):
    """The organization's calls paced by its throttling configurations (organization-wide, as they are)."""

    async def finished_since(self, config_uid: str, since: datetime) -> int:
        """Calls of ``config_uid`` that reached a final status at or after ``since`` (one index range)."""
        statement = (
            select(func.count())
            .select_from(ActionCall)
            .where(
                ActionCall.org_id == self.org_id,
                ActionCall.throttle_config_uid == config_uid,
                ActionCall.updated_at >= since,
                ActionCall.status != "queued",
            )
        )
        return int(await self.session.scalar(statement) or 0)
