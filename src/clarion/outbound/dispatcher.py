"""The throttle runtime: each active throttling configuration's queued calls, sent at its rate, in order.

Every worker process runs a ``Dispatcher``; each has one ``_Lane`` per active configuration. A lane step,
under the configuration's cross-process mutex (``Limiter.exclusive``), takes the next calls from the
overflow queue (oldest first) *and* reserves one slot per call from the shared GCRA limiter. Because both
happen in one critical section, slot times follow queue order across all processes: calls start in the
order they were accepted, whichever process sends them. Each process then fires its calls at their slot
times and takes the next batch only when its last slot is less than ``horizon`` ahead, so no process
hoards calls and a new rate (read every ``RULES_TTL``) governs every slot reserved after it.

A call taken more than ``QUEUED_LIFETIME`` (6 h) after it was accepted is recorded ``expired``, unsent
(``queues.is_expired``).

Crash safety comes from the queue: a taken call stays leased until its final ledger row is written and it
is acknowledged, its lease renewed by the dispatcher's heartbeat (``queue/leases.py``) while it waits for its
slot and while it is on the wire; a process that dies returns its calls to the queue when the (short) lease
lapses, a few seconds later.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Coroutine
from typing import Any, Protocol

import msgspec
import structlog

from clarion.limiter.port import Limiter, RateLimit
from clarion.outbound.ledger import CallLedger, expired_record
from clarion.outbound.queues import is_expired, slot_key, throttle_limit, throttle_queue
from clarion.outbound.rules import RuleBook
from clarion.outbound.schemas import CallJob
from clarion.outbound.sender import CallSender
from clarion.outbound.wakeups import LaneWakeups
from clarion.queue.leases import LeaseKeeper
from clarion.queue.port import Job, JobQueue
from clarion.throttling.service import ThrottleRule

log = structlog.get_logger()

BATCH_SECONDS = 0.02
"""A lane step takes about this many seconds of calls (at 5,000/s: 100 calls)."""
HORIZON = 0.25
"""A process reserves slots at most this far ahead of now."""
PENDING_LIMIT = 1024
"""Calls a lane may hold (waiting for their slot or on the wire) before it takes more."""
LOCK_TTL = 5.0
_IDLE_FIRST, _IDLE_MAX = 0.01, 0.2
_MAX_WAIT = 3600.0

Taken = tuple[Job, CallJob]
"""A call taken from an overflow queue: its job (to acknowledge) and its payload."""


class ThrottleMetrics(Protocol):
    """Where lanes report (``ops.metrics.Metrics``; domains do not import ops)."""

    def record_throttled_call(self, config_uid: str, status: str) -> None:
        """Count one call of a throttling configuration that reached a final status."""

    def record_throttle_wait(self, config_uid: str, seconds: float) -> None:
        """The age of the oldest call just taken from a configuration's overflow queue."""


class Dispatcher:
    """Runs one lane per active throttling configuration until ``stop()``."""

    def __init__(
        self,
        queue: JobQueue,
        limiter: Limiter,
        rules: RuleBook,
        sender: CallSender,
        ledger: CallLedger,
        wakeups: LaneWakeups,
        *,
        refresh_seconds: float = 0.25,
        metrics: ThrottleMetrics | None = None,
        lease_seconds: float = 6.0,
    ) -> None:
        self._queue = queue
        self._limiter = limiter
        self._rules = rules
        self._sender = sender
        self._ledger = ledger
        self._wakeups = wakeups
        self._refresh = refresh_seconds
        self._metrics = metrics
        self._lanes: dict[str, _Lane] = {}
        self._stopping = asyncio.Event()
        self.leases = LeaseKeeper(queue, lease_seconds=lease_seconds)

    async def run(self) -> None:
        """Follow the active rules (start, retune, stop lanes) until ``stop()``; then finish what it took."""
        async with self.leases.running():
            try:
                while not self._stopping.is_set():
                    await self._follow_rules()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), self._refresh)
            finally:
                for uid, lane in self._lanes.items():
                    self._wakeups.stop_listening(uid, lane.wake)
                await asyncio.gather(*(lane.stop() for lane in self._lanes.values()))
                self._lanes.clear()

    def stop(self) -> None:
        """Stop taking calls; ``run`` returns once the calls already taken are sent and recorded."""
        self._stopping.set()

    async def _follow_rules(self) -> None:
        try:
            active = {rule.config_uid: rule for rule in await self._rules.active()}
        except Exception:  # a database hiccup must not stop the lanes already running
            log.exception("throttle.rules_unavailable")
            return
        for uid, rule in active.items():
            lane = self._lanes.get(uid)
            if lane is None:
                lane = self._lanes[uid] = self._lane(rule)
                # A call queued for this configuration in this process wakes the lane at once.
                self._wakeups.listen(uid, lane.wake)
            else:
                lane.rule = rule
        for uid in [uid for uid in self._lanes if uid not in active]:
            lane = self._lanes.pop(uid)
            self._wakeups.stop_listening(uid, lane.wake)
            await lane.stop()

    def _lane(self, rule: ThrottleRule) -> _Lane:
        return _Lane(
            rule,
            queue=self._queue,
            limiter=self._limiter,
            sender=self._sender,
            ledger=self._ledger,
            metrics=self._metrics,
            leases=self.leases,
        )


