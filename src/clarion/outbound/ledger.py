"""Writing the call ledger (``action_calls``): a call's record in each status, ``queued`` records, and the
``CallLedger`` that group-commits final records and then acknowledges their jobs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from clarion.db.uow import UnitOfWork
from clarion.kit.batcher import GroupCommitter
from clarion.kit.clock import utcnow
from clarion.outbound import repository
from clarion.outbound.schemas import CallJob, CallRecord, CallStatus
from clarion.queue.port import Job, JobQueue

RESPONSE_LIMIT = 500
"""How much of an answer (or an error) the ledger keeps."""
LEDGER_BATCH = 128
"""Rows per ledger write. Small on purpose: building a write blocks the event loop for its whole length
(~0.1 ms a row), and a throttle lane's sends must leave on their slot, not after a long write."""


def clip_response(text: str) -> str:
    """What the ledger keeps of an answer or an error: its first ``RESPONSE_LIMIT`` characters."""
    return text[:RESPONSE_LIMIT]


def call_record(
    call: CallJob,
    status: CallStatus,
    attempts: int = 0,
    response_status: int | None = None,
    response: str | None = None,
    latency_ms: float | None = None,
) -> CallRecord:
    """The ledger record of ``call`` in ``status``."""
    now = utcnow()
    return CallRecord(
        id=call.call,
        org_id=call.org,
        sandbox_id=call.sandbox,
        action_id=call.action,
        action_name=call.action_name,
        status=status,
        attempts=attempts,
        response_status=response_status,
        response=response or "",
        latency_ms=latency_ms,
        throttle_config_uid=call.throttle,
        accepted_at=datetime.fromtimestamp(call.accepted_at, UTC),
        updated_at=now,
        sent_at=now if status == "sent" else None,
        request_id=call.request_id,
    )


def expired_record(call: CallJob) -> CallRecord:
    """The ledger record of a call that waited too long."""
    return call_record(call, "expired", response="queued for more than 6 hours")


async def record_queued(unit_of_work: Callable[[], UnitOfWork], records: Sequence[CallRecord]) -> None:
    """Store ``queued`` records in one transaction.

    Insert-or-ignore: never overwrites the final row of a sender that was quicker than this write.
    """
    async with unit_of_work() as uow:
        await repository.insert_queued(uow.session, records)
        await uow.commit()


class CallLedger:
    """Writes final call records in group commits and then acknowledges their jobs (at most once each)."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork], queue: JobQueue) -> None:
        self._unit_of_work = unit_of_work
        self._queue = queue
        self._committer: GroupCommitter[tuple[CallRecord, Job | None], None] = GroupCommitter(
            self._write, max_batch=LEDGER_BATCH, max_delay=0.002
        )

    async def record(self, record: CallRecord, job: Job | None = None) -> None:
        """Store ``record``; then ack ``job`` (the dispatcher's jobs; the worker acks its own)."""
        await self._committer.submit((record, job))

    async def _write(self, items: Sequence[tuple[CallRecord, Job | None]]) -> list[None]:
        async with self._unit_of_work() as uow:
            await repository.upsert_calls(uow.session, [record for record, _ in items])
            await uow.commit()
        jobs = [job for _, job in items if job is not None]
        if jobs:
            # Ledger first: a crash between the two re-sends nothing (the record is final, see ``Calls``).
            await self._queue.ack(jobs)
        return [None] * len(items)

    async def drain(self) -> None:
        """Write what is pending (shutdown)."""
        await self._committer.drain()
