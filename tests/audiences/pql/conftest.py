"""Profiles written as rows for one tenant, and the query that runs a compiled PQL expression over them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import delete, select

from clarion.audiences.pql import Expression, to_sql
from clarion.container import Container
from clarion.kit.ids import new_id
from clarion.models.profiles import Profile
from clarion.models.tenancy import Sandbox
from tests.conftest import TenantFactory

NOW = datetime(2024, 5, 15, 12, 0, tzinfo=UTC)
"""The fixed "now" of every compiler test (a Wednesday)."""


@dataclass
class ProfileStore:
    """One tenant's production sandbox: insert attribute documents, select the ones an expression matches."""

    container: Container
    org_id: str
    sandbox_id: str

    async def insert(self, documents: dict[str, dict[str, Any]]) -> dict[str, str]:
        """Insert each named document as a profile; return {profile id: name}."""
        names = {new_id(): name for name in documents}
        async with self.container.unit_of_work() as uow:
            uow.session.add_all(
                Profile(
                    id=profile_id, org_id=self.org_id, sandbox_id=self.sandbox_id, attributes=documents[name]
                )
                for profile_id, name in names.items()
            )
            await uow.commit()
        return names

    async def matching(self, expression: Expression, ids: Iterable[str], *, now: datetime = NOW) -> set[str]:
        """The ids among ``ids`` whose profile the compiled expression selects, run in the database."""
        async with self.container.unit_of_work() as uow:
            where = to_sql(expression, attributes=Profile.attributes, dialect=uow.dialect.name, now=now)
            statement = select(Profile.id).where(
                Profile.org_id == self.org_id,
                Profile.sandbox_id == self.sandbox_id,
                Profile.id.in_(list(ids)),
                where,
            )
            return set((await uow.session.execute(statement)).scalars())

    async def remove(self, ids: Iterable[str]) -> None:
        """Delete the profiles ``ids``."""
        async with self.container.unit_of_work() as uow:
            await uow.session.execute(delete(Profile).where(Profile.id.in_(list(ids))))
            await uow.commit()


@pytest.fixture
async def store(container: Container, make_tenant: TenantFactory) -> ProfileStore:
    """A fresh tenant's profile store."""
    tenant = await make_tenant()
    async with container.unit_of_work() as uow:
        sandbox_id = (
            await uow.session.execute(select(Sandbox.id).where(Sandbox.org_id == tenant.org_id))
        ).scalar_one()
    return ProfileStore(container, tenant.org_id, sandbox_id)
