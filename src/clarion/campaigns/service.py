"""Rules of IP pools, channel configurations and campaigns (lifecycle, high-throughput constraints)."""

from __future__ import annotations

from typing import Any

from clarion.actions.repository import CustomActionRepository
from clarion.campaigns import content
from clarion.campaigns.errors import (
    CampaignNotFound,
    ChannelConfigurationNotFound,
    InUse,
    InvalidCampaign,
    InvalidState,
    NameTaken,
)
from clarion.campaigns.repository import CampaignRepository, ChannelConfigurationRepository, IpPoolRepository
from clarion.campaigns.schemas import (
    CampaignSnapshot,
    CampaignWrite,
    ChannelConfigurationWrite,
    DeliverySettings,
    effective_status,
)
from clarion.db.uow import UnitOfWork
from clarion.kit.clock import utcnow
from clarion.kit.secretbox import SecretBox
from clarion.models.campaigns import Campaign, ChannelConfiguration
from clarion.tenancy.principal import Principal

SECRET_FIELDS = {"sms": "authToken", "push": "accessToken"}
"""The write-only provider secret of each non-email channel (stored sealed as ``<name>Sealed``)."""


# Channel configurations -------------------------------------------------------------------------------


async def create_channel_configuration(
    uow: UnitOfWork, principal: Principal, body: ChannelConfigurationWrite, box: SecretBox
) -> ChannelConfiguration:
    """Create a channel configuration in the caller's sandbox."""
    repo = ChannelConfigurationRepository(uow.session, principal.org_id, principal.sandbox_id)
    if await repo.by_name(body.name) is not None:
        raise NameTaken(f"name: a channel configuration named {body.name!r} already exists")
    configuration = ChannelConfiguration(
        org_id=principal.org_id, sandbox_id=principal.sandbox_id, name=body.name
    )
    await _apply_configuration(uow, principal, configuration, body, box)
    repo.add(configuration)
    await uow.commit()
    return configuration


async def get_channel_configuration(
    uow: UnitOfWork, principal: Principal, configuration_id: str
) -> ChannelConfiguration:
    """One channel configuration of the caller's sandbox."""
    repo = ChannelConfigurationRepository(uow.session, principal.org_id, principal.sandbox_id)
    configuration = await repo.get(configuration_id)
    if configuration is None:
        raise ChannelConfigurationNotFound(f"Channel configuration {configuration_id!r} does not exist")
    return configuration


async def list_channel_configurations(
    uow: UnitOfWork, principal: Principal, *, limit: int, offset: int
) -> tuple[list[ChannelConfiguration], int]:
    """The sandbox's channel configurations."""
    repo = ChannelConfigurationRepository(uow.session, principal.org_id, principal.sandbox_id)
    return await repo.page(
        ChannelConfiguration, limit=limit, offset=offset, order_by=ChannelConfiguration.name
    )


async def replace_channel_configuration(
    uow: UnitOfWork,
    principal: Principal,
    configuration_id: str,
    body: ChannelConfigurationWrite,
    box: SecretBox,
) -> ChannelConfiguration:
    """Replace a configuration; campaigns pick the change up with their next message."""
    configuration = await get_channel_configuration(uow, principal, configuration_id)
    repo = ChannelConfigurationRepository(uow.session, principal.org_id, principal.sandbox_id)
    if body.name != configuration.name and await repo.by_name(body.name) is not None:
        raise NameTaken(f"name: a channel configuration named {body.name!r} already exists")
    users = await repo.campaigns_using(configuration.id)
    if users and (
        body.channel != configuration.channel or body.high_throughput != configuration.high_throughput
    ):
        raise InUse("channel and highThroughput cannot change while campaigns use this configuration")
    configuration.name = body.name
    await _apply_configuration(uow, principal, configuration, body, box)
    configuration.version += 1
    configuration.modified_at = utcnow()
    await uow.commit()
    return configuration


async def delete_channel_configuration(uow: UnitOfWork, principal: Principal, configuration_id: str) -> None:
    """Delete a configuration no campaign uses."""
    configuration = await get_channel_configuration(uow, principal, configuration_id)
    repo = ChannelConfigurationRepository(uow.session, principal.org_id, principal.sandbox_id)
    users = await repo.campaigns_using(configuration.id)
    if users:
        names = ", ".join(sorted(campaign.name for campaign in users))
        raise InUse(f"channel configuration {configuration.name!r} is used by campaign(s) {names}")
    await repo.remove(configuration)
    await uow.commit()


