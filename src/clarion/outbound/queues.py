"""Where a call waits and for how long: the ``outbound.call`` task's queues, a configuration's slots, expiry.

A call accepted by the events API (or queued for a campaign's message) is a queue job (task
``outbound.call``) whose queue says how it leaves:
- ``outbound``: no throttling configuration matches — any worker sends it at once (capping still applies);
- ``throttle.<config uid>``: its organization's throttling configuration matches — the ``Dispatcher``
  sends it at the configured rate, in arrival order. This queue *is* the durable overflow queue.

A call still queued ``QUEUED_LIFETIME`` (6 h) after it was accepted expires unsent (``is_expired``): the
dispatcher checks the throttled calls it takes, the ``outbound.call`` task (``tasks.py``) the direct ones.
"""

from __future__ import annotations

import time

from clarion.limiter.port import RateLimit
from clarion.throttling.service import ThrottleRule

CALL_TASK = "outbound.call"
DIRECT_QUEUE = "outbound"
THROTTLE_QUEUE_PREFIX = "throttle."
QUEUED_LIFETIME = 6 * 3600.0
"""Calls still queued this long after acceptance expire (contract §3.6: "queued for up to 6 hours")."""


def throttle_queue(config_uid: str) -> str:
    """The overflow queue of a throttling configuration."""
    return THROTTLE_QUEUE_PREFIX + config_uid


def slot_key(config_uid: str) -> str:
    """The limiter key whose slots pace a throttling configuration (shared by every process)."""
    return f"throttle:{config_uid}"


def throttle_limit(rule: ThrottleRule) -> RateLimit:
    """The rate of ``rule``'s slots (key ``slot_key``), strictly spaced: what every paced call reserves.

    Burst 1: every reservation starts right behind the previous one. A tolerance would let each batch
    start ``(burst - 1)`` slots early — one overlap per batch, i.e. a rate too high by
    ``(burst - 1) / batch`` — and callers that sleep until their slot need none.
    """
    return RateLimit(rate=float(rule.max_throughput), burst=1)


def is_expired(accepted_at: float, now: float | None = None) -> bool:
    """True when a call accepted at ``accepted_at`` (Unix time) waited longer than ``QUEUED_LIFETIME``."""
    return (now or time.time()) - accepted_at > QUEUED_LIFETIME
