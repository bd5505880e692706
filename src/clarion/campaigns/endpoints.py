"""HTTP endpoints of the campaigns domain: /v1 management of IP pools, channel configurations, campaigns."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from clarion.api.deps import ContainerDep, UoWDep
from clarion.api.openapi import raises
from clarion.campaigns import adobe_view, channel_configurations, ip_pools
from clarion.campaigns import service as campaigns
from clarion.campaigns.schemas import (
    CampaignRead,
    CampaignWrite,
    ChannelConfigurationRead,
    ChannelConfigurationWrite,
    IpPoolRead,
    IpPoolWrite,
)
from clarion.kit.pagination import Page, PageParams, page_params
from clarion.kit.params import Id, PageNumber, limit_query, text_query
from clarion.tenancy.gateway import DeveloperDep, ReaderDep

router = APIRouter(prefix="/v1", tags=["campaigns"])
PageDep = Annotated[PageParams, Depends(page_params)]


@router.post("/ip-pools", status_code=201, responses=raises(409))
async def create_ip_pool(
    body: IpPoolWrite, principal: DeveloperDep, uow: UoWDep, container: ContainerDep
) -> IpPoolRead:
    """Create an IP pool (organization-wide)."""
    pool = await ip_pools.create(uow, principal, body, container.secrets)
    return IpPoolRead.from_model(pool)


@router.get("/ip-pools")
async def list_ip_pools(principal: ReaderDep, uow: UoWDep, page: PageDep) -> Page[IpPoolRead]:
    """The organization's IP pools."""
    pools, total = await ip_pools.page(uow, principal, limit=page.limit, offset=page.offset)
    items = [IpPoolRead.from_model(pool) for pool in pools]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/ip-pools/{pool_id}")
async def read_ip_pool(pool_id: Id, principal: ReaderDep, uow: UoWDep) -> IpPoolRead:
    """One IP pool."""
    return IpPoolRead.from_model(await ip_pools.get(uow, principal, pool_id))


@router.put("/ip-pools/{pool_id}")
async def replace_ip_pool(
    pool_id: Id, body: IpPoolWrite, principal: DeveloperDep, uow: UoWDep, container: ContainerDep
) -> IpPoolRead:
    """Replace an IP pool's relays and settings (its name is fixed)."""
    pool = await ip_pools.replace(uow, principal, pool_id, body, container.secrets)
    return IpPoolRead.from_model(pool)


@router.delete("/ip-pools/{pool_id}", status_code=204, responses=raises(409))
async def delete_ip_pool(pool_id: Id, principal: DeveloperDep, uow: UoWDep) -> Response:
    """Delete an IP pool no channel configuration uses (409 otherwise)."""
    await ip_pools.delete(uow, principal, pool_id)
    return Response(status_code=204)


@router.post("/channel-configurations", status_code=201, responses=raises(409))
async def create_channel_configuration(
    body: ChannelConfigurationWrite, principal: DeveloperDep, uow: UoWDep, container: ContainerDep
) -> ChannelConfigurationRead:
    """Create a channel configuration in the sandbox."""
    configuration = await channel_configurations.create(uow, principal, body, container.secrets)
    return ChannelConfigurationRead.from_model(configuration)