async def _apply_configuration(
    uow: UnitOfWork,
    principal: Principal,
    configuration: ChannelConfiguration,
    body: ChannelConfigurationWrite,
    box: SecretBox,
) -> None:
    if body.high_throughput and body.channel != "email":
        raise InvalidCampaign(
            f"highThroughput: only email configurations can be high throughput (got {body.channel})"
        )
    if body.high_throughput and not principal.high_throughput_entitled:
        raise InvalidCampaign(
            "highThroughput: the organization does not hold the high-throughput entitlement"
        )
    block = getattr(body, body.channel)
    settings: dict[str, Any] = block.model_dump(by_alias=True)
    if body.channel == "email":
        await _check_email_settings(
            uow, principal, configuration, settings, high_throughput=body.high_throughput
        )
        configuration.ip_pool_id = settings["ipPoolId"]
    else:
        configuration.ip_pool_id = None
        secret_name = SECRET_FIELDS[body.channel]
        secret = settings.pop(secret_name)
        previous = (
            configuration.settings.get(f"{secret_name}Sealed")
            if configuration.channel == body.channel
            else None
        )
        settings[f"{secret_name}Sealed"] = box.seal(secret) if secret else previous
        if not settings[f"{secret_name}Sealed"]:
            raise InvalidCampaign(f"{body.channel}.{secret_name}: required")
    configuration.description = body.description
    configuration.channel = body.channel
    configuration.high_throughput = body.high_throughput
    configuration.settings = settings


async def _check_email_settings(
    uow: UnitOfWork,
    principal: Principal,
    configuration: ChannelConfiguration,
    settings: dict[str, Any],
    *,
    high_throughput: bool,
) -> None:
    pool = await IpPoolRepository(uow.session, principal.org_id).get(settings["ipPoolId"])
    if pool is None:
        raise InvalidCampaign(f"email.ipPoolId: IP pool {settings['ipPoolId']!r} does not exist")
    for other in await IpPoolRepository(uow.session, principal.org_id).configurations_using(pool.id):
        if other.id != configuration.id and other.high_throughput != high_throughput:
            kind = "high-throughput" if other.high_throughput else "standard"
            raise InvalidCampaign(
                f"email.ipPoolId: IP pool {pool.name!r} is dedicated to {kind} configurations "
                f"(used by {other.name!r}); high-throughput and standard sending never share a pool"
            )
    for field in content.sender_fields(settings):
        if high_throughput and content.has_personalization(field.source):
            raise InvalidCampaign(
                f"{field.location}: personalization is not allowed in a high-throughput configuration",
                context={"field": field.location, "rule": "no_personalization_in_ht"},
            )
        content.compile_field(field)


def configuration_view(configuration: ChannelConfiguration) -> dict[str, Any]:
    """The API view of a configuration; sealed secrets appear as ``has<Name>``."""
    settings = {key: value for key, value in configuration.settings.items() if not key.endswith("Sealed")}
    for key, value in configuration.settings.items():
        if key.endswith("Sealed"):
            name = key.removesuffix("Sealed")
            settings[f"has{name[0].upper()}{name[1:]}"] = bool(value)
    return {
        "id": configuration.id,
        "name": configuration.name,
        "description": configuration.description,
        "channel": configuration.channel,
        "high_throughput": configuration.high_throughput,
        configuration.channel: settings,
        "created_at": configuration.created_at,
        "modified_at": configuration.modified_at,
    }


# Campaigns --------------------------------------------------------------------------------------------


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


async def create_campaign(uow: UnitOfWork, principal: Principal, body: CampaignWrite) -> Campaign:
    """Create a Draft campaign after checking its content and configuration."""
    campaign = Campaign(
        org_id=principal.org_id, sandbox_id=principal.sandbox_id, created_by=principal.technical_account
    )
    await _apply_campaign(uow, principal, campaign, body)
    CampaignRepository(uow.session, principal.org_id, principal.sandbox_id).add(campaign)
    await uow.commit()
    return campaign


async def get_campaign(uow: UnitOfWork, principal: Principal, campaign_id: str) -> Campaign:
    """One campaign of the caller's sandbox."""
    campaign = await CampaignRepository(uow.session, principal.org_id, principal.sandbox_id).get(campaign_id)
    if campaign is None:
        raise CampaignNotFound(f"Campaign {campaign_id!r} does not exist")
    return campaign


