"""Fixtures of the suppression list's tests: a tenant's production sandbox as (org id, sandbox id)."""

from __future__ import annotations

from typing import NamedTuple

import pytest
from sqlalchemy import select

from clarion.container import Container
from clarion.models.tenancy import Sandbox
from tests.builders import Tenant


class Scope(NamedTuple):
    """Whose list a test writes."""

    org_id: str
    sandbox_id: str


async def prod_scope(container: Container, tenant: Tenant) -> Scope:
    """The tenant's production sandbox."""
    async with container.unit_of_work() as uow:
        sandbox_id = await uow.session.scalar(
            select(Sandbox.id).where(Sandbox.org_id == tenant.org_id, Sandbox.name == "prod")
        )
    assert sandbox_id is not None
    return Scope(tenant.org_id, sandbox_id)


@pytest.fixture
async def scope(container: Container, tenant: Tenant) -> Scope:
    """One fresh tenant's production sandbox."""
    return await prod_scope(container, tenant)


# The live campaigns and the real SMTP relay of the execution tests (enforcement and synchronous bounces).
from tests.executions.conftest import live, smtp_server  # noqa: E402

__all__ = ["Scope", "live", "prod_scope", "scope", "smtp_server"]
