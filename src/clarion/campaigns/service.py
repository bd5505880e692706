"""Rules of campaigns (lifecycle, high-throughput constraints) and the snapshots other domains read.

IP pools and channel configurations have their own modules (``ip_pools``, ``channel_configurations``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clarion.actions.service import action_exists
from clarion.campaigns import channel_configurations, content
from clarion.campaigns.errors import CampaignNotFound, InvalidCampaign, InvalidState
from clarion.campaigns.repository import CampaignRepository, ChannelConfigurationRepository, IpPoolRepository
from clarion.campaigns.schemas import CampaignSnapshot, CampaignWrite, DeliverySettings, effective_status
from clarion.db.uow import UnitOfWork
from clarion.kit.clock import utcnow
from clarion.kit.repository import require
from clarion.models.campaigns import Campaign, ChannelConfiguration
from clarion.tenancy.principal import Principal


async def create(uow: UnitOfWork, principal: Principal, body: CampaignWrite) -> Campaign:
    """Create a Draft campaign after checking its content and configuration."""
    campaign = Campaign(
        org_id=principal.org_id, sandbox_id=principal.sandbox_id, created_by=principal.technical_account
    )
    await _apply(uow, principal, campaign, body)
    CampaignRepository(uow.session, principal.org_id, principal.sandbox_id).add(campaign)
    await uow.commit()
    return campaign


async def get(uow: UnitOfWork, principal: Principal, campaign_id: str) -> Campaign:
    """One campaign of the caller's sandbox."""
    campaign = await CampaignRepository(uow.session, principal.org_id, principal.sandbox_id).get(campaign_id)
    return require(campaign, CampaignNotFound(f"Campaign {campaign_id!r} does not exist"))


async def page(
    uow: UnitOfWork,
    principal: Principal,
    *,
    limit: int,
    offset: int,
    status: str | None = None,
    name_like: str | None = None,
) -> tuple[list[Campaign], int]:
    """The sandbox's campaigns, newest first."""
    repo = CampaignRepository(uow.session, principal.org_id, principal.sandbox_id)
    return await repo.page_filtered(limit=limit, offset=offset, status=status, name_like=name_like)


async def replace(uow: UnitOfWork, principal: Principal, campaign_id: str, body: CampaignWrite) -> Campaign:
    """Replace a Draft campaign (a new version)."""
    campaign = await get(uow, principal, campaign_id)
    _require_status(campaign, {"Draft"}, "edited")
    await _apply(uow, principal, campaign, body)
    campaign.version += 1
    await uow.commit()
    return campaign


async def delete(uow: UnitOfWork, principal: Principal, campaign_id: str) -> None:
    """Delete a Draft campaign."""
    campaign = await get(uow, principal, campaign_id)
    _require_status(campaign, {"Draft"}, "deleted")
    await CampaignRepository(uow.session, principal.org_id, principal.sandbox_id).remove(campaign)
    await uow.commit()


async def activate(uow: UnitOfWork, principal: Principal, campaign_id: str) -> Campaign:
    """Draft → Live, or Scheduled when the start date lies ahead; every rule is checked again."""
    campaign = await get(uow, principal, campaign_id)
    _require_status(campaign, {"Draft"}, "activated")
    now = utcnow()
    if campaign.end_date is not None and campaign.end_date <= now:
        raise InvalidCampaign("schedule.endDate: lies in the past; the campaign could never run")
    configuration = await channel_configurations.get(uow, principal, campaign.channel_configuration_id)
    _check(principal, campaign, configuration)
    campaign.status = "Scheduled" if campaign.start_date is not None and campaign.start_date > now else "Live"
    campaign.activated_at = now
    campaign.modified_at = now
    campaign.modified_by = principal.technical_account
    await uow.commit()
    return campaign


async def stop(uow: UnitOfWork, principal: Principal, campaign_id: str) -> Campaign:
    """Live or Scheduled → Stopped (final: a stopped campaign cannot be reused)."""
    campaign = await get(uow, principal, campaign_id)
    _require_status(campaign, {"Live", "Scheduled"}, "stopped")
    now = utcnow()
    campaign.status = "Stopped"
    campaign.stopped_at = now
    campaign.modified_at = now
    campaign.modified_by = principal.technical_account
    await uow.commit()
    return campaign


def _require_status(campaign: Campaign, allowed: set[str], action: str) -> None:
    status = effective_status(campaign, utcnow())
    if status not in allowed:
        raise InvalidState(
            f"campaign {campaign.id} is {status}; "
            f"only {' or '.join(sorted(allowed))} campaigns can be {action}"
        )


