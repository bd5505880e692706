"""SQL of the usage counters (``message_usage``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import cast

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clarion.db.dialect import dialect_of
from clarion.models.usage import MessageUsage
from clarion.usage.schemas import Tally

_KEY = ("org_id", "day", "mode", "sandbox_id")


async def add(session: AsyncSession, tallies: Sequence[Tally]) -> None:
    """Add the tallies to their counters with one upsert (tallies of the same key are summed first)."""
    summed: dict[tuple[str, date, str, str], int] = {}
    for tally in tallies:
        key = (tally.org_id, tally.day, tally.mode, tally.sandbox_id)
        summed[key] = summed.get(key, 0) + tally.messages
    if not summed:
        return
    table = cast(Table, MessageUsage.__table__)
    statement = dialect_of(session).upsert_adding(table, conflict_columns=_KEY, add_columns=("messages",))
    rows = [dict(zip(_KEY, key, strict=True), messages=count) for key, count in summed.items()]
    await session.execute(statement, rows)


async def totals_by_mode(session: AsyncSession, org_id: str, first: date, last: date) -> dict[str, int]:
    """Messages of one organization per mode between two days (inclusive)."""
    rows = await session.execute(
        select(MessageUsage.mode, func.sum(MessageUsage.messages))
        .where(MessageUsage.org_id == org_id, MessageUsage.day >= first, MessageUsage.day <= last)
        .group_by(MessageUsage.mode)
    )
    return {mode: int(total or 0) for mode, total in rows.all()}


async def daily(session: AsyncSession, org_id: str, first: date, last: date) -> list[tuple[date, str, int]]:
    """(day, mode, messages) of one organization between two days (inclusive), oldest first."""
    rows = await session.execute(
        select(MessageUsage.day, MessageUsage.mode, func.sum(MessageUsage.messages))
        .where(MessageUsage.org_id == org_id, MessageUsage.day >= first, MessageUsage.day <= last)
        .group_by(MessageUsage.day, MessageUsage.mode)
        .order_by(MessageUsage.day)
    )
    return [(day, mode, int(total or 0)) for day, mode, total in rows.all()]


async def all_organizations(session: AsyncSession, first: date, last: date) -> dict[str, dict[str, int]]:
    """Messages per organization id and mode between two days (the metrics' current month)."""
    rows = await session.execute(
        select(MessageUsage.org_id, MessageUsage.mode, func.sum(MessageUsage.messages))
        .where(MessageUsage.day >= first, MessageUsage.day <= last)
        .group_by(MessageUsage.org_id, MessageUsage.mode)
    )
    found: dict[str, dict[str, int]] = {}
    for org_id, mode, total in rows.all():
        found.setdefault(org_id, {})[mode] = int(total or 0)
    return found
