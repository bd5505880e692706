"""Opens and clicks, recorded in batches: a pixel or a redirect answers at once, the events follow.

``TrackingRecorder.hit`` is called by the tracking routes for every verified token. It only appends to a
bounded in-memory buffer (no I/O, no coroutine per request); a single background task writes what gathered
every ``flush_seconds``, up to ``max_batch`` hits a transaction: one query for the messages
(``delivery.feedback.find_messages``), one for when they were sent and one for the first opens already
recorded (``repository``), then ``record_feedback``'s insert, then one commit. At 5,000 hits a second that
is a handful of small transactions a second, not thousands.

Neither a pixel nor a redirect waits for durability: a crash loses at most the hits of the last
``flush_seconds`` (plus the batch being written). The buffer never grows past ``max_pending``: past it
hits are dropped and counted (``dropped``), as are the hits of a batch whose write failed (``failed``: the
database is down; the log says so once per batch). ``close`` (the app's shutdown) writes what is left.

Each open is marked ``first`` when it is the first of its kind for the message (a person's or a
machine's, ``feedback/machine.py``): unique opens are the ``first`` ones, apart for people and machines.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

import structlog

from clarion.db.uow import UnitOfWork
from clarion.delivery.feedback import Feedback, find_messages, record_feedback
from clarion.feedback import repository
from clarion.feedback.machine import BURST_SECONDS, ClickBursts, machine_click, machine_open

log = structlog.get_logger()

FLUSH_SECONDS = 0.05
MAX_BATCH = 2_000
MAX_PENDING = 100_000
"""Hits held in memory at most (about 200 bytes each: ~20 MB), some 20 s of the target rate."""
_USER_AGENT_CHARS = 512


class Hit(NamedTuple):
    """One verified open or click, as the route saw it."""

    kind: Literal["opened", "clicked"]
    message_id: str
    at: float
    """``time.time()`` of the request."""
    user_agent: str
    client: str
    """The client's IP address ("" when unknown)."""
    url: str = ""


class TrackingRecorder:
    """Buffers hits and writes them as ``opened``/``clicked`` events in batches."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        *,
        flush_seconds: float = FLUSH_SECONDS,
        max_batch: int = MAX_BATCH,
        max_pending: int = MAX_PENDING,
        burst_seconds: float = BURST_SECONDS,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._flush_seconds = flush_seconds
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._pending: list[Hit] = []
        self._writer: asyncio.Task[None] | None = None
        self._now = asyncio.Event()
        """Set to write without waiting for the batch to gather (flush, close)."""
        self._bursts = ClickBursts(burst_seconds)
        self.recorded = 0
        """Events written since the start."""
        self.dropped = 0
        """Hits refused because the buffer was full."""
        self.failed = 0
        """Hits lost with a batch whose write failed."""

    @property
    def pending(self) -> int:
        """Hits waiting to be written."""
        return len(self._pending)

    def hit(self, hit: Hit) -> None:
        """Take one hit (no I/O); it is written with the next batch."""
        if len(self._pending) >= self._max_pending:
            self.dropped += 1
            return
        self._pending.append(hit)
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write_soon())

    async def flush(self) -> None:
        """Write everything taken so far (tests, shutdown)."""
        writer = self._writer
        if writer is not None:
            self._now.set()
            await asyncio.shield(writer)
        while self._pending:
            await self._write_pending()

    async def close(self) -> None:
        """Write what is left (the app's shutdown)."""
        await self.flush()

    async def _write_soon(self) -> None:
        try:
            while self._pending:
                with contextlib.suppress(TimeoutError):  # let a batch gather, unless asked to write now
                    await asyncio.wait_for(self._now.wait(), self._flush_seconds)
                await self._write_pending()
        finally:
            self._now.clear()
            self._writer = None

    async def _write_pending(self) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            try:
                self.recorded += await self.write(batch)
            except Exception as error:  # an outage: these hits are lost, the next batch tries again
                self.failed += len(batch)
                log.warning("feedback.tracking_write_failed", hits=len(batch), error=repr(error))

    async def write(self, batch: Sequence[Hit]) -> int:
        """Record one batch in one transaction; returns how many events were written."""
        async with self._unit_of_work() as uow:
            found = await find_messages(uow.session, list({hit.message_id for hit in batch}))
            if not found:
                return 0
            orgs = {message_id: ref.org_id for message_id, ref in found.items()}
            sent = await repository.sent_times(uow.session, orgs)
            opened = {hit.message_id for hit in batch if hit.kind == "opened"}
            firsts = await repository.first_opens(
                uow.session, {message_id: org for message_id, org in orgs.items() if message_id in opened}
            )
            items = [
                self._feedback(hit, sent.get(hit.message_id), firsts)
                for hit in batch
                if hit.message_id in found
            ]
            recorded = await record_feedback(uow, found, items)
            await uow.commit()
        return len(recorded)

    def _feedback(self, hit: Hit, sent_at: datetime | None, firsts: set[tuple[str, bool]]) -> Feedback:
        """The event of one hit, with the machine heuristics applied (``firsts`` learns this open)."""
        since = None if sent_at is None else hit.at - sent_at.timestamp()
        user_agent = hit.user_agent[:_USER_AGENT_CHARS]
        data: dict[str, Any]
        if hit.kind == "opened":
            reason = machine_open(user_agent, hit.client, since)
            key = (hit.message_id, bool(reason))
            data = {"first": key not in firsts, "machine": bool(reason), "userAgent": user_agent}
            firsts.add(key)
        else:
            reason = machine_click(user_agent, since)
            if self._bursts.burst(hit.message_id, hit.url, hit.at) and not reason:
                reason = "burst"
            data = {"url": hit.url, "machine": bool(reason), "userAgent": user_agent}
        if reason:
            data["machineReason"] = reason
        return Feedback(
            message_id=hit.message_id, kind=hit.kind, at=datetime.fromtimestamp(hit.at, UTC), data=data
        )
