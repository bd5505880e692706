"""SQL of the delivery ledger (``messages``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clarion.db.dialect import dialect_of
from clarion.delivery.schemas import EventRow, LedgerRow, stored_kind
from clarion.kit.repository import SandboxRepository
from clarion.models.messages import Message, MessageEvent

FINAL = ("sent", "failed", "expired", "suppressed", "bounced")
_UPDATED_ON_CONFLICT = (
    "status",
    "attempts",
    "response",
    "rendered_size",
    "header_message_id",
    "updated_at",
    "sent_at",
    "payload",
    "recipient",
)


async def upsert_messages(session: AsyncSession, rows: Sequence[LedgerRow]) -> None:
    """Write ledger rows (workers write for many organizations at once, so this is not tenant-scoped:
    every row carries its own ``org_id``/``sandbox_id`` from the job, never from a request)."""
    if not rows:
        return
    table: Any = Message.__table__
    statement = dialect_of(session).upsert(
        table, conflict_columns=("id",), update_columns=_UPDATED_ON_CONFLICT
    )
    await session.execute(statement, list(rows))


async def add_events(session: AsyncSession, events: Sequence[EventRow]) -> None:
    """Append history events (like ``upsert_messages``, each row carries its own tenant)."""
    if events:
        await session.execute(insert(MessageEvent), list(events))


async def message_refs(session: AsyncSession, ids: Sequence[str]) -> list[Any]:
    """``feedback.MessageRef`` fields of the messages of these ids (not tenant-scoped: the ids come from
    signed tokens and bounce addresses, each naming one message of whichever tenant sent it)."""
    if not ids:
        return []
    rows = await session.execute(
        select(
            Message.id,
            Message.org_id,
            Message.sandbox_id,
            Message.campaign_id,
            Message.recipient,
            Message.channel,
            Message.status,
            Message.attempts,
            Message.execution_id,
            Message.request_id,
            Message.user_id,
        ).where(Message.id.in_(list(ids)))
    )
    return list(rows)


async def mark_bounced(session: AsyncSession, bounced: dict[str, datetime]) -> None:
    """Make these messages ``bounced`` (a bounce report arrived after the relay took them)."""
    if not bounced:
        return
    # One executemany on the table (no ORM synchronization): a bounce storm records hundreds per batch, and
    # a statement per message cost the feedback listener most of its time (bench/feedback.py).
    await session.execute(_MARK_BOUNCED, [{"b_id": key, "b_at": at} for key, at in bounced.items()])


_MESSAGES = cast(Table, Message.__table__)
_MARK_BOUNCED = (
    update(_MESSAGES)
    .where(
        _MESSAGES.c.id == bindparam("b_id"),
        or_(_MESSAGES.c.status == "sent", _MESSAGES.c.status == "accepted"),  # executemany: no IN list
    )
    .values(status="bounced", updated_at=bindparam("b_at"), payload=None)
)


async def final_ids(session: AsyncSession, ids: Sequence[str]) -> set[str]:
    """Which of these messages already reached a final status (a redelivered job skips them)."""
    if not ids:
        return set()
    rows = await session.scalars(select(Message.id).where(Message.id.in_(ids), Message.status.in_(FINAL)))
    return set(rows)


_STATUS_EVENTS = frozenset(("failed", "expired", "suppressed", "bounced"))
"""Event kinds that are also final statuses: the ledger row's status tells them too."""


def _had_event(kind: str) -> ColumnElement[bool]:
    """Messages whose history has an event of this (wire) kind: an EXISTS on ``message_events`` by
    ``ix_message_events_message`` (a message has a handful of events), or the ledger row where the row
    tells it without an event (a first-time send writes none; every message was accepted)."""
    if kind == "accepted":
        return Message.accepted_at.is_not(None)
    event = exists().where(MessageEvent.message_id == Message.id, MessageEvent.kind == stored_kind(kind))
    if kind == "sent":
        return or_(Message.sent_at.is_not(None), event)
    if kind in _STATUS_EVENTS:
        return or_(Message.status == kind, event)
    return event


