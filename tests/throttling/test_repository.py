"""The database, not only the service, keeps one live throttling configuration per organization."""

from __future__ import annotations

from clarion.container import Container
from clarion.kit.clock import utcnow
from clarion.models.throttling import ThrottlingConfig
from clarion.tenancy.repository import SandboxRepository
from clarion.throttling.repository import ThrottlingRepository
from tests.builders import Tenant


def config(tenant: Tenant, sandbox_id: str) -> ThrottlingConfig:
    return ThrottlingConfig(
        org_id=tenant.org_id,
        sandbox_id=sandbox_id,
        sandbox_name="prod",
        created_by="t",
        created_by_id="t",
        modified_by="t",
        modified_by_id="t",
    )


async def prod_id(container: Container, tenant: Tenant) -> str:
    async with container.unit_of_work() as uow:
        sandbox = await SandboxRepository(uow.session, tenant.org_id).by_name("prod")
        assert sandbox is not None
        return sandbox.id


async def test_a_second_live_config_loses_the_race(container: Container, tenant: Tenant) -> None:
    sandbox_id = await prod_id(container, tenant)
    async with container.unit_of_work() as uow:
        assert await ThrottlingRepository(uow.session, tenant.org_id).insert(config(tenant, sandbox_id))
        await uow.commit()
    async with container.unit_of_work() as uow:
        assert not await ThrottlingRepository(uow.session, tenant.org_id).insert(config(tenant, sandbox_id))


async def test_tombstones_do_not_hold_the_slot(container: Container, tenant: Tenant) -> None:
    sandbox_id = await prod_id(container, tenant)
    async with container.unit_of_work() as uow:
        repo = ThrottlingRepository(uow.session, tenant.org_id)
        first = config(tenant, sandbox_id)
        assert await repo.insert(first)
        repo.retire(first, utcnow())
        assert await repo.insert(config(tenant, sandbox_id))
        await uow.commit()
        assert len(await repo.live()) == 1