async def list_campaigns(
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


async def replace_campaign(
    uow: UnitOfWork, principal: Principal, campaign_id: str, body: CampaignWrite
) -> Campaign:
    """Replace a Draft campaign (a new version)."""
    campaign = await get_campaign(uow, principal, campaign_id)
    _require_status(campaign, {"Draft"}, "edited")
    await _apply_campaign(uow, principal, campaign, body)
    campaign.version += 1
    await uow.commit()
    return campaign


async def delete_campaign(uow: UnitOfWork, principal: Principal, campaign_id: str) -> None:
    """Delete a Draft campaign."""
    campaign = await get_campaign(uow, principal, campaign_id)
    _require_status(campaign, {"Draft"}, "deleted")
    await CampaignRepository(uow.session, principal.org_id, principal.sandbox_id).remove(campaign)
    await uow.commit()


async def activate_campaign(uow: UnitOfWork, principal: Principal, campaign_id: str) -> Campaign:
    """Draft → Live, or Scheduled when the start date lies ahead; every rule is checked again."""
    campaign = await get_campaign(uow, principal, campaign_id)
    _require_status(campaign, {"Draft"}, "activated")
    now = utcnow()
    if campaign.end_date is not None and campaign.end_date <= now:
        raise InvalidCampaign("schedule.endDate: lies in the past; the campaign could never run")
    configuration = await get_channel_configuration(uow, principal, campaign.channel_configuration_id)
    _check_campaign(principal, campaign, configuration)
    campaign.status = "Scheduled" if campaign.start_date is not None and campaign.start_date > now else "Live"
    campaign.activated_at = now
    campaign.modified_at = now
    campaign.modified_by = principal.technical_account
    await uow.commit()
    return campaign


async def stop_campaign(uow: UnitOfWork, principal: Principal, campaign_id: str) -> Campaign:
    """Live or Scheduled → Stopped (final: a stopped campaign cannot be reused)."""
    campaign = await get_campaign(uow, principal, campaign_id)
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


async def _apply_campaign(
    uow: UnitOfWork, principal: Principal, campaign: Campaign, body: CampaignWrite
) -> None:
    configuration = await ChannelConfigurationRepository(
        uow.session, principal.org_id, principal.sandbox_id
    ).get(body.channel_configuration_id)
    if configuration is None:
        raise InvalidCampaign(
            f"channelConfigurationId: channel configuration {body.channel_configuration_id!r} does not exist"
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
    if action_id is not None and await _actions(uow, principal).get(action_id) is None:
        raise InvalidCampaign(
            f"customActionId: custom action {body.custom_action_id!r} does not exist in this sandbox"
        )
    campaign.custom_action_id = body.custom_action_id
    campaign.modified_at = utcnow()
    campaign.modified_by = principal.technical_account
    _check_campaign(principal, campaign, configuration)


def _check_campaign(principal: Principal, campaign: Campaign, configuration: ChannelConfiguration) -> None:
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


def _actions(uow: UnitOfWork, principal: Principal) -> CustomActionRepository:
    return CustomActionRepository(uow.session, principal.org_id, principal.sandbox_id)


def _kind(high_throughput: bool) -> str:
    return "high-throughput" if high_throughput else "standard"


def campaign_view(campaign: Campaign) -> dict[str, Any]:
    """The /v1 view of a campaign, with its effective status."""
    return {
        "id": campaign.id,
        "name": campaign.name,
        "description": campaign.description,
        "category": campaign.category,
        "channel": campaign.channel,
        "channel_configuration_id": campaign.channel_configuration_id,
        "high_throughput_mode": campaign.high_throughput,
        "identity_namespace": campaign.identity_namespace,
        "create_new_profile": campaign.create_new_profile,
        "enable_webhooks": campaign.enable_webhooks,
        "webhook_url": campaign.webhook_url,
        "throttle_rate_per_sec": campaign.throttle_rate_per_second,
        "schedule": {"start_date": campaign.start_date, "end_date": campaign.end_date},
        "content": campaign.content,
        "custom_action_id": campaign.custom_action_id,
        "status": effective_status(campaign, utcnow()),
        "version": campaign.version,
        "created_at": campaign.created_at,
        "modified_at": campaign.modified_at,
        "activated_at": campaign.activated_at,
        "stopped_at": campaign.stopped_at,
    }


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
    )