class _Lane:
    """Takes, paces and fires the calls of one throttling configuration."""

    def __init__(
        self,
        rule: ThrottleRule,
        *,
        queue: JobQueue,
        limiter: Limiter,
        sender: CallSender,
        ledger: CallLedger,
        metrics: ThrottleMetrics | None,
        leases: LeaseKeeper,
    ) -> None:
        self.rule = rule
        self._queue = queue
        self._limiter = limiter
        self._sender = sender
        self._ledger = ledger
        self._metrics = metrics
        self._leases = leases
        self._queue_name = throttle_queue(rule.config_uid)
        self._slot_key = slot_key(rule.config_uid)
        self._stopping = asyncio.Event()
        self._woken = asyncio.Event()
        self._sends: set[asyncio.Task[None]] = set()
        self._caught_up = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=f"throttle-{rule.config_uid}")

    def wake(self) -> None:
        """Look for calls now."""
        self._woken.set()

    async def stop(self) -> None:
        """Stop taking calls and wait for the ones taken."""
        self._stopping.set()
        self._woken.set()
        await self._task
        while self._sends:
            await asyncio.gather(*self._sends, return_exceptions=True)

    def limit(self) -> RateLimit:
        """The configured rate, strictly spaced (shared with the throttling transport)."""
        return throttle_limit(self.rule)

    async def _run(self) -> None:
        idle = _IDLE_FIRST
        while not self._stopping.is_set():
            await self._backlog_below(PENDING_LIMIT)
            try:
                taken = await self._take()
            except Exception:
                log.exception("throttle.take_failed", config=self.rule.config_uid)
                taken = None
            if not taken:
                await self._idle(idle)
                idle = min(idle * 2, _IDLE_MAX)
                continue
            idle = _IDLE_FIRST
            first_slot, interval, calls = taken
            for index, (job, call) in enumerate(calls):
                self._spawn(self._send(job, call, at=first_slot + index * interval))
            last_slot = first_slot + len(calls) * interval
            await self._sleep_until(last_slot - HORIZON)

    async def _take(self) -> tuple[float, float, list[Taken]] | None:
        """Under the configuration's mutex: the next calls in queue order and one slot each.

        Returns (first slot on the loop clock, slot interval, live calls); None when the queue is empty.
        """
        limit = self.limit()
        batch = max(1, math.ceil(limit.rate * BATCH_SECONDS))
        async with self._limiter.exclusive(self._slot_key, ttl=LOCK_TTL):
            jobs = await self._queue.reserve(
                self._queue_name, limit=batch, lease_seconds=self._leases.lease_seconds
            )
            calls = [(job, msgspec.convert(job.payload, CallJob)) for job in jobs]
            now = time.time()
            live: list[Taken] = []
            expired: list[Taken] = []
            for taken in calls:
                (expired if is_expired(taken[1].accepted_at, now) else live).append(taken)
            if calls and self._metrics is not None:
                oldest = now - calls[0][1].accepted_at
                self._metrics.record_throttle_wait(self.rule.config_uid, oldest)
            decision = None
            if live:
                decision = await self._limiter.reserve(
                    self._slot_key, limit, cost=len(live), max_wait=_MAX_WAIT
                )
        for job, call in expired:
            self._spawn(self._expire(job, call))
        if not jobs:
            return None
        now_on_loop = asyncio.get_running_loop().time()
        if decision is None:  # every call taken had expired: look for more at once
            return now_on_loop, 0.0, []
        return now_on_loop + decision.wait, 1.0 / limit.rate, live

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._sends.add(task)
        task.add_done_callback(self._settled)

    def _settled(self, task: asyncio.Task[None]) -> None:
        self._sends.discard(task)
        if len(self._sends) < PENDING_LIMIT:
            self._caught_up.set()

    async def _backlog_below(self, limit: int) -> None:
        """Backpressure: a process whose sends fall behind their slots takes no more calls until they
        drain, so its calls are not late and the other processes take the slots it cannot use."""
        while len(self._sends) >= limit:
            self._caught_up.clear()
            await self._caught_up.wait()

    async def _send(self, job: Job, call: CallJob, *, at: float) -> None:
        # Spawned in the same step as the reserve: from here until its ack the heartbeat renews the lease.
        self._leases.hold([job])
        try:
            delay = at - asyncio.get_running_loop().time()
            if delay > 0:
                await asyncio.sleep(delay)
            record = await self._sender.send(call, self._retry_slot)
            self._leases.settling([job])  # the ledger acks the job once the record is written
            await self._ledger.record(record, job)
        except Exception:  # the lease lapses and another try follows; the ledger keeps it single
            log.exception("throttle.send_failed", config=self.rule.config_uid, call=job.id)
            return
        finally:
            self._leases.release([job])
        self._count(record.status)

    async def _expire(self, job: Job, call: CallJob) -> None:
        self._leases.hold([job])
        self._leases.settling([job])
        try:
            await self._ledger.record(expired_record(call), job)
        finally:
            self._leases.release([job])
        self._count("expired")

    def _count(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.record_throttled_call(self.rule.config_uid, outcome)

    async def _retry_slot(self, left: float) -> bool:
        """Each retry takes a slot too (contract §3.7); False when it would come after the deadline."""
        decision = await self._limiter.reserve(self._slot_key, self.limit(), max_wait=left)
        if not decision.allowed:
            return False
        await asyncio.sleep(decision.wait)
        return True

    async def _idle(self, seconds: float) -> None:
        self._woken.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), seconds)

    async def _sleep_until(self, when: float) -> None:
        delay = when - asyncio.get_running_loop().time()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
