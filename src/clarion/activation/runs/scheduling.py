"""The dataflow scheduler: starts each audience's export at its schedule's slots.

Every process with background services ticks; a slot's run has a deterministic id (flow + slot time), so
whichever process inserts it first wins and the others insert nothing. Only the latest due slot of a
selector runs (a scheduler that was down does not replay every missed slot), and only slots after the
selector was added to the dataflow. The same tick re-enqueues runs that wait too long (their job may
have been lost between the commit and the enqueue).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import structlog

from clarion.activation.flowservice import service as flowservice
from clarion.activation.flowservice.schemas import Schedule, Selector
from clarion.activation.runs import repository
from clarion.activation.runs.service import new_run, run_job, scheduled_run_id
from clarion.audiences import service as audiences
from clarion.db.uow import UnitOfWork
from clarion.kit.clock import utcnow
from clarion.models.activation import Flow, FlowRun
from clarion.queue.port import JobQueue
from clarion.tenancy.principal import Principal, job_principal

log = structlog.get_logger()

HOURS = {"EVERY_3_HOURS": 3, "EVERY_6_HOURS": 6, "EVERY_8_HOURS": 8, "EVERY_12_HOURS": 12, "DAILY": 24}
STALLED_AFTER = timedelta(minutes=2)
"""An active run untouched for this long gets its job enqueued again (the queue drops duplicates; a
processing run is taken over only when its worker's heartbeat has stopped)."""
TICK_SECONDS = 15.0


def first_slot(schedule: Schedule) -> datetime:
    """When the schedule starts (``startDate`` at ``startTime`` UTC; midnight without a time)."""
    return datetime.combine(schedule.start_date, schedule.start_time or time(0, 0), tzinfo=UTC)


def _end(schedule: Schedule) -> datetime | None:
    # The last day of the interval is not included in the exports (contract §2.4).
    return None if schedule.end_date is None else datetime.combine(schedule.end_date, time(0, 0), tzinfo=UTC)


def latest_slot(schedule: Schedule, now: datetime) -> datetime | None:
    """The most recent slot at or before ``now``, or None when none is due (or the schedule has ended)."""
    start = first_slot(schedule)
    if now < start:
        return None
    if schedule.frequency == "ONCE":
        slot = start
    else:
        step = timedelta(hours=HOURS[schedule.frequency])
        slot = start + step * ((now - start) // step)
    end = _end(schedule)
    return None if end is not None and slot >= end else slot


def in_range(schedule: Schedule, today: date) -> bool:
    """Whether the schedule covers ``today`` (started, and its end date not passed)."""
    if today < schedule.start_date:
        return False
    return schedule.end_date is None or today < schedule.end_date


def first_activation(selector: Selector) -> datetime:
    """When the audience became active on the dataflow: mapped, and its schedule started.

    Adobe counts the ad-hoc delay "from the moment the audience was first activated on its configured
    schedule"; its UI help says to wait after adding the audience to the dataflow. Both are this moment.
    """
    return max(first_slot(selector.schedule), selector.added_at)


def due_selectors(selectors: list[Selector], now: datetime) -> dict[datetime, list[str]]:
    """Audience ids by the slot at which they are due (AFTER_SEGMENT_EVAL selectors follow segment jobs)."""
    due: dict[datetime, list[str]] = defaultdict(list)
    for selector in selectors:
        if selector.schedule.trigger_type == "AFTER_SEGMENT_EVAL":
            continue
        slot = latest_slot(selector.schedule, now)
        if slot is not None and slot >= selector.added_at:
            due[slot].append(selector.segment_id)
    return due


async def _after_evaluation(
    uow: UnitOfWork, principal: Principal, flow: Flow, selectors: list[Selector], now: datetime
) -> list[FlowRun]:
    """Runs of AFTER_SEGMENT_EVAL selectors: one per successful segment job since the audience was mapped."""
    planned: list[FlowRun] = []
    for selector in selectors:
        if selector.schedule.trigger_type != "AFTER_SEGMENT_EVAL" or not in_range(
            selector.schedule, now.date()
        ):
            continue
        job = await audiences.last_successful_job(uow, principal, selector.segment_id)
        if job is None or job.updated_at < selector.added_at:
            continue
        run_id = scheduled_run_id(flow.id, job.updated_at, key=f"{selector.segment_id}/{job.id}")
        planned.append(
            new_run(
                principal, flow, [selector.segment_id], trigger="scheduled", at=job.updated_at, run_id=run_id
            )
        )
    return planned


def _readable_selectors(flow: Flow) -> list[Selector]:
    """The flow's selectors; a flow stored with one that cannot be read (written around the API) is logged
    and skipped, so that it cannot stop the schedules of every other flow and tenant."""
    try:
        return flowservice.selectors(flow)
    except (KeyError, TypeError, ValueError):
        log.error("flow_selectors_unreadable", flow_id=flow.id)
        return []


class FlowScheduler:
    """Creates the runs of due slots and re-enqueues stalled runs."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        queue: JobQueue,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._queue = queue
        self._clock = clock

    async def tick(self) -> int:
        """One pass over every enabled dataflow; returns the number of runs created."""
        now = self._clock()
        created = 0
        async with self._unit_of_work() as uow:
            for flow in await flowservice.flows_with_schedules(uow):
                principal = job_principal(flow.org_id, flow.sandbox_id)
                selectors = _readable_selectors(flow)
                candidates = [
                    new_run(
                        principal,
                        flow,
                        segment_ids,
                        trigger="scheduled",
                        at=slot,
                        run_id=scheduled_run_id(flow.id, slot),
                    )
                    for slot, segment_ids in due_selectors(selectors, now).items()
                ]
                candidates += await _after_evaluation(uow, principal, flow, selectors, now)
                inserted = set(await repository.insert_runs(uow.session, candidates))
                uow.defer([run_job(run) for run in candidates if run.id in inserted])
                created += len(inserted)
            stalled = await repository.stalled_runs(uow.session, now - STALLED_AFTER)
            await uow.commit()
        if stalled:
            await self._queue.enqueue([run_job(run) for run in stalled])
        if created:
            log.info("scheduled_runs_created", runs=created)
        return created