class MessageRepository(SandboxRepository):
    """Reads of the ledger for one sandbox (the /v1/messages API)."""

    def _filtered(self, filters: dict[str, str | None]) -> Any:
        statement = self.scoped(Message)
        columns = {
            "messageId": Message.id,
            "executionId": Message.execution_id,
            "campaignId": Message.campaign_id,
            "status": Message.status,
            "recipient": Message.recipient,
        }
        for name, value in filters.items():
            if name == "event":
                if value is not None:
                    statement = statement.where(_had_event(value))
            elif value is not None:
                statement = statement.where(columns[name] == value)
        return statement

    async def search(
        self,
        filters: dict[str, str | None],
        window: tuple[datetime | None, datetime | None] = (None, None),
        *,
        limit: int,
        offset: int,
    ) -> tuple[list[Message], int]:
        """One page of messages matching the filters and accepted in ``[since, until)``, newest first."""
        statement = self._filtered(filters)
        since, until = window
        if since is not None:
            statement = statement.where(Message.accepted_at >= since)
        if until is not None:
            statement = statement.where(Message.accepted_at < until)
        total = await self.session.scalar(select(func.count()).select_from(statement.subquery()))
        rows = await self.session.scalars(
            statement.order_by(Message.accepted_at.desc(), Message.id).limit(limit).offset(offset)
        )
        return list(rows), int(total or 0)

    async def get(self, message_id: str) -> Message | None:
        """One message of this sandbox."""
        return await self.session.scalar(self.scoped(Message).where(Message.id == message_id))

    async def failed(self, filters: dict[str, str | None], *, limit: int) -> list[Message]:
        """Failed or expired messages matching the filters that still hold their payload (resendable)."""
        statement = self._filtered({**filters, "status": None}).where(
            Message.status.in_(("failed", "expired")), Message.payload.is_not(None)
        )
        return list(await self.session.scalars(statement.order_by(Message.accepted_at).limit(limit)))

    async def events(self, message_id: str) -> list[MessageEvent]:
        """The history of one message of this sandbox, oldest first."""
        return list(
            await self.session.scalars(
                self.scoped(MessageEvent)
                .where(MessageEvent.message_id == message_id)
                .order_by(MessageEvent.at, MessageEvent.id)
            )
        )

    async def counts_by_bucket(self, since: datetime, seconds: int) -> list[tuple[int, str, int]]:
        """``(bucket number, status, count)`` of the messages last updated since ``since``; bucket ``n``
        starts at ``n * seconds`` after the epoch (for a message in a final status, when it became final)."""
        bucket = dialect_of(self.session).epoch_bucket(Message.updated_at.expression, seconds)
        statement = (
            select(bucket, Message.status, func.count())
            .where(
                Message.org_id == self.org_id,
                Message.sandbox_id == self.sandbox_id,
                Message.updated_at >= since,
            )
            .group_by(bucket, Message.status)
        )
        return [
            (int(number), str(status), int(count))
            for number, status, count in await self.session.execute(statement)
        ]

    async def mark_requeued(self, ids: Sequence[str], now: datetime) -> None:
        """Put resent messages back to ``accepted``."""
        await self.session.execute(
            update(Message)
            .where(Message.org_id == self.org_id, Message.sandbox_id == self.sandbox_id, Message.id.in_(ids))
            .values(status="accepted", updated_at=now, response="requeued by resend")
        )


async def status_counts(
    session: AsyncSession, org_id: str, sandbox_id: str, execution_id: str
) -> dict[str, int]:
    """How many messages of an execution are in each status."""
    rows = await session.execute(
        select(Message.status, func.count())
        .where(
            Message.org_id == org_id, Message.sandbox_id == sandbox_id, Message.execution_id == execution_id
        )
        .group_by(Message.status)
    )
    return {status: int(count) for status, count in rows}


