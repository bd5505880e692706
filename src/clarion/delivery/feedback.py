"""What comes back after a message was sent, recorded on the message: the one way in for feedback.

The inbound listener (bounces and complaints by mail), the unsubscribe and tracking routes and the delivery
worker itself (a relay's refusal at RCPT/DATA) all describe what they learnt as ``Feedback`` and hand it to
``record_feedback``, which appends it to the message's history (``message_events``) in the caller's unit of
work and moves the ledger row when the feedback changes the message's state (a bounce after ``sent``).
Suppression is not decided here: the caller asks ``suppressions`` with the ``MessageRef`` it got back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, NamedTuple

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from clarion.db.uow import UnitOfWork
from clarion.delivery import repository
from clarion.delivery.counters import count_event
from clarion.delivery.schemas import EventRow
from clarion.delivery.webhooks import SUBSCRIPTIONS, event_body, webhook_job

FeedbackKind = Literal["bounced", "complained", "unsubscribed", "opened", "clicked"]


class Feedback(msgspec.Struct, frozen=True, kw_only=True):
    """One thing learnt about a sent message.

    ``data`` by kind — bounced: ``{"type": "hard"|"soft"|"policy", "status": "5.1.1", "diagnostic": …,
    "source": "dsn"|"smtp"}``; complained: ``{"feedbackType": "abuse", "userAgent": …}``; opened:
    ``{"machine": bool, "userAgent": …, "first": bool}``; clicked: ``{"url": …, "userAgent": …}``;
    unsubscribed: ``{"method": "one-click"|"page", "category": "Marketing"}``.
    """

    message_id: str
    kind: FeedbackKind
    at: datetime
    response: str = ""
    data: dict[str, Any] | None = None


class MessageRef(NamedTuple):
    """The ledger row a feedback belongs to: whose it is and where it went."""

    id: str
    org_id: str
    sandbox_id: str
    campaign_id: str
    recipient: str
    channel: str
    status: str
    attempts: int
    execution_id: str = ""
    request_id: str = ""
    user_id: str = ""


async def find_messages(session: AsyncSession, ids: Sequence[str]) -> dict[str, MessageRef]:
    """The messages of these ids that exist (any tenant: tokens and bounce addresses are signed, so an id
    that verified was written by this instance for that message), by id, in one query."""
    return {row.id: MessageRef(*row) for row in await repository.message_refs(session, ids)}


async def record_feedback(
    uow: UnitOfWork, found: dict[str, MessageRef], items: Sequence[Feedback]
) -> list[tuple[MessageRef, Feedback]]:
    """Append each feedback on a found message to its history and apply the state it implies: a bounce
    makes a ``sent`` or ``accepted`` message ``bounced``. Feedback on an unknown message is skipped (the
    ledger row may have been purged). Each recorded item is counted (``clarion_message_events_total``) and,
    where the message's campaign subscribes to ``message.<kind>``, a webhook job is deferred. Returns what
    was recorded, for the caller's suppression. Nothing is committed: the caller's unit of work does it
    (the webhook jobs go out with the commit, never for a rolled-back one)."""
    recorded = [(found[item.message_id], item) for item in items if item.message_id in found]
    if not recorded:
        return []
    await repository.add_events(uow.session, [feedback_event(ref, item) for ref, item in recorded])
    bounced = {ref.id: item.at for ref, item in recorded if item.kind == "bounced"}
    if bounced:
        await repository.mark_bounced(uow.session, bounced)
    for (kind, channel), amount in Counter((item.kind, ref.channel) for ref, item in recorded).items():
        count_event(kind, channel, amount)
    await _defer_webhooks(uow, recorded)
    return recorded


async def _defer_webhooks(uow: UnitOfWork, recorded: Sequence[tuple[MessageRef, Feedback]]) -> None:
    """One ``delivery.webhook`` job per recorded feedback whose campaign subscribes to its kind."""
    subscriptions = await SUBSCRIPTIONS.get(
        uow, ((ref.org_id, ref.sandbox_id, ref.campaign_id) for ref, _ in recorded)
    )
    jobs = []
    for ref, item in recorded:
        settings = subscriptions.get((ref.org_id, ref.sandbox_id, ref.campaign_id))
        event_type = f"message.{item.kind}"
        if settings is None or settings.webhook_url is None or not settings.subscribes(event_type):
            continue
        status = "bounced" if item.kind == "bounced" and ref.status in ("sent", "accepted") else ref.status
        body = event_body(
            event_type=event_type,
            message_id=ref.id,
            execution_id=ref.execution_id,
            campaign_id=ref.campaign_id,
            request_id=ref.request_id,
            user_id=ref.user_id,
            recipient=ref.recipient,
            status=status,
            attempts=ref.attempts,
            response=item.response,
            at=item.at,
            data=item.data,
        )
        jobs.append(webhook_job(settings.webhook_url, body, ref.org_id))
    uow.defer(jobs)


def feedback_event(ref: MessageRef, item: Feedback) -> EventRow:
    """The ``message_events`` row of one feedback."""
    return {
        "message_id": ref.id,
        "org_id": ref.org_id,
        "sandbox_id": ref.sandbox_id,
        "campaign_id": ref.campaign_id,
        "kind": item.kind,
        "attempt": ref.attempts,
        "response": item.response,
        "header_message_id": "",
        "data": item.data,
        "at": item.at,
    }
