"""The dataflow scheduler: slots per frequency, end dates, one run per slot across processes, then exports."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from clarion.activation.flowservice.schemas import Schedule, Selector
from clarion.activation.runs.scheduling import FlowScheduler, due_selectors, first_activation, latest_slot
from clarion.models.activation import Flow, FlowRun
from clarion.runtime import BackgroundServices
from tests.activation.runs.conftest import Activation

NOON = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)


def _schedule(frequency: str, *, start: date = date(2026, 3, 1), end: date | None = None) -> Schedule:
    return Schedule(
        frequency=frequency, start_date=start, end_date=end, start_time=time(5, 0), trigger_type="SCHEDULED"
    )


@pytest.mark.parametrize(
    ("frequency", "expected"),
    [
        ("ONCE", datetime(2026, 3, 1, 5, 0, tzinfo=UTC)),
        ("DAILY", datetime(2026, 3, 10, 5, 0, tzinfo=UTC)),
        ("EVERY_3_HOURS", datetime(2026, 3, 10, 11, 0, tzinfo=UTC)),
        ("EVERY_6_HOURS", datetime(2026, 3, 10, 11, 0, tzinfo=UTC)),
        ("EVERY_8_HOURS", datetime(2026, 3, 10, 5, 0, tzinfo=UTC)),
        ("EVERY_12_HOURS", datetime(2026, 3, 10, 5, 0, tzinfo=UTC)),
    ],
)
def test_latest_slot_per_frequency(frequency: str, expected: datetime) -> None:
    assert latest_slot(_schedule(frequency), NOON) == expected


def test_no_slot_before_the_start_or_from_the_end_date_on() -> None:
    assert latest_slot(_schedule("DAILY", start=date(2026, 3, 11)), NOON) is None
    # The last day of the interval is not included (contract §2.4).
    assert latest_slot(_schedule("DAILY", end=date(2026, 3, 10)), NOON) is None
    assert latest_slot(_schedule("DAILY", end=date(2026, 3, 11)), NOON) == datetime(
        2026, 3, 10, 5, tzinfo=UTC
    )


def test_only_slots_after_the_audience_was_added_are_due() -> None:
    def selector(added: datetime, frequency: str = "DAILY") -> Selector:
        return Selector(
            segment_id="s",
            name="",
            filename_template="",
            export_mode="DAILY_FULL_EXPORT",
            schedule=_schedule(frequency),
            added_at=added,
        )

    assert due_selectors([selector(NOON - timedelta(days=1))], NOON) == {
        datetime(2026, 3, 10, 5, tzinfo=UTC): ["s"]
    }
    assert due_selectors([selector(NOON - timedelta(hours=1))], NOON) == {}
    assert first_activation(selector(NOON)) == NOON
    assert first_activation(selector(datetime(2026, 1, 1, tzinfo=UTC))) == datetime(2026, 3, 1, 5, tzinfo=UTC)


async def test_ticks_create_one_run_per_slot_and_the_worker_exports_it(
    activation: Activation, worker: BackgroundServices
) -> None:
    audience = await activation.audience([{"person": {"name": {"firstName": "Ada"}}}])
    flow = await activation.flow("local", [audience])
    # A clock two days ahead: the daily 00:00 slot of that day is due (the audience was added before it).
    later = datetime.combine(datetime.now(UTC).date() + timedelta(days=2), time(0, 5), tzinfo=UTC)
    schedulers = [
        FlowScheduler(activation.container.unit_of_work, activation.container.queue, clock=lambda: later)
        for _ in range(2)
    ]
    created = [await scheduler.tick() for scheduler in schedulers] + [await schedulers[0].tick()]
    async with activation.container.unit_of_work() as uow:
        runs = list(await uow.session.scalars(select(FlowRun).where(FlowRun.flow_id == flow)))
    # The first tick creates this flow's run (and those of other tests' flows); the next ones nothing.
    assert created[0] >= 1
    assert created[1:] == [0, 0]
    assert len(runs) == 1
    assert runs[0].trigger == "scheduled"
    assert runs[0].segment_ids == [audience]
    assert runs[0].scheduled_for == later.replace(minute=0)
    run = await activation.finished(runs[0].id)
    assert run["metrics"]["statusSummary"]["status"] == "success"
    assert run["metrics"]["recordSummary"]["outputRecordCount"] == 1
    # The file name carries the slot's time, not the moment the worker ran.
    assert later.strftime("%Y%m%d_000000") in run["metrics"]["fileSummary"]["files"][0]["name"]


async def test_a_run_whose_worker_died_is_taken_over_and_a_live_one_is_left_alone(
    activation: Activation, worker: BackgroundServices
) -> None:
    from clarion.activation.runs.service import EXPORT_TASK
    from clarion.activation.runs.tasks import RunExecutor
    from clarion.queue.port import Job

    audience = await activation.audience([{"person": {"name": {"firstName": "Ada"}}}])
    flow = await activation.flow("local", [audience])
    long_ago = datetime.now(UTC) - timedelta(minutes=10)
    orphan = await activation.fs.run(
        flow,
        status="processing",
        segment_ids=[audience],
        attempts=1,
        started_at=long_ago,
        updated_at=long_ago,
    )
    alive = await activation.fs.run(flow, status="processing", segment_ids=[audience], attempts=1)
    scheduler = FlowScheduler(activation.container.unit_of_work, activation.container.queue)
    await scheduler.tick()
    run = await activation.finished(orphan)
    assert run["metrics"]["statusSummary"]["status"] == "success"
    # A redelivered job of a run whose worker still beats does nothing.
    job = Job(
        id="j",
        task=EXPORT_TASK,
        payload={"run_id": alive},
        queue="default",
        attempts=2,
        max_attempts=1,
        receipt="r",
    )
    handler = RunExecutor(
        activation.container.unit_of_work, activation.container.secrets, activation.container.settings
    )
    await handler.handle(job)
    still = await activation.run(alive)
    assert still["metrics"]["statusSummary"]["status"] == "processing"


async def test_after_segment_eval_selectors_run_once_per_successful_segment_job(
    activation: Activation,
) -> None:
    from clarion.kit.ids import new_id
    from clarion.models.audiences import SegmentJob

    audience = await activation.audience([{"person": {"name": {"firstName": "Ada"}}}])
    after_eval = {"frequency": "DAILY", "startDate": "2026-01-01", "triggerType": "AFTER_SEGMENT_EVAL"}
    flow = await activation.flow("local", [audience], schedule=after_eval)
    scheduler = FlowScheduler(activation.container.unit_of_work, activation.container.queue)

    async def runs_of_flow() -> list[FlowRun]:
        async with activation.container.unit_of_work() as uow:
            return list(await uow.session.scalars(select(FlowRun).where(FlowRun.flow_id == flow)))

    await scheduler.tick()
    assert await runs_of_flow() == []  # no evaluation since the audience was mapped
    finished = datetime.now(UTC) + timedelta(seconds=1)
    async with activation.container.unit_of_work() as uow:
        uow.session.add(
            SegmentJob(
                id=new_id(),
                org_id=activation.fs.tenant.org_id,
                sandbox_id=await activation.fs.sandbox_id(),
                status="SUCCEEDED",
                segment_ids=[audience],
                created_at=finished,
                updated_at=finished,
            )
        )
        await uow.commit()
    await scheduler.tick()
    await scheduler.tick()
    (run,) = await runs_of_flow()
    assert run.segment_ids == [audience]
    assert run.scheduled_for == finished


async def test_a_flow_with_an_unreadable_selector_does_not_stop_the_others(activation: Activation) -> None:
    audience = await activation.audience([{"person": {"name": {"firstName": "Ada"}}}])
    flow = await activation.flow("local", [audience])
    broken = await activation.flow("local", [audience])
    async with activation.container.unit_of_work() as uow:
        stored = await uow.session.get(Flow, broken)
        assert stored is not None
        selector = {
            "type": "PLATFORM_SEGMENT",
            "value": {"id": audience},
        }  # no schedule: written around the API
        stored.transformations = [
            {"name": "GeneralTransform", "params": {"segmentSelectors": {"selectors": [selector]}}}
        ]
        await uow.commit()
    later = datetime.combine(datetime.now(UTC).date() + timedelta(days=2), time(0, 5), tzinfo=UTC)
    await FlowScheduler(
        activation.container.unit_of_work, activation.container.queue, clock=lambda: later
    ).tick()
    async with activation.container.unit_of_work() as uow:
        flows_with_runs = set(
            await uow.session.scalars(select(FlowRun.flow_id).where(FlowRun.flow_id.in_([flow, broken])))
        )
    assert flows_with_runs == {flow}
