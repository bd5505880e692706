"""Names shared by the intake, the worker and the dispatcher, the call ledger writer, and direct calls.

A call accepted by the events API is a queue job (task ``outbound.call``) whose queue says how it leaves:
- ``outbound``: no throttling configuration matches — any worker sends it at once (capping still applies);
- ``throttle.<config uid>``: its organization's throttling configuration matches — the ``Dispatcher``
  sends it at the configured rate, in arrival order. This queue *is* the durable overflow queue.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from clarion.db.uow import UnitOfWork
from clarion.kit.batcher import GroupCommitter
from clarion.limiter.port import RateLimit
from clarion.outbound import repository as calls_repository
from clarion.outbound.sender import CallSender, ledger_row
from clarion.queue.port import Job, JobQueue
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


def is_expired(payload: dict[str, Any], now: float | None = None) -> bool:
    """True when the call waited longer than ``QUEUED_LIFETIME``."""
    return (now or time.time()) - float(payload["acceptedAt"]) > QUEUED_LIFETIME


LEDGER_BATCH = 128
"""Rows per ledger write. Small on purpose: building a write blocks the event loop for its whole length
(~0.1 ms a row), and a throttle lane's sends must leave on their slot, not after a long write."""


class CallLedger:
    """Writes final call rows in group commits and then acknowledges their jobs (at most once each)."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork], queue: JobQueue) -> None:
        self._unit_of_work = unit_of_work
        self._queue = queue
        self._committer: GroupCommitter[tuple[dict[str, Any], Job | None], None] = GroupCommitter(
            self._write, max_batch=LEDGER_BATCH, max_delay=0.002
        )

    async def record(self, row: dict[str, Any], job: Job | None = None) -> None:
        """Store ``row``; then ack ``job`` (the dispatcher's jobs; the worker acks its own)."""
        await self._committer.submit((row, job))

    async def _write(self, items: Sequence[tuple[dict[str, Any], Job | None]]) -> list[None]:
        async with self._unit_of_work() as uow:
            await calls_repository.upsert_calls(uow.session, [row for row, _ in items])
            await uow.commit()
        jobs = [job for _, job in items if job is not None]
        if jobs:
            # Ledger first: a crash between the two re-sends nothing (the row is final, see ``Calls``).
            await self._queue.ack(jobs)
        return [None] * len(items)

    async def drain(self) -> None:
        """Write what is pending (shutdown)."""
        await self._committer.drain()


class Calls:
    """The ``outbound.call`` task: sends an unthrottled call, or expires it."""

    def __init__(self, sender: CallSender, ledger: CallLedger) -> None:
        self._sender = sender
        self._ledger = ledger

    async def handle(self, job: Job) -> None:
        """Send the call of ``job`` (the worker acks it after the ledger row is stored)."""
        row = await self.send(job.payload)
        await self._ledger.record(row)

    async def send(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Expire or send; the final ledger row."""
        if is_expired(payload):
            return expired_row(payload)
        return await self._sender.send(payload)


def expired_row(payload: dict[str, Any]) -> dict[str, Any]:
    """The ledger row of a call that waited too long."""
    return ledger_row(payload, "expired", response="queued for more than 6 hours")
