"""Writing the call ledger (``action_calls``): a call's row in each status, ``queued`` rows, and the
``CallLedger`` that group-commits final rows and then acknowledges their jobs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from clarion.db.uow import UnitOfWork
from clarion.kit.batcher import GroupCommitter
from clarion.kit.clock import utcnow
from clarion.outbound import repository
from clarion.queue.port import Job, JobQueue

RESPONSE_LIMIT = 500
"""How much of an answer (or an error) the ledger keeps."""
LEDGER_BATCH = 128
"""Rows per ledger write. Small on purpose: building a write blocks the event loop for its whole length
(~0.1 ms a row), and a throttle lane's sends must leave on their slot, not after a long write."""


def clip_response(text: str) -> str:
    """What the ledger keeps of an answer or an error: its first ``RESPONSE_LIMIT`` characters."""
    return text[:RESPONSE_LIMIT]


def ledger_row(
    payload: dict[str, Any],
    status: str,
    attempts: int = 0,
    response_status: int | None = None,
    response: str | None = None,
    latency_ms: float | None = None,
) -> dict[str, Any]:
    """The ``action_calls`` row of a call in ``status``."""
    now = utcnow()
    return {
        "id": payload["call"],
        "org_id": payload["org"],
        "sandbox_id": payload["sandbox"],
        "action_id": payload["action"],
        "action_name": payload["actionName"],
        "status": status,
        "attempts": attempts,
        "response_status": response_status,
        "response": response or "",
        "latency_ms": latency_ms,
        "throttle_config_uid": payload.get("throttle"),
        "accepted_at": datetime.fromtimestamp(payload["acceptedAt"], UTC),
        "updated_at": now,
        "sent_at": now if status == "sent" else None,
        "request_id": payload.get("requestId"),
    }


def expired_row(payload: dict[str, Any]) -> dict[str, Any]:
    """The ledger row of a call that waited too long."""
    return ledger_row(payload, "expired", response="queued for more than 6 hours")


async def record_queued(unit_of_work: Callable[[], UnitOfWork], rows: Sequence[dict[str, Any]]) -> None:
    """Store ``queued`` rows in one transaction.

    Insert-or-ignore: never overwrites the final row of a sender that was quicker than this write.
    """
    async with unit_of_work() as uow:
        await repository.insert_queued(uow.session, rows)
        await uow.commit()


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
            await repository.upsert_calls(uow.session, [row for row, _ in items])
            await uow.commit()
        jobs = [job for _, job in items if job is not None]
        if jobs:
            # Ledger first: a crash between the two re-sends nothing (the row is final, see ``Calls``).
            await self._queue.ack(jobs)
        return [None] * len(items)

    async def drain(self) -> None:
        """Write what is pending (shutdown)."""
        await self._committer.drain()
