"""SQL of the feedback domain: what tracking and unsubscribes need to know of a message's history.

The messages come from signed tokens (``delivery/tokens.py``): each id verified as one this instance wrote,
of whichever tenant. The reads still carry each message's own organization (from its ledger row,
``delivery.feedback.MessageRef``), so a query never reaches past the tenants the ids belong to.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from clarion.models.messages import Message, MessageEvent


async def sent_times(session: AsyncSession, orgs: Mapping[str, str]) -> dict[str, datetime | None]:
    """When the relay took each message (``{message id: org id}``), by id, in one query."""
    if not orgs:
        return {}
    rows = await session.execute(
        select(Message.id, Message.sent_at).where(
            Message.id.in_(list(orgs)), Message.org_id.in_(set(orgs.values()))
        )
    )
    return {row.id: row.sent_at for row in rows}


async def first_opens(session: AsyncSession, orgs: Mapping[str, str]) -> set[tuple[str, bool]]:
    """``(message id, machine)`` of the first opens already recorded (at most one person's and one
    machine's per message: only those carry ``first: true``), in one query."""
    if not orgs:
        return set()
    rows = await session.execute(
        select(MessageEvent.message_id, MessageEvent.data["machine"].as_boolean()).where(
            MessageEvent.message_id.in_(list(orgs)),
            MessageEvent.org_id.in_(set(orgs.values())),
            MessageEvent.kind == "opened",
            MessageEvent.data["first"].as_boolean().is_(True),
        )
    )
    return {(str(message_id), bool(machine)) for message_id, machine in rows}


async def has_event(session: AsyncSession, message_id: str, org_id: str, kinds: Collection[str]) -> bool:
    """Whether the message's history already holds an event of one of these kinds."""
    row = await session.execute(
        select(MessageEvent.id)
        .where(
            MessageEvent.message_id == message_id,
            MessageEvent.org_id == org_id,
            MessageEvent.kind.in_(list(kinds)),
        )
        .limit(1)
    )
    return row.first() is not None