@router.get("/channel-configurations")
async def list_channel_configurations(
    principal: ReaderDep, uow: UoWDep, page: PageDep
) -> Page[ChannelConfigurationRead]:
    """The sandbox's channel configurations."""
    rows, total = await channel_configurations.page(uow, principal, limit=page.limit, offset=page.offset)
    items = [ChannelConfigurationRead.from_model(row) for row in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/channel-configurations/{configuration_id}")
async def read_channel_configuration(
    configuration_id: Id, principal: ReaderDep, uow: UoWDep
) -> ChannelConfigurationRead:
    """One channel configuration."""
    configuration = await channel_configurations.get(uow, principal, configuration_id)
    return ChannelConfigurationRead.from_model(configuration)


@router.put("/channel-configurations/{configuration_id}", responses=raises(409))
async def replace_channel_configuration(
    configuration_id: Id,
    body: ChannelConfigurationWrite,
    principal: DeveloperDep,
    uow: UoWDep,
    container: ContainerDep,
) -> ChannelConfigurationRead:
    """Replace a channel configuration."""
    configuration = await channel_configurations.replace(
        uow, principal, configuration_id, body, container.secrets
    )
    return ChannelConfigurationRead.from_model(configuration)


@router.delete("/channel-configurations/{configuration_id}", status_code=204, responses=raises(409))
async def delete_channel_configuration(
    configuration_id: Id, principal: DeveloperDep, uow: UoWDep
) -> Response:
    """Delete a channel configuration no campaign uses (409 otherwise)."""
    await channel_configurations.delete(uow, principal, configuration_id)
    return Response(status_code=204)


@router.post("/campaigns", status_code=201)
async def create_campaign(body: CampaignWrite, principal: DeveloperDep, uow: UoWDep) -> CampaignRead:
    """Create a Draft campaign."""
    return CampaignRead.from_model(await campaigns.create(uow, principal, body))


@router.get("/campaigns")
async def list_campaigns(
    principal: ReaderDep,
    uow: UoWDep,
    page: PageDep,
    status: Annotated[str | None, text_query("Draft, Scheduled, Live, Stopped, Completed")] = None,
    name: Annotated[str | None, text_query("Part of the name")] = None,
) -> Page[CampaignRead]:
    """The sandbox's campaigns, newest first."""
    rows, total = await campaigns.page(
        uow, principal, limit=page.limit, offset=page.offset, status=status, name_like=name
    )
    items = [CampaignRead.from_model(row) for row in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/campaigns/{campaign_id}")
async def read_campaign(campaign_id: Id, principal: ReaderDep, uow: UoWDep) -> CampaignRead:
    """One campaign."""
    return CampaignRead.from_model(await campaigns.get(uow, principal, campaign_id))


@router.put("/campaigns/{campaign_id}", responses=raises(409))
async def replace_campaign(
    campaign_id: Id, body: CampaignWrite, principal: DeveloperDep, uow: UoWDep
) -> CampaignRead:
    """Replace a Draft campaign."""
    campaign = await campaigns.replace(uow, principal, campaign_id, body)
    return CampaignRead.from_model(campaign)


@router.delete("/campaigns/{campaign_id}", status_code=204, responses=raises(409))
async def delete_campaign(campaign_id: Id, principal: DeveloperDep, uow: UoWDep) -> Response:
    """Delete a Draft campaign (409 otherwise)."""
    await campaigns.delete(uow, principal, campaign_id)
    return Response(status_code=204)


@router.post("/campaigns/{campaign_id}/activate", responses=raises(409))
async def activate_campaign(campaign_id: Id, principal: DeveloperDep, uow: UoWDep) -> CampaignRead:
    """Draft → Live (or Scheduled when its start date lies ahead)."""
    campaign = await campaigns.activate(uow, principal, campaign_id)
    return CampaignRead.from_model(campaign)


@router.post("/campaigns/{campaign_id}/stop", responses=raises(409))
async def stop_campaign(campaign_id: Id, principal: DeveloperDep, uow: UoWDep) -> CampaignRead:
    """Live or Scheduled → Stopped."""
    campaign = await campaigns.stop(uow, principal, campaign_id)
    return CampaignRead.from_model(campaign)


read_router = APIRouter(prefix="/journey/campaigns/service", tags=["campaign read API (AJO)"])


@read_router.get("/campaigns")
async def adobe_list_campaigns(
    principal: ReaderDep,
    uow: UoWDep,
    container: ContainerDep,
    count: Annotated[int, limit_query(1000, "Items per page")] = 50,
    page: PageNumber = 0,
    orderby: Annotated[str, text_query("Field to sort by")] = "name",
    property_filter: Annotated[
        str | None, text_query('e.g. name=like="receipt";status==Live', alias="property")
    ] = None,
) -> dict[str, object]:
    """AJO ``getCampaigns``: the Multi Response Model."""
    rows, _ = await campaigns.page(uow, principal, limit=10_000, offset=0)
    base = container.settings.base_url
    models = [adobe_view.campaign_model(row, base) for row in rows]
    return adobe_view.select(
        models, count=count, page=page, orderby=orderby, property_filter=property_filter, base_url=base
    )


@read_router.get("/campaigns/{campaign_id}")
async def adobe_read_campaign(
    campaign_id: Id, principal: ReaderDep, uow: UoWDep, container: ContainerDep
) -> dict[str, object]:
    """AJO ``getCampaign``: the Campaign Model."""
    campaign = await campaigns.get(uow, principal, campaign_id)
    return adobe_view.campaign_model(campaign, container.settings.base_url)