async def _apply(uow: UnitOfWork, principal: Principal, campaign: Campaign, body: CampaignWrite) -> None:
    configurations = ChannelConfigurationRepository(uow.session, principal.org_id, principal.sandbox_id)
    configuration = require(
        await configurations.get(body.channel_configuration_id),
        InvalidCampaign(
            f"channelConfigurationId: channel configuration {body.channel_configuration_id!r} does not exist"
        ),
    )
    campaign.name = body.name
    campaign.description = body.description
    campaign.category = body.category
    campaign.channel = body.channel
    campaign.channel_configuration_id = configuration.id
    campaign.high_throughput = body.high_throughput_mode
    campaign.identity_namespace = body.identity_namespace
    campaign.create_new_profile = body.create_new_profile
    campaign.enable_webhooks = body.enable_webhooks
    campaign.webhook_url = body.webhook_url
    campaign.throttle_rate_per_second = body.throttle_rate_per_sec
    campaign.start_date = body.schedule.start_date
    campaign.end_date = body.schedule.end_date
    campaign.content = body.content.model_dump(by_alias=True, exclude_none=True)
    action_id = body.custom_action_id
    if action_id is not None and not await action_exists(uow, principal, action_id):
        raise InvalidCampaign(
            f"customActionId: custom action {body.custom_action_id!r} does not exist in this sandbox"
        )
    campaign.custom_action_id = body.custom_action_id
    campaign.modified_at = utcnow()
    campaign.modified_by = principal.technical_account
    _check(principal, campaign, configuration)


def _check(principal: Principal, campaign: Campaign, configuration: ChannelConfiguration) -> None:
    """The rules of SPEC §2, for save and again at activation (the configuration may have changed)."""
    if configuration.channel != campaign.channel:
        raise InvalidCampaign(
            f"channelConfigurationId: configuration {configuration.name!r} is for {configuration.channel}, "
            f"the campaign is {campaign.channel}"
        )
    if campaign.high_throughput:
        if campaign.channel != "email":
            raise InvalidCampaign(
                f"highThroughputMode: only email campaigns can be high throughput (got {campaign.channel})"
            )
        if not principal.high_throughput_entitled:
            raise InvalidCampaign(
                "highThroughputMode: the organization does not hold the high-throughput entitlement"
            )
        if campaign.create_new_profile:
            raise InvalidCampaign("createNewProfile: high-throughput campaigns never read or create profiles")
    if configuration.high_throughput != campaign.high_throughput:
        wanted = "a high-throughput" if campaign.high_throughput else "a standard"
        raise InvalidCampaign(
            f"channelConfigurationId: {wanted} campaign needs {wanted} channel configuration "
            f"({configuration.name!r} is {_kind(configuration.high_throughput)})"
        )
    content.check_templates(
        content.content_fields(campaign.channel, campaign.content), high_throughput=campaign.high_throughput
    )
    if campaign.channel == "email":
        content.check_templates(
            content.sender_fields(configuration.settings), high_throughput=campaign.high_throughput
        )


def check_content(channel: str, blocks: Mapping[str, Any], *, high_throughput: bool) -> None:
    """The content rules of a save (every template parses; no ``profile.*`` in high throughput), for previews.

    ``blocks`` is the stored camelCase content (``{"email": {"subject": …}}``); a refusal is the
    ``InvalidCampaign`` a save would raise, naming the field, line and column.
    """
    content.check_templates(content.content_fields(channel, blocks), high_throughput=high_throughput)


def _kind(high_throughput: bool) -> str:
    return "high-throughput" if high_throughput else "standard"


# Snapshots published to other domains -----------------------------------------------------------------


async def snapshot(uow: UnitOfWork, principal: Principal, campaign_id: str) -> CampaignSnapshot | None:
    """The campaign's snapshot, or None when it does not exist in the caller's sandbox."""
    campaign = await CampaignRepository(uow.session, principal.org_id, principal.sandbox_id).get(campaign_id)
    if campaign is None:
        return None
    return CampaignSnapshot(
        id=campaign.id,
        status=campaign.status,
        start_date=campaign.start_date,
        end_date=campaign.end_date,
        high_throughput=campaign.high_throughput,
        channel=campaign.channel,
        version=campaign.version,
        create_new_profile=campaign.create_new_profile,
        identity_namespace=campaign.identity_namespace,
    )


async def delivery_settings(
    uow: UnitOfWork, *, org_id: str, sandbox_id: str, campaign_id: str
) -> DeliverySettings | None:
    """Campaign, channel configuration and pool of a job (workers know ids, not a caller)."""
    campaign = await CampaignRepository(uow.session, org_id, sandbox_id).get(campaign_id)
    if campaign is None:
        return None
    configuration = await ChannelConfigurationRepository(uow.session, org_id, sandbox_id).get(
        campaign.channel_configuration_id
    )
    if configuration is None:
        return None
    pool = None
    if configuration.ip_pool_id is not None:
        pool = await IpPoolRepository(uow.session, org_id).get(configuration.ip_pool_id)
    return DeliverySettings(
        campaign_id=campaign.id,
        campaign_version=campaign.version,
        channel=campaign.channel,
        high_throughput=campaign.high_throughput,
        content=campaign.content,
        enable_webhooks=campaign.enable_webhooks,
        webhook_url=campaign.webhook_url,
        configuration_id=configuration.id,
        configuration_version=configuration.version,
        configuration=configuration.settings,
        pool_id=pool.id if pool else None,
        pool_version=pool.version if pool else 0,
        relays=pool.relays if pool else [],
        bind_addresses=pool.bind_addresses if pool else [],
        max_connections=pool.max_connections if pool else 1,
        custom_action_id=campaign.custom_action_id,
        category=campaign.category,
    )
