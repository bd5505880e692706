"""The intake of one process: campaign snapshot cache, per-organization caps, and group commit to the queue.

Nothing here reads the database per request on the high-throughput path: campaigns come from a short-lived
cache (a stopped campaign keeps accepting for at most ``snapshot_ttl`` seconds plus one reload), the caps
from the limiter, and accepted requests reach the queue in batches: whatever arrived while the previous
batch was being written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from clarion.campaigns import service as campaigns
from clarion.campaigns.schemas import CampaignSnapshot
from clarion.db.uow import UnitOfWork
from clarion.executions import errors
from clarion.executions.service import Mode
from clarion.kit.batcher import GroupCommitter
from clarion.kit.cache import RefreshingCache
from clarion.limiter.port import Limiter, RateLimit, default_burst
from clarion.queue.port import JobQueue, JobSpec
from clarion.tenancy.principal import Principal


class Intake:
    """Accepts execution jobs durably and cheaply; one per process."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        queue: JobQueue,
        limiter: Limiter,
        *,
        snapshot_ttl: float = 1.0,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._queue = queue
        self._limiter = limiter
        self._snapshot_ttl = snapshot_ttl
        self._snapshots: RefreshingCache[tuple[str, str, str], CampaignSnapshot | None] = RefreshingCache()
        self._committer: GroupCommitter[JobSpec, str] = GroupCommitter(self._write, max_delay=0)

    async def snapshot(self, principal: Principal, campaign_id: str) -> CampaignSnapshot | None:
        """The campaign as of at most ``snapshot_ttl`` seconds ago (None: it does not exist)."""
        key = (principal.org_id, principal.sandbox_id, campaign_id)

        async def load() -> tuple[CampaignSnapshot | None, float]:
            async with self._unit_of_work() as uow:
                return await campaigns.snapshot(uow, principal, campaign_id), self._snapshot_ttl

        return await self._snapshots.get(key, load)

    async def check_rate(self, principal: Principal, mode: Mode) -> None:
        """429 when the organization is over its requests-per-second cap for the mode."""
        rate = (
            principal.high_throughput_rate_per_second
            if mode.high_throughput
            else principal.standard_rate_per_second
        )
        limit = RateLimit(rate=rate, burst=default_burst(rate))
        decision = await self._limiter.check(f"cap:{principal.org_id}:{mode.name}", limit)
        if not decision.allowed:
            raise errors.over_rate(rate, mode.name, decision.wait)

    async def accept(self, job: JobSpec) -> None:
        """Return once the job is durable (it shares one queue write with its neighbours in time)."""
        await self._committer.submit(job)

    async def _write(self, jobs: Sequence[JobSpec]) -> list[str]:
        return await self._queue.enqueue(jobs)

    async def drain(self) -> None:
        """Wait for pending writes (shutdown)."""
        await self._committer.drain()

    def forget(self) -> None:
        """Drop cached snapshots (tests; a campaign just changed)."""
        self._snapshots.forget()
