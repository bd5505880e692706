"""The usage meter's writes: one upsert for many tallies, kept and retried when the database fails."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from clarion.container import Container
from clarion.db.uow import UnitOfWork
from clarion.tenancy import service as tenancy
from clarion.usage import service as usage
from clarion.usage.meter import UsageMeter
from clarion.usage.schemas import HIGH_THROUGHPUT, STANDARD, Tally
from tests.builders import Tenant


async def month_used(container: Container, tenant: Tenant) -> dict[str, int]:
    async with container.unit_of_work() as uow:
        org = await tenancy.find_organization(uow, tenant.ims_org_id)
        report = await usage.report(uow, usage.organization_quotas(org), None, None)
    month = report.currentMonth
    return {STANDARD: month.standard.used, HIGH_THROUGHPUT: month.highThroughput.used}


async def test_tallies_of_many_batches_are_summed_into_one_row_per_key(
    container: Container, tenant: Tenant
) -> None:
    meter = UsageMeter(container.unit_of_work, flush_seconds=60)
    today = datetime.now(UTC).date()
    for _ in range(3):
        meter.record(
            [
                Tally(tenant.org_id, "sbx-a", STANDARD, today, 2),
                Tally(tenant.org_id, "sbx-b", HIGH_THROUGHPUT, today, 5),
            ]
        )
    await meter.drain()  # a clean stop writes what is pending
    assert await month_used(container, tenant) == {STANDARD: 6, HIGH_THROUGHPUT: 15}
    meter.record([Tally(tenant.org_id, "sbx-a", STANDARD, today, 1)])
    await meter.drain()
    assert await month_used(container, tenant) == {STANDARD: 7, HIGH_THROUGHPUT: 15}


async def test_a_failed_write_keeps_its_tallies_for_the_next_one(
    container: Container, tenant: Tenant
) -> None:
    attempts = 0

    def flaky() -> UnitOfWork:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ConnectionError("database unavailable")
        return container.unit_of_work()

    meter = UsageMeter(flaky, flush_seconds=0.01)
    meter.record([Tally(tenant.org_id, "sbx", HIGH_THROUGHPUT, datetime.now(UTC).date(), 4)])
    deadline = time.monotonic() + 10
    while (await month_used(container, tenant))[HIGH_THROUGHPUT] != 4:
        assert time.monotonic() < deadline, "the tallies were never written"
        await asyncio.sleep(0.02)
    assert attempts >= 2
    await meter.drain()
    assert (await month_used(container, tenant))[HIGH_THROUGHPUT] == 4  # written once, not twice
