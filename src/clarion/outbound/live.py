"""The live throttling view (``GET /v1/throttling/live``): per configuration in force, its rate now against
its maximum and its overflow queue, cheap enough to be polled every second.

Nothing here scans: the queue counts one overflow queue along its index (``JobQueue.backlog``), and the rate
is the ledger's calls finished in the last ``WINDOW_SECONDS``, one range of a partial index (migration
0013). Both are shared by every process, so the view is the same whichever process answers.
"""

from __future__ import annotations

from datetime import timedelta

import msgspec

from clarion.db.uow import UnitOfWork
from clarion.kit.clock import utcnow
from clarion.outbound.queues import throttle_queue
from clarion.outbound.repository import ThrottledCallRepository
from clarion.outbound.schemas import CallJob, ThrottleLane, ThrottlingLive
from clarion.queue.port import JobQueue
from clarion.tenancy.principal import Principal
from clarion.throttling.service import ThrottleRule, throttle_rules

WINDOW_SECONDS = 5.0
"""The rate is averaged over this many seconds: short enough to follow a change, long enough to be steady."""


async def throttling_live(uow: UnitOfWork, queue: JobQueue, principal: Principal) -> ThrottlingLive:
    """The organization's throttling configurations in force (deployed, or draining), measured now."""
    now = utcnow()
    since = now - timedelta(seconds=WINDOW_SECONDS)
    calls = ThrottledCallRepository(uow.session, principal.org_id)
    lanes = []
    for rule in await throttle_rules(uow, principal.org_id):
        finished = await calls.finished_since(rule.config_uid, since)
        lanes.append(await _lane(queue, rule, finished, now.timestamp()))
    return ThrottlingLive(measured_at=now, window_seconds=WINDOW_SECONDS, lanes=lanes)


async def _lane(queue: JobQueue, rule: ThrottleRule, finished: int, now: float) -> ThrottleLane:
    backlog = await queue.backlog(throttle_queue(rule.config_uid))
    oldest = None
    if backlog.next_payload is not None:
        accepted_at = msgspec.convert(backlog.next_payload, CallJob).accepted_at
        oldest = round(max(0.0, now - accepted_at), 3)
    return ThrottleLane(
        config_uid=rule.config_uid,
        name=rule.name,
        deployed=rule.draining_until is None,
        draining_until=rule.draining_until,
        max_throughput=rule.max_throughput,
        rate=round(finished / WINDOW_SECONDS, 1),
        queued=backlog.ready,
        in_flight=backlog.leased,
        delayed=backlog.delayed,
        oldest_queued_seconds=oldest,
    )
