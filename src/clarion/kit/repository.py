"""Repository base: every tenant-owned query starts from ``scoped`` so no query can cross organizations."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

M = TypeVar("M")


class TenantRepository:
    """Base of repositories for tables with an ``org_id`` column."""

    def __init__(self, session: AsyncSession, org_id: str) -> None:
        self.session = session
        self.org_id = org_id

    def scoped(self, model: type[M]) -> Select[M]:
        """``SELECT model WHERE org_id = <caller's org>`` — the start of every read."""
        column: Any = model.org_id  # type: ignore[attr-defined]
        return select(model).where(column == self.org_id)
