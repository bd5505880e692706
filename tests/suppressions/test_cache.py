"""The workers' copy of the lists: no read per check, a local change seen at once, another process's within
the refresh bound, removals through tombstones, many sandboxes refreshed with one read."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import event

from clarion.container import Container
from clarion.db.uow import UnitOfWork
from clarion.suppressions import service
from clarion.suppressions.cache import SuppressionCache
from clarion.suppressions.schemas import Hit, NewSuppression
from tests.conftest import TenantFactory
from tests.suppressions.conftest import Scope, prod_scope


async def add(container: Container, scope: Scope, *entries: NewSuppression) -> None:
    async with container.unit_of_work() as uow:
        await service.suppress(uow.session, *scope, entries, source="api")
        await uow.commit()


async def remove(container: Container, scope: Scope, address: str, **which: Any) -> None:
    async with container.unit_of_work() as uow:
        await service.remove(uow.session, *scope, address, **which)
        await uow.commit()


class CountingUnitOfWork:
    """The container's units of work, counting the statements they run."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self.statements = 0

    def __call__(self) -> UnitOfWork:
        uow = self.container.unit_of_work()

        def count(*_: Any) -> None:
            self.statements += 1

        event.listen(uow.session.sync_session, "do_orm_execute", count)
        return uow


async def test_checks_read_nothing_and_apply_the_campaign_category(
    container: Container, scope: Scope
) -> None:
    await add(
        container,
        scope,
        NewSuppression("Hard@Example.com", "hardBounce"),
        NewSuppression("news@example.com", "unsubscribe"),
        NewSuppression("both@example.com", "unsubscribe"),
        NewSuppression("both@example.com", "complaint"),
    )
    reads = CountingUnitOfWork(container)
    cache = SuppressionCache(reads, interval=3600)
    listed = await cache.view(*scope)
    loaded = reads.statements
    for _ in range(1000):
        assert listed.check("hard@example.COM", "Transactional") == Hit("hardBounce", "")
    assert listed.check("news@example.com", "Marketing") == Hit("unsubscribe", "Marketing")
    assert listed.check("news@example.com", "Transactional") is None  # receipts ignore unsubscribes
    assert listed.check("both@example.com", "Marketing") == Hit("complaint", "")  # the gravest first
    assert listed.check("clean@example.com", "Marketing") is None
    assert await cache.view(*scope) is listed
    assert reads.statements == loaded  # 1,000 checks and a second view: no statement


async def test_a_change_in_this_process_is_seen_by_the_next_view(container: Container, scope: Scope) -> None:
    cache = SuppressionCache(container.unit_of_work, interval=3600)  # no timed refresh would come
    assert (await cache.view(*scope)).check("now@example.com", "Marketing") is None
    await add(container, scope, NewSuppression("now@example.com", "manual"))
    assert (await cache.view(*scope)).check("now@example.com", "Marketing") == Hit("manual", "")
    await remove(container, scope, "now@example.com")
    assert (await cache.view(*scope)).check("now@example.com", "Marketing") is None


async def test_another_processs_change_is_seen_within_the_refresh_bound(
    container: Container, scope: Scope
) -> None:
    interval = 0.5
    other = SuppressionCache(container.unit_of_work, interval=interval, local_changes=False)
    assert (await other.view(*scope)).check("far@example.com", "Marketing") is None
    await add(container, scope, NewSuppression("far@example.com", "complaint"))
    committed = time.monotonic()
    while (await other.view(*scope)).check("far@example.com", "Marketing") is None:
        await asyncio.sleep(0.01)  # a sender's pace; the cache decides when it reads
    seen_after = time.monotonic() - committed
    assert seen_after < interval + 0.5, seen_after
    await remove(container, scope, "far@example.com", reason="complaint")
    removed = time.monotonic()
    while (await other.view(*scope)).check("far@example.com", "Marketing") is not None:
        await asyncio.sleep(0.01)
    assert time.monotonic() - removed < interval + 0.5


async def test_one_read_refreshes_every_sandbox_held_and_deltas_only_where_changed(
    container: Container, make_tenant: TenantFactory
) -> None:
    scopes = [await prod_scope(container, await make_tenant()) for _ in range(5)]
    clock = FakeClock()
    reads = CountingUnitOfWork(container)
    cache = SuppressionCache(reads, interval=0.5, clock=clock, local_changes=False)
    for scope in scopes:
        await cache.view(*scope)
    await add(container, scopes[2], NewSuppression("moved@example.com", "manual"))
    before = reads.statements
    clock.now += 1.0  # overdue: the next view waits for the refresh
    listed = await cache.view(*scopes[2])
    assert listed.check("moved@example.com", "") == Hit("manual", "")
    assert reads.statements - before == 2  # the counters of all five, then one delta
    before = reads.statements
    clock.now += 0.3  # fresh enough: no read at all
    await cache.view(*scopes[0])
    assert reads.statements == before


async def test_a_sandbox_unused_for_long_is_dropped_and_loaded_whole_again(
    container: Container, scope: Scope
) -> None:
    clock = FakeClock()
    cache = SuppressionCache(container.unit_of_work, interval=0.5, idle_seconds=60, clock=clock)
    await cache.view(*scope)
    await add(container, scope, NewSuppression("late@example.com", "manual"))
    clock.now += 120
    assert (await cache.view(*scope)).check("late@example.com", "") == Hit("manual", "")
    assert cache.sandboxes == 1


async def test_a_failed_refresh_keeps_serving_the_copy_held(container: Container, scope: Scope) -> None:
    await add(container, scope, NewSuppression("kept@example.com", "manual"))
    clock = FakeClock()
    failing = False

    def unit_of_work() -> UnitOfWork:
        if failing:
            raise ConnectionError("database unavailable")
        return container.unit_of_work()

    cache = SuppressionCache(unit_of_work, interval=0.5, clock=clock, local_changes=False)
    await cache.view(*scope)
    failing = True
    clock.now += 1.0
    assert (await cache.view(*scope)).check("kept@example.com", "") == Hit("manual", "")


class FakeClock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