async def campaign_hourly(
    session: AsyncSession, org_id: str, sandbox_id: str, campaign_id: str, since: datetime
) -> list[tuple[int, str, int]]:
    """``(hour since 1970, status, messages)`` of a campaign's messages accepted since ``since``."""
    hour = dialect_of(session).epoch_bucket(Message.accepted_at, 3600).label("hour")
    rows = await session.execute(
        select(hour, Message.status, func.count())
        .where(
            Message.org_id == org_id,
            Message.sandbox_id == sandbox_id,
            Message.campaign_id == campaign_id,
            Message.accepted_at >= since,
        )
        .group_by(hour, Message.status)
    )
    return [(int(bucket), status, int(count)) for bucket, status, count in rows]


FEEDBACK_KINDS = ("bounced", "complained", "unsubscribed", "opened", "clicked")
"""The event kinds campaign statistics count (``ix_message_events_campaign_kind`` serves them)."""


async def campaign_counts(
    session: AsyncSession, org_id: str, sandbox_id: str, campaign_id: str
) -> dict[str, int]:
    """How many messages of a campaign are in each status (read from ``ix_messages_org_campaign_status``
    alone)."""
    rows = await session.execute(
        select(Message.status, func.count())
        .where(Message.org_id == org_id, Message.sandbox_id == sandbox_id, Message.campaign_id == campaign_id)
        .group_by(Message.status)
    )
    return {status: int(count) for status, count in rows}


async def campaign_bounced_after_sending(
    session: AsyncSession, org_id: str, sandbox_id: str, campaign_id: str
) -> int:
    """How many of a campaign's ``bounced`` messages the relay had taken (a bounce report came later: their
    ``sent_at`` survives); only the bounced rows are read."""
    count = await session.scalar(
        select(func.count()).where(
            Message.org_id == org_id,
            Message.campaign_id == campaign_id,
            Message.status == "bounced",
            Message.sandbox_id == sandbox_id,
            Message.sent_at.is_not(None),
        )
    )
    return int(count or 0)


async def campaign_event_counts(
    session: AsyncSession, org_id: str, sandbox_id: str, campaign_id: str
) -> list[tuple[str, str, bool, int]]:
    """``(kind, bounce type, machine open, messages)`` of a campaign's feedback events: distinct messages
    per kind, bounce type and machine flag, in one grouped read of ``ix_message_events_campaign_kind``."""
    data: Any = MessageEvent.data
    bounce_type = func.coalesce(data["type"].as_string(), "").label("bounce_type")
    machine = func.coalesce(data["machine"].as_boolean(), False).label("machine")
    rows: Any = await session.execute(
        select(MessageEvent.kind, bounce_type, machine, func.count(func.distinct(MessageEvent.message_id)))
        .where(
            MessageEvent.org_id == org_id,
            MessageEvent.campaign_id == campaign_id,
            MessageEvent.kind.in_(FEEDBACK_KINDS),
            MessageEvent.sandbox_id == sandbox_id,
        )
        .group_by(MessageEvent.kind, bounce_type, machine)
    )
    return [(str(kind), str(kind_type), bool(flag), int(count)) for kind, kind_type, flag, count in rows]


async def campaign_event_hourly(
    session: AsyncSession, org_id: str, sandbox_id: str, campaign_id: str, since: datetime
) -> list[tuple[int, str, int]]:
    """``(hour since 1970, kind, events)`` of a campaign's feedback events recorded since ``since``."""
    hour = dialect_of(session).epoch_bucket(MessageEvent.at, 3600).label("hour")
    rows = await session.execute(
        select(hour, MessageEvent.kind, func.count())
        .where(
            MessageEvent.org_id == org_id,
            MessageEvent.campaign_id == campaign_id,
            MessageEvent.kind.in_(FEEDBACK_KINDS),
            MessageEvent.sandbox_id == sandbox_id,
            MessageEvent.at >= since,
        )
        .group_by(hour, MessageEvent.kind)
    )
    return [(int(bucket), str(kind), int(count)) for bucket, kind, count in rows]
