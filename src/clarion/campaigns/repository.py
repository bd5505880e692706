"""SQL for IP pools, channel configurations and campaigns."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from clarion.kit.repository import SandboxRepository, TenantRepository
from clarion.models.campaigns import Campaign, ChannelConfiguration, IpPool


class IpPoolRepository(TenantRepository):
    """IP pools belong to the organization (shared by its sandboxes, as in AJO)."""

    def add(self, pool: IpPool) -> None:
        """Stage a new pool."""
        self.session.add(pool)

    async def get(self, pool_id: str) -> IpPool | None:
        """The pool with this id, if it is this organization's."""
        return await self.session.scalar(self.scoped(IpPool).where(IpPool.id == pool_id))

    async def by_name(self, name: str) -> IpPool | None:
        """The pool with this name."""
        return await self.session.scalar(self.scoped(IpPool).where(IpPool.name == name))

    async def page(self, *, limit: int, offset: int) -> tuple[list[IpPool], int]:
        """One page of pools and the total."""
        rows = await self.session.scalars(
            self.scoped(IpPool).order_by(IpPool.name).limit(limit).offset(offset)
        )
        total = await self.session.scalar(select(func.count()).where(IpPool.org_id == self.org_id))
        return list(rows), int(total or 0)

    async def configurations_using(self, pool_id: str) -> list[ChannelConfiguration]:
        """Channel configurations (of any sandbox of the organization) that send through the pool."""
        rows = await self.session.scalars(
            self.scoped(ChannelConfiguration).where(ChannelConfiguration.ip_pool_id == pool_id)
        )
        return list(rows)

    async def remove(self, pool: IpPool) -> None:
        """Delete the pool."""
        await self.session.execute(delete(IpPool).where(IpPool.org_id == self.org_id, IpPool.id == pool.id))


async def relays_of_every_pool(session: AsyncSession) -> list[list[dict[str, Any]]]:
    """The ``relays`` of every IP pool of the instance (all organizations: operator tooling only)."""
    return list(await session.scalars(select(IpPool.relays)))


async def bounce_domains_of_every_configuration(session: AsyncSession) -> set[str]:
    """The ``bounceDomain`` of every email configuration of the instance (all tenants: the feedback listener
    accepts mail for any of them)."""
    rows: Iterable[dict[str, Any] | None] = await session.scalars(
        select(ChannelConfiguration.settings).where(ChannelConfiguration.channel == "email")
    )
    return {str(domain) for settings in rows if (domain := (settings or {}).get("bounceDomain"))}


class ChannelConfigurationRepository(SandboxRepository):
    """Channel configurations of one sandbox."""

    def add(self, configuration: ChannelConfiguration) -> None:
        """Stage a new configuration."""
        self.session.add(configuration)

    async def get(self, configuration_id: str) -> ChannelConfiguration | None:
        """The configuration with this id in this sandbox."""
        return await self.session.scalar(
            self.scoped(ChannelConfiguration).where(ChannelConfiguration.id == configuration_id)
        )

    async def by_name(self, name: str) -> ChannelConfiguration | None:
        """The configuration with this name in this sandbox."""
        return await self.session.scalar(
            self.scoped(ChannelConfiguration).where(ChannelConfiguration.name == name)
        )

    async def campaigns_using(self, configuration_id: str) -> list[Campaign]:
        """Campaigns that use the configuration."""
        rows = await self.session.scalars(
            self.scoped(Campaign).where(Campaign.channel_configuration_id == configuration_id)
        )
        return list(rows)

    async def remove(self, configuration: ChannelConfiguration) -> None:
        """Delete the configuration."""
        await self.session.execute(
            delete(ChannelConfiguration).where(
                ChannelConfiguration.org_id == self.org_id, ChannelConfiguration.id == configuration.id
            )
        )


class CampaignRepository(SandboxRepository):
    """Campaigns of one sandbox."""

    def add(self, campaign: Campaign) -> None:
        """Stage a new campaign."""
        self.session.add(campaign)

    async def get(self, campaign_id: str) -> Campaign | None:
        """The campaign with this id in this sandbox."""
        return await self.session.scalar(self.scoped(Campaign).where(Campaign.id == campaign_id))

    async def page_filtered(
        self, *, limit: int, offset: int, status: str | None = None, name_like: str | None = None
    ) -> tuple[list[Campaign], int]:
        """One page of campaigns, optionally by status or name substring, newest first."""
        statement = self.scoped(Campaign)
        if status is not None:
            statement = statement.where(Campaign.status == status)
        if name_like:
            statement = statement.where(Campaign.name.contains(name_like, autoescape=True))
        total = await self.session.scalar(select(func.count()).select_from(statement.subquery()))
        rows = await self.session.scalars(
            statement.order_by(Campaign.created_at.desc(), Campaign.id).limit(limit).offset(offset)
        )
        return list(rows), int(total or 0)

    async def remove(self, campaign: Campaign) -> None:
        """Delete the campaign."""
        await self.session.execute(
            delete(Campaign).where(Campaign.org_id == self.org_id, Campaign.id == campaign.id)
        )


async def campaign_webhooks(session: AsyncSession, keys: Sequence[tuple[str, str, str]]) -> list[Any]:
    """``(org, sandbox, id, enable_webhooks, webhook_url, webhook_events)`` of the campaigns of these
    ``(org, sandbox, id)`` keys: each key carries its own tenant (a runtime read for many tenants at once)."""
    if not keys:
        return []
    rows = await session.execute(
        select(
            Campaign.org_id,
            Campaign.sandbox_id,
            Campaign.id,
            Campaign.enable_webhooks,
            Campaign.webhook_url,
            Campaign.webhook_events,
        ).where(tuple_(Campaign.org_id, Campaign.sandbox_id, Campaign.id).in_(list(keys)))
    )
    return list(rows)
