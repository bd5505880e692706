"""A campaign's statistics: its messages by status, and what happened to them after sending.

Counted per message, all time, in four grouped reads and never one per message: the ledger by status
(index only; plus, when there are bounces, how many bounced messages the relay had taken: ``sent_at``
survives a later bounce), the feedback events by kind with
``ix_message_events_campaign_kind`` (distinct messages: a message opened five times is one unique open), and
the same two per hour for the chart. Rates follow the usual definitions (Postmark, SES): bounces over the
messages the relay answered, everything else over the messages delivered.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from clarion.campaigns import service as campaigns
from clarion.db.uow import UnitOfWork
from clarion.delivery import repository
from clarion.delivery.schemas import BounceCounts, CampaignRates, CampaignStats, HourlyCounts, OpenCounts
from clarion.kit.clock import utcnow
from clarion.tenancy.principal import Principal

HOUR = 3600


async def campaign_stats(
    uow: UnitOfWork, principal: Principal, campaign_id: str, *, hours: int
) -> CampaignStats:
    """A campaign's counts and rates, and per hour (messages by the hour they were accepted, feedback by the
    hour it came) over the last ``hours``."""
    campaign = await campaigns.get(uow, principal, campaign_id)
    now = utcnow()
    since = datetime.fromtimestamp((int(now.timestamp()) // HOUR - hours + 1) * HOUR, UTC)
    scope = (uow.session, principal.org_id, principal.sandbox_id, campaign.id)
    counts = await repository.campaign_counts(*scope)
    bounced_later = await repository.campaign_bounced_after_sending(*scope) if counts.get("bounced") else 0
    events = await repository.campaign_event_counts(*scope)
    hourly = await _hourly(uow, scope, since, hours)
    # Only ``sent`` and ``bounced`` messages were ever taken by the relay (failed, expired and suppressed
    # ones never were; a resent one is ``accepted`` again with no ``sent_at``).
    sent = counts.get("sent", 0) + bounced_later
    bounced_at_relay = counts.get("bounced", 0) - bounced_later
    delivered = counts.get("sent", 0)
    bounced = _bounces(events, counts.get("bounced", 0))
    unique = dict.fromkeys(("complained", "unsubscribed", "clicked"), 0)
    opened = OpenCounts()
    for kind, _, machine, count in events:
        if kind == "opened":
            if machine:
                opened.machine += count
            else:
                opened.unique += count
        elif kind in unique:
            unique[kind] += count
    return CampaignStats(
        campaign_id=campaign.id,
        total=sum(counts.values()),
        counts=counts,
        since=since,
        hourly=hourly,
        sent=sent,
        delivered=delivered,
        bounced=bounced,
        complained=unique["complained"],
        unsubscribed=unique["unsubscribed"],
        suppressed=counts.get("suppressed", 0),
        opened=opened,
        clicked=unique["clicked"],
        rates=CampaignRates(
            bounce=_ratio(bounced.total, sent + bounced_at_relay),
            complaint=_ratio(unique["complained"], delivered),
            open=_ratio(opened.unique, delivered),
            click=_ratio(unique["clicked"], delivered),
            unsubscribe=_ratio(unique["unsubscribed"], delivered),
        ),
    )


def _bounces(events: list[tuple[str, str, bool, int]], bounced_messages: int) -> BounceCounts:
    """Bounced messages by type; the total is the ledger's (a message bounced twice, soft then hard, counts
    once there and under each type it had)."""
    counts = BounceCounts(total=bounced_messages)
    for kind, bounce_type, _, count in events:
        if kind == "bounced" and bounce_type in ("hard", "soft"):
            setattr(counts, bounce_type, getattr(counts, bounce_type) + count)
    return counts


async def _hourly(
    uow: UnitOfWork, scope: tuple[object, str, str, str], since: datetime, hours: int
) -> list[HourlyCounts]:
    _, org_id, sandbox_id, campaign_id = scope
    statuses: dict[int, dict[str, int]] = {}
    for hour, status, count in await repository.campaign_hourly(
        uow.session, org_id, sandbox_id, campaign_id, since
    ):
        statuses.setdefault(hour, {})[status] = count
    kinds: dict[int, dict[str, int]] = {}
    for hour, kind, count in await repository.campaign_event_hourly(
        uow.session, org_id, sandbox_id, campaign_id, since
    ):
        kinds.setdefault(hour, {})[kind] = count
    first = int(since.timestamp()) // HOUR
    return [
        HourlyCounts(
            start=since + timedelta(hours=offset),
            counts=statuses.get(first + offset, {}),
            events=kinds.get(first + offset, {}),
        )
        for offset in range(hours)
    ]


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0
