"""What other domains call: load_segments, last_successful_job; and a job the queue gave up on."""

from __future__ import annotations

import pytest

from clarion.audiences import service
from clarion.audiences.errors import SegmentNotFound
from clarion.audiences.evaluation import Evaluation, JobScope
from clarion.tenancy.principal import job_principal
from tests.audiences.conftest import Ups, UpsFactory


async def test_load_segments_keeps_the_order_and_names_the_missing_id(ups: Ups, make_ups: UpsFactory) -> None:
    first = await ups.segment("person.age >= 1", name="first")
    second = await ups.segment("person.age >= 2", name="second")
    foreign = await (await make_ups()).segment("person.age >= 1")
    principal = job_principal(ups.tenant.org_id, ups.sandbox_id)
    async with ups.container.unit_of_work() as uow:
        loaded = await service.load_segments(uow, principal, [second["id"], first["id"]])
        assert [segment.name for segment in loaded] == ["second", "first"]
        with pytest.raises(SegmentNotFound) as missing:
            await service.load_segments(uow, principal, [first["id"], foreign["id"]])
    assert foreign["id"] in missing.value.detail


async def test_last_successful_job_is_the_latest_that_evaluated_the_segment(ups: Ups) -> None:
    await ups.add_profiles(({"person": {"age": 40}}, {}))
    segment = (await ups.segment("person.age >= 35", name="adults"))["id"]
    other = (await ups.segment("person.age >= 1", name="everyone"))["id"]
    principal = job_principal(ups.tenant.org_id, ups.sandbox_id)
    async with ups.container.unit_of_work() as uow:
        assert await service.last_successful_job(uow, principal, segment) is None
    first = await ups.run_job(segment)
    second = await ups.run_job(segment, other)
    await ups.run_job(other)
    await ups.job(segment)  # not evaluated yet: NEW
    async with ups.container.unit_of_work() as uow:
        found = await service.last_successful_job(uow, principal, segment)
    assert found is not None
    assert found.id == second["id"] != first["id"]


async def test_a_job_the_queue_gave_up_on_is_failed_with_the_reason(ups: Ups) -> None:
    job = await ups.job((await ups.segment("person.age >= 35"))["id"])
    scope = JobScope(org_id=ups.tenant.org_id, sandbox_id=ups.sandbox_id, job_id=job["id"])
    await Evaluation(ups.container.unit_of_work, scope).fail(
        "Evaluation failed after 8 attempts (OperationalError)"
    )
    failed = await ups.read_job(job["id"])
    assert failed["status"] == "FAILED"
    assert failed["errors"][0]["msg"] == "Evaluation failed after 8 attempts (OperationalError)"
    assert "endTimeInMs" in failed["metrics"]["totalTime"]
    await Evaluation(ups.container.unit_of_work, scope).fail("again")
    assert len((await ups.read_job(job["id"]))["errors"]) == 1
