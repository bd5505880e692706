"""The lease heartbeat: while a process runs jobs, their leases are renewed every ``lease_seconds / 3``.

Leases are short (``CLARION_QUEUE_LEASE_SECONDS``, 6 s by default) so that the jobs of a worker killed
mid-batch are reserved again by another worker within seconds; the heartbeat keeps a slow but live handler's
lease from lapsing. One ``LeaseKeeper`` renews every job a process holds in ONE ``extend`` call per beat
(nothing at all while it holds none), so the cost is one queue operation per beat per process.

A renewal that comes back without a job means its lease was taken over (the process stalled for longer than
the lease, or the queue was unreachable): the keeper stops renewing it and the handler runs on; its ack or
retry changes nothing (``JobQueue.extend``), and the job ledger keeps the effect single.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable

import structlog

from clarion.queue.port import Job, JobQueue

log = structlog.get_logger()

BEATS_PER_LEASE = 3
"""Renewals per lease: two beats can be missed (a stalled loop, a slow queue) before a lease lapses."""


def _key(job: Job) -> tuple[str, str]:
    """A delivery's identity: its queue and receipt (a job's next delivery has another receipt)."""
    return job.queue, job.receipt


class LeaseKeeper:
    """Renews the leases of the jobs a process holds until they are released, until ``stop()``."""

    def __init__(self, queue: JobQueue, *, lease_seconds: float, interval: float | None = None) -> None:
        self._queue = queue
        self.lease_seconds = lease_seconds
        self.interval = interval if interval is not None else lease_seconds / BEATS_PER_LEASE
        self._held: dict[tuple[str, str], Job] = {}
        self._settling: set[tuple[str, str]] = set()
        self._stopping = asyncio.Event()
        self.renewals = 0
        """``extend`` calls made (for tests and metrics)."""
        self.lost = 0
        """Jobs whose lease was found taken over."""

    def hold(self, jobs: Iterable[Job]) -> None:
        """Renew these jobs' leases from now on (call right after ``reserve``)."""
        for job in jobs:
            self._held[_key(job)] = job

    def settling(self, jobs: Iterable[Job]) -> None:
        """These jobs are being acked: keep renewing them, but a renewal refused meanwhile is the ack
        landing first, not a takeover (nothing to report)."""
        self._settling.update(_key(job) for job in jobs if _key(job) in self._held)

    def release(self, jobs: Iterable[Job]) -> None:
        """Stop renewing these jobs (acked, retried, or left to lapse after a failed ack)."""
        for job in jobs:
            self._held.pop(_key(job), None)
            self._settling.discard(_key(job))

    def holds(self, job: Job) -> bool:
        """Whether this delivery's lease is still being renewed."""
        return _key(job) in self._held

    def stop(self) -> None:
        """End ``run`` at its next wake-up (at once if it is waiting)."""
        self._stopping.set()

    async def run(self) -> None:
        """Renew every ``interval`` until ``stop()`` (or cancellation)."""
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.interval)
            if not self._stopping.is_set():
                await self.renew()

    async def renew(self) -> None:
        """One beat: extend every held lease in one call; forget those taken over."""
        jobs = list(self._held.values())
        if not jobs:
            return
        self.renewals += 1
        try:
            renewed = await self._queue.extend(jobs, lease_seconds=self.lease_seconds)
        except Exception:
            # The next beat tries again; the lease lasts two more beats.
            log.warning("queue.lease_renewal_failed", jobs=len(jobs), exc_info=True)
            return
        kept = {_key(job) for job in renewed}
        for job in jobs:
            key = _key(job)
            if key in kept or self._held.pop(key, None) is None or key in self._settling:
                continue
            self.lost += 1
            log.warning("queue.lease_lost", task=job.task, job_id=job.id, attempts=job.attempts)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[LeaseKeeper]:
        """Run the heartbeat for the duration of the block; it stops with the block, even on cancellation."""
        self._stopping.clear()
        beat = asyncio.create_task(self.run(), name="clarion-lease-heartbeat")
        try:
            yield self
        finally:
            self.stop()
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            self._held.clear()
            self._settling.clear()
