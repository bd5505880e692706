"""Accepting events: each becomes a durable queued call (a job, plus a ``queued`` ledger row) before 202.

The queue a call goes to is decided here, from the action's method and URL and the organization's deployed
throttling rule (see ``queues``). Enqueueing is group-committed like the execution intake: a burst of
single-event requests shares one queue write.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from clarion.actions.service import ActionSpec, find_action
from clarion.db.uow import UnitOfWork
from clarion.kit.batcher import GroupCommitter
from clarion.kit.cache import RefreshingCache
from clarion.kit.ids import new_reference
from clarion.kit.secretbox import SecretBox
from clarion.outbound.ledger import call_record, record_queued
from clarion.outbound.queues import CALL_TASK, DIRECT_QUEUE, throttle_queue
from clarion.outbound.rules import RuleBook
from clarion.outbound.schemas import AcceptedCall, CallJob, CallRecord, Event
from clarion.outbound.wakeups import LaneWakeups
from clarion.queue.port import JobQueue, JobSpec
from clarion.tenancy.principal import Principal

_ACTION_TTL = 1.0


@dataclass(frozen=True, slots=True)
class QueuedCall:
    """A call ready to store: its job, its ``queued`` ledger record, the throttling configuration pacing it.

    ``throttle`` is None for a call sent at once.
    """

    job: JobSpec
    record: CallRecord
    throttle: str | None

    @property
    def call(self) -> str:
        """The call's id (also its job id and ledger id)."""
        return self.job.job_id or ""


async def queued_call(
    rules: RuleBook,
    org_id: str,
    sandbox_id: str,
    spec: ActionSpec,
    context: dict[str, Any],
    *,
    call: str,
    accepted_at: float,
    request_id: str | None,
    unique_for: float = 0.0,
) -> QueuedCall:
    """The job and ledger record of one call of ``spec``, in the queue its throttling rule (if any) says.

    Needs no caller, so workers queue calls too (campaign custom actions); ``unique_for`` with a
    deterministic ``call`` id makes enqueueing it again a no-op.
    """
    rule = await rules.throttle_for(org_id, spec.method, spec.url)
    throttle = rule.config_uid if rule else None
    payload = CallJob(
        call=call,
        org=org_id,
        sandbox=sandbox_id,
        action=spec.id,
        action_name=spec.name,
        context=context,
        accepted_at=accepted_at,
        request_id=request_id,
        throttle=throttle,
    )
    queue = throttle_queue(throttle) if throttle else DIRECT_QUEUE
    job = JobSpec(CALL_TASK, payload, queue=queue, job_id=call, unique_for=unique_for)
    return QueuedCall(job, call_record(payload, "queued"), throttle)


async def store_calls(
    unit_of_work: Callable[[], UnitOfWork], queue: JobQueue, calls: Sequence[QueuedCall]
) -> None:
    """Store calls without group commit (a worker's few calls per job): jobs first, then their records."""
    if not calls:
        return
    await queue.enqueue([call.job for call in calls])
    await record_queued(unit_of_work, [call.record for call in calls])


class CallIntake:
    """Turns events into queued calls; one per process."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        queue: JobQueue,
        rules: RuleBook,
        box: SecretBox,
        wakeups: LaneWakeups,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._box = box
        self._queue = queue
        self._rules = rules
        self._actions: RefreshingCache[tuple[str, str, str], ActionSpec] = RefreshingCache()
        self._enqueue: GroupCommitter[JobSpec, str] = GroupCommitter(self._write_jobs, max_delay=0)
        self._ledger: GroupCommitter[CallRecord, None] = GroupCommitter(self._write_records, max_delay=0)
        self._wakeups = wakeups

    async def accept(
        self, principal: Principal, events: Sequence[Event], request_id: str | None
    ) -> list[AcceptedCall]:
        """Queue one call per event, durably; an unknown action refuses the whole request (404)."""
        specs = [await self.action(principal, event.action) for event in events]
        accepted_at = time.time()
        calls: list[QueuedCall] = []
        answers: list[AcceptedCall] = []
        for event, spec in zip(events, specs, strict=True):
            queued = await queued_call(
                self._rules,
                principal.org_id,
                principal.sandbox_id,
                spec,
                event.context,
                call=new_reference(),
                accepted_at=accepted_at,
                request_id=request_id,
            )
            calls.append(queued)
            throttled = queued.throttle is not None
            answers.append(AcceptedCall(queued.call, spec.id, spec.name, "queued", throttled))
        await self._store(calls)
        return answers

    async def action(self, principal: Principal, name_or_id: str) -> ActionSpec:
        """The action (by name or id) as of at most a second ago; 404 when there is none."""

        async def load() -> tuple[ActionSpec, float]:
            async with self._unit_of_work() as uow:
                return await find_action(uow, principal, name_or_id, box=self._box), _ACTION_TTL

        return await self._actions.get((principal.org_id, principal.sandbox_id, name_or_id), load)

    async def _store(self, calls: list[QueuedCall]) -> None:
        # The job first: once it is stored the call will be sent. The ``queued`` row is insert-or-ignore,
        # so it never overwrites the final row of a sender that was quicker than this write.
        await asyncio.gather(*(self._enqueue.submit(call.job) for call in calls))
        await asyncio.gather(*(self._ledger.submit(call.record) for call in calls))
        for config_uid in {call.throttle for call in calls if call.throttle}:
            self._wakeups.ring(config_uid)

    async def _write_jobs(self, jobs: Sequence[JobSpec]) -> list[str]:
        return await self._queue.enqueue(jobs)

    async def _write_records(self, records: Sequence[CallRecord]) -> list[None]:
        await record_queued(self._unit_of_work, records)
        return [None] * len(records)

    async def drain(self) -> None:
        """Wait for pending writes (shutdown)."""
        await self._enqueue.drain()
        await self._ledger.drain()
