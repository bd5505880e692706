"""SQL of custom actions and of the action-call ledger (``action_calls``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from clarion.db.dialect import dialect_of
from clarion.kit.repository import SandboxRepository
from clarion.models.actions import ActionCall, CustomAction

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


class CustomActionRepository(SandboxRepository):
    """Custom actions of one sandbox."""

    def add(self, action: CustomAction) -> None:
        """Stage a new action."""
        self.session.add(action)

    async def get(self, action_id: str) -> CustomAction | None:
        """The action with this id in this sandbox."""
        return await self.session.scalar(self.scoped(CustomAction).where(CustomAction.id == action_id))

    async def by_name(self, name: str) -> CustomAction | None:
        """The action with this name in this sandbox."""
        return await self.session.scalar(self.scoped(CustomAction).where(CustomAction.name == name))

    async def by_name_or_id(self, name_or_id: str) -> CustomAction | None:
        """The action with this id or name (names cannot hold the ``-`` of ids, so at most one matches)."""
        return await self.session.scalar(
            self.scoped(CustomAction).where(
                or_(CustomAction.id == name_or_id, CustomAction.name == name_or_id)
            )
        )

    async def remove(self, action: CustomAction) -> None:
        """Delete the action."""
        await self.session.execute(
            delete(CustomAction).where(
                CustomAction.org_id == self.org_id,
                CustomAction.sandbox_id == self.sandbox_id,
                CustomAction.id == action.id,
            )
        )


async def insert_queued(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Record accepted calls, skipping ids already recorded (a sender may have finished one already).

    Not tenant-scoped: the runtime writes for many organizations at once and every row carries its own
    ``org_id``/``sandbox_id``. Every row holds every column of ``action_calls``.
    """
    if not rows:
        return
    table: Any = ActionCall.__table__
    statement = dialect_of(session).insert_ignore(table, conflict_columns=("id",))
    await session.execute(statement, list(rows))


async def upsert_calls(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Record calls' latest state, inserting calls never recorded as queued (rows as in ``insert_queued``)."""
    if not rows:
        return
    table: Any = ActionCall.__table__
    statement = dialect_of(session).upsert(table, conflict_columns=("id",), update_columns=_FINAL_COLUMNS)
    await session.execute(statement, list(rows))


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
