"""Repository base: every tenant-owned query starts from ``scoped`` so no query can cross organizations.

``require`` turns a lookup that found nothing (None) into the caller's own error.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clarion.db.dialect import SqlDialect, dialect_of

M = TypeVar("M")
T = TypeVar("T")


def require(found: T | None, error: Exception) -> T:
    """``found``, or raise ``error`` when the lookup found nothing.

    The error is the domain's own (a NotFound of its envelope family, or an Invalid for a dangling reference):
    ``pool = require(await repo.get(pool_id), IpPoolNotFound(f"IP pool {pool_id!r} does not exist"))``.
    """
    if found is None:
        raise error
    return found


class TenantRepository:
    """Base of repositories for tables with an ``org_id`` column."""

    def __init__(self, session: AsyncSession, org_id: str) -> None:
        self.session = session
        self.org_id = org_id

    @property
    def dialect(self) -> SqlDialect:
        """The database's statement builders (chosen once, with the engine)."""
        return dialect_of(self.session)

    def scoped(self, model: type[M]) -> Select[M]:
        """``SELECT model WHERE org_id = <caller's org>`` — the start of every read."""
        column: Any = model.org_id  # type: ignore[attr-defined]
        return select(model).where(column == self.org_id)


class SandboxRepository(TenantRepository):
    """Base of repositories for tables partitioned by organization AND sandbox."""

    def __init__(self, session: AsyncSession, org_id: str, sandbox_id: str) -> None:
        super().__init__(session, org_id)
        self.sandbox_id = sandbox_id

    def scoped(self, model: type[M]) -> Select[M]:
        """``SELECT model WHERE org_id = … AND sandbox_id = …``."""
        column: Any = model.sandbox_id  # type: ignore[attr-defined]
        return super().scoped(model).where(column == self.sandbox_id)

    async def page(self, model: type[M], *, limit: int, offset: int, order_by: Any) -> tuple[list[M], int]:
        """One page of ``model`` rows in this sandbox and the total count."""
        statement = self.scoped(model)
        total = await self.session.scalar(select(func.count()).select_from(statement.subquery()))
        rows = await self.session.scalars(statement.order_by(order_by).limit(limit).offset(offset))
        return list(rows), int(total or 0)
