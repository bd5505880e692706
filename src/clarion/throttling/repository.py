"""SQL for throttling configurations, capping (endpoint) configurations and rule revisions."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Select, Table, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clarion.kit.repository import SandboxRepository, TenantRepository
from clarion.models.throttling import EndpointConfig, RuleRevision, ThrottlingConfig


class ThrottlingRepository(TenantRepository):
    """Throttling configurations are organization-wide: scoped by organization, not sandbox."""

    async def insert(self, config: ThrottlingConfig) -> bool:
        """Stage and flush a new live configuration; False when the organization already has one."""
        self.session.add(config)
        try:
            await self.session.flush()
        except IntegrityError:
            return False
        return True

    async def get(self, uid: str) -> ThrottlingConfig | None:
        """The live configuration with this uid (tombstones are invisible to the API)."""
        return await self.session.scalar(
            self.scoped(ThrottlingConfig).where(
                ThrottlingConfig.id == uid, ThrottlingConfig.deleted_at.is_(None)
            )
        )

    async def live(self) -> list[ThrottlingConfig]:
        """The organization's live configurations (at most one), oldest first."""
        rows = await self.session.scalars(
            self.scoped(ThrottlingConfig)
            .where(ThrottlingConfig.deleted_at.is_(None))
            .order_by(ThrottlingConfig.created_at, ThrottlingConfig.id)
        )
        return list(rows)

    async def in_force(self, *, undeployed_since: datetime) -> list[ThrottlingConfig]:
        """Deployed configurations, and those undeployed (or deleted) after ``undeployed_since``."""
        rows = await self.session.scalars(_in_force(self.scoped(ThrottlingConfig), undeployed_since))
        return list(rows)

    def retire(self, config: ThrottlingConfig, now: datetime) -> None:
        """Hide a deleted configuration that still drains; it frees the organization's slot."""
        config.deleted_at = now
        config.org_slot = None

    async def remove(self, config: ThrottlingConfig) -> None:
        """Delete the configuration."""
        await self.session.execute(
            delete(ThrottlingConfig).where(
                ThrottlingConfig.org_id == self.org_id, ThrottlingConfig.id == config.id
            )
        )

    async def purge_drained(self, *, undeployed_before: datetime) -> None:
        """Drop tombstones whose draining is over."""
        await self.session.execute(
            delete(ThrottlingConfig).where(
                ThrottlingConfig.org_id == self.org_id,
                ThrottlingConfig.deleted_at.is_not(None),
                ThrottlingConfig.undeployed_at < undeployed_before,
            )
        )


class CappingRepository(SandboxRepository):
    """Capping configurations of one sandbox."""

    def add(self, config: EndpointConfig) -> None:
        """Stage a new configuration."""
        self.session.add(config)

    async def get(self, uid: str) -> EndpointConfig | None:
        """The configuration with this uid in this sandbox."""
        return await self.session.scalar(self.scoped(EndpointConfig).where(EndpointConfig.id == uid))

    async def all(self) -> list[EndpointConfig]:
        """Every configuration of the sandbox, oldest first."""
        rows = await self.session.scalars(
            self.scoped(EndpointConfig).order_by(EndpointConfig.created_at, EndpointConfig.id)
        )
        return list(rows)

    async def deployed(self) -> list[EndpointConfig]:
        """The deployed configurations of the sandbox, oldest first."""
        rows = await self.session.scalars(
            self.scoped(EndpointConfig)
            .where(EndpointConfig.has_been_deployed.is_(True))
            .order_by(EndpointConfig.created_at, EndpointConfig.id)
        )
        return list(rows)

    async def remove(self, config: EndpointConfig) -> None:
        """Delete the configuration."""
        await self.session.execute(
            delete(EndpointConfig).where(
                EndpointConfig.org_id == self.org_id,
                EndpointConfig.sandbox_id == self.sandbox_id,
                EndpointConfig.id == config.id,
            )
        )


class RevisionRepository(TenantRepository):
    """The organization's rule revision counter."""

    async def bump(self) -> None:
        """Move the counter (creating it at 1)."""
        table = cast(Table, RuleRevision.__table__)
        statement = self.dialect.insert_ignore(table, conflict_columns=("org_id",))
        # Two statements, both portable: make sure the row exists, then increment it in place.
        await self.session.execute(statement.values(org_id=self.org_id, revision=0))
        await self.session.execute(
            update(RuleRevision)
            .where(RuleRevision.org_id == self.org_id)
            .values(revision=RuleRevision.revision + 1)
        )

    async def current(self) -> int:
        """The counter's value (0 before any write)."""
        value = await self.session.scalar(
            select(RuleRevision.revision).where(RuleRevision.org_id == self.org_id)
        )
        return int(value or 0)


async def in_force_everywhere(session: AsyncSession, *, undeployed_since: datetime) -> list[ThrottlingConfig]:
    """Every organization's configurations in force (the throttle runtime serves all of them; not scoped)."""
    rows = await session.scalars(_in_force(select(ThrottlingConfig), undeployed_since))
    return list(rows)


def _in_force(statement: Select[ThrottlingConfig], undeployed_since: datetime) -> Select[ThrottlingConfig]:
    """Deployed configurations, and those undeployed (or deleted) after ``undeployed_since``, oldest first."""
    return statement.where(
        or_(
            ThrottlingConfig.has_been_deployed.is_(True),
            ThrottlingConfig.undeployed_at >= undeployed_since,
        )
    ).order_by(ThrottlingConfig.created_at, ThrottlingConfig.id)
