"""The durable job queue port. Two implementations pass the same contract tests: SQLite and Redis Streams.

Semantics every backend keeps:
- ``enqueue`` returns only when the jobs are durable (committed / written to the broker).
- ``reserve`` leases jobs to the caller for ``lease_seconds``; a job whose lease expires without ``ack``
  (crashed worker) becomes reservable again and counts one more attempt.
- ``extend`` renews the leases of jobs the caller still holds (same delivery): a running worker heartbeats
  with it (``queue/leases.py``), so a short lease hands a dead worker's jobs over in seconds without taking
  a slow, live handler's job away. A job reserved again elsewhere, acked or retried is not renewed.
- ``retry`` puts a job back with exponential backoff, or dead-letters it once ``max_attempts`` is reached.
- Jobs carry ids; handlers are idempotent (see ``models.jobs.claim``), so a redelivery changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

Payload = dict[str, Any] | msgspec.Struct
"""What a job carries: a msgspec Struct (a domain's contract) or a plain JSON object."""


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A job to enqueue. ``task`` is named ``domain.verb``; ``payload`` carries ids, not data.

    A domain's payload is its typed contract (a msgspec Struct in the domain's ``schemas.py``), encoded as
    JSON; the handler reads it back with ``msgspec.convert(job.payload, TheStruct)``.
    """

    task: str
    payload: Payload = field(default_factory=dict)
    queue: str = "default"
    delay: float = 0.0
    """Seconds before the job becomes reservable (delayed jobs)."""
    job_id: str | None = None
    """A caller-chosen id makes the job traceable and lets the handler's ledger de-duplicate it."""
    max_attempts: int | None = None
    """Overrides the queue's default number of attempts before dead-lettering."""
    unique_for: float = 0.0
    """With a ``job_id``: for this many seconds, even after the job has finished, enqueueing the same id
    again stores nothing (atomically with the first enqueue). Idempotent intake relies on it."""


@dataclass(frozen=True, slots=True)
class Job:
    """A reserved job. ``attempts`` counts this delivery (1 on the first)."""

    id: str
    task: str
    payload: dict[str, Any]
    queue: str
    attempts: int
    max_attempts: int
    receipt: str
    """Backend handle used by ``ack``/``retry`` (row id, stream entry id)."""


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Counts per queue name, for metrics and health."""

    ready: dict[str, int]
    delayed: dict[str, int]
    leased: dict[str, int]
    dead: dict[str, int]


@dataclass(frozen=True, slots=True)
class Backlog:
    """One queue's jobs now, counted cheaply (no scan of other queues): what a live view polls."""

    ready: int
    """Due and not leased: waiting to be reserved."""
    leased: int
    delayed: int
    next_payload: dict[str, Any] | None
    """The payload of the job the next ``reserve`` takes (the longest waiting), None when none is due."""


def backoff_seconds(attempts: int, *, base: float, cap: float) -> float:
    """Exponential backoff after ``attempts`` failed deliveries: base, 2·base, 4·base … capped."""
    return float(min(cap, base * (2 ** max(0, attempts - 1))))


class JobQueue(Protocol):
    """Durable queue of jobs; see the module docstring for the guarantees."""

    async def enqueue(self, jobs: Sequence[JobSpec]) -> list[str]:
        """Store jobs durably (one batch); return their ids in order."""
        ...

    async def enqueue_new(self, jobs: Sequence[JobSpec]) -> tuple[list[str], list[bool]]:
        """Store jobs as ``enqueue`` does; their ids, and for each whether it was stored: False for a job
        whose ``unique_for`` id was already taken (a replay that changes nothing, which callers must not
        count)."""
        ...

    async def reserve(self, queue: str, *, limit: int, lease_seconds: float) -> list[Job]:
        """Lease up to ``limit`` ready jobs of ``queue`` (oldest first); empty list when none are ready."""
        ...

    async def extend(self, jobs: Sequence[Job], *, lease_seconds: float) -> list[Job]:
        """Renew for ``lease_seconds`` the leases still held by these deliveries; return those renewed.

        A job missing from the answer was taken over (its lease lapsed and another caller reserved it),
        acked or requeued: the caller stops renewing it; its ``ack``/``retry`` stay harmless.
        """
        ...

    async def ack(self, jobs: Sequence[Job]) -> None:
        """Mark jobs done and remove them."""
        ...

    async def retry(self, job: Job, *, error: str, delay: float | None = None) -> bool:
        """Return a failed job for a later attempt; False when it was dead-lettered instead."""
        ...

    async def stats(self) -> QueueStats:
        """Counts per queue; raises when the backend is unreachable (health checks rely on it)."""
        ...

    async def backlog(self, queue: str) -> Backlog:
        """The counts of one queue and its next due job, read without scanning other queues."""
        ...

    async def persistence_warnings(self) -> list[str]:
        """What would make an acknowledged job not survive a restart of the backend (empty: nothing)."""
        ...

    async def ping(self) -> None:
        """Raise unless the backend would take a write now (cheap: no scan)."""
        ...

    async def close(self) -> None:
        """Flush pending writes and release connections."""
        ...
