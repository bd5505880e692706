"""Rules of channel configurations: a sandbox's email sender (through an IP pool) or sms/push provider."""

from __future__ import annotations

from typing import Any

from clarion.campaigns import content, dkim_keys
from clarion.campaigns.errors import ChannelConfigurationNotFound, InUse, InvalidCampaign, NameTaken
from clarion.campaigns.repository import ChannelConfigurationRepository, IpPoolRepository
from clarion.campaigns.schemas import ChannelConfigurationWrite
from clarion.db.uow import UnitOfWork
from clarion.kit.clock import utcnow
from clarion.kit.repository import require
from clarion.kit.secretbox import SecretBox
from clarion.models.campaigns import ChannelConfiguration
from clarion.tenancy.principal import Principal

SECRET_FIELDS = {"sms": "authToken", "push": "accessToken"}
"""The write-only provider secret of each non-email channel (stored sealed as ``<name>Sealed``)."""


async def create(
    uow: UnitOfWork, principal: Principal, body: ChannelConfigurationWrite, box: SecretBox
) -> ChannelConfiguration:
    """Create a channel configuration in the caller's sandbox."""
    repo = ChannelConfigurationRepository(uow.session, principal.org_id, principal.sandbox_id)
    if await repo.by_name(body.name) is not None:
        raise NameTaken(f"name: a channel configuration named {body.name!r} already exists")
    configuration = ChannelConfiguration(
        org_id=principal.org_id, sandbox_id=principal.sandbox_id, name=body.name
    )
    await _apply(uow, principal, configuration, body, box)
    repo.add(configuration)
    await uow.commit()
    return configuration


async def get(uow: UnitOfWork, principal: Principal, configuration_id: str) -> ChannelConfiguration:
    """One channel configuration of the caller's sandbox."""
    repo = ChannelConfigurationRepository(uow.session, principal.org_id, principal.sandbox_id)
    return require(
        await repo.get(configuration_id),
        ChannelConfigurationNotFound(f"Channel configuration {configuration_id!r} does not exist"),
    )


async def page(
    uow: UnitOfWork, principal: Principal, *, limit: int, offset: int
) -> tuple[list[ChannelConfiguration], int]:
    """The sandbox's channel configurations."""
    repo = ChannelConfigurationRepository(uow.session, principal.org_id, principal.sandbox_id)
    return await repo.page(
        ChannelConfiguration, limit=limit, offset=offset, order_by=ChannelConfiguration.name
    )


async def replace(
    uow: UnitOfWork,
    principal: Principal,
    configuration_id: str,
    body: ChannelConfigurationWrite,
    box: SecretBox,
) -> ChannelConfiguration:
    """Replace a configuration; campaigns pick the change up with their next message."""
    configuration = await get(uow, principal, configuration_id)
    repo = ChannelConfigurationRepository(uow.session, principal.org_id, principal.sandbox_id)
    if body.name != configuration.name and await repo.by_name(body.name) is not None:
        raise NameTaken(f"name: a channel configuration named {body.name!r} already exists")
    users = await repo.campaigns_using(configuration.id)
    if users and (
        body.channel != configuration.channel or body.high_throughput != configuration.high_throughput
    ):
        raise InUse("channel and highThroughput cannot change while campaigns use this configuration")
    configuration.name = body.name
    await _apply(uow, principal, configuration, body, box)
    configuration.version += 1
    configuration.modified_at = utcnow()
    await uow.commit()
    return configuration


async def delete(uow: UnitOfWork, principal: Principal, configuration_id: str) -> None:
    """Delete a configuration no campaign uses."""
    configuration = await get(uow, principal, configuration_id)
    repo = ChannelConfigurationRepository(uow.session, principal.org_id, principal.sandbox_id)
    users = await repo.campaigns_using(configuration.id)
    if users:
        names = ", ".join(sorted(campaign.name for campaign in users))
        raise InUse(f"channel configuration {configuration.name!r} is used by campaign(s) {names}")
    await repo.remove(configuration)
    await uow.commit()


async def _apply(
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
        previous = configuration.settings.get("dkim") if configuration.channel == "email" else None
        settings["dkim"] = dkim_keys.stored_keys(settings, previous or [], box)
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
    pools = IpPoolRepository(uow.session, principal.org_id)
    pool = require(
        await pools.get(settings["ipPoolId"]),
        InvalidCampaign(f"email.ipPoolId: IP pool {settings['ipPoolId']!r} does not exist"),
    )
    for other in await pools.configurations_using(pool.id):
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
