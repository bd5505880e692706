"""BundleCache against a real database: one load per campaign version however many jobs ask, edits picked
up within the TTL, and SMTP pools shared per IP pool, replaced (the old one closed) when the pool changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from clarion.campaigns import service as campaigns
from clarion.delivery.bundle import Bundle, BundleCache
from clarion.delivery.schemas import Recipient
from clarion.services import Services
from clarion.tenancy.principal import Role
from tests.builders import Api
from tests.delivery.servers import SmtpServer

TTL = 0.05


class Campaign:
    """A campaign sending through an IP pool whose relay is ``server``, and a cache to load it with."""

    def __init__(self, api: Api, services: Services, server: SmtpServer) -> None:
        self.api = api
        self.services = services
        self.server = server
        container = services.container
        self.cache = BundleCache(container.unit_of_work, container.secrets, services.http, ttl=TTL)

    async def create(self) -> None:
        self.pool = await self.api.pool("bundlepool", port=self.server.port)
        configuration = await self.api.configuration(self.pool["id"])
        self.campaign = (await self.api.campaign(configuration["id"]))["id"]
        principal = await self.services.gateway.authenticate(
            {key.lower(): value for key, value in self.api.tenant.headers().items()}, role=Role.READ_ONLY
        )
        self.key = (principal.org_id, principal.sandbox_id, self.campaign, 1)

    async def bundle(self) -> Bundle:
        bundle = await self.cache.get(*self.key)
        assert bundle is not None
        return bundle

    async def move_pool_to(self, server: SmtpServer) -> None:
        body = {"name": self.pool["name"], "relays": [{"host": "127.0.0.1", "port": server.port}]}
        await self.api.call("PUT", f"/v1/ip-pools/{self.pool['id']}", body, expect=200)


@pytest.fixture
async def first() -> AsyncIterator[SmtpServer]:
    async with SmtpServer() as server:
        yield server


@pytest.fixture
async def second() -> AsyncIterator[SmtpServer]:
    async with SmtpServer() as server:
        yield server


@pytest.fixture
async def campaign(api: Api, services: Services, first: SmtpServer) -> AsyncIterator[Campaign]:
    created = Campaign(api, services, first)
    await created.create()
    try:
        yield created
    finally:
        await created.cache.close()


async def send(bundle: Bundle, to: str = "ada@example.org") -> str:
    attempt = await bundle.channel.send(
        Recipient(index=0, userId=to, namespace="email", context={"order": {"id": "A-1"}})
    )
    return attempt.result.outcome


async def test_concurrent_callers_share_one_load(campaign: Campaign, monkeypatch: pytest.MonkeyPatch) -> None:
    loads = 0
    load_settings = campaigns.delivery_settings

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal loads
        loads += 1
        return await load_settings(*args, **kwargs)

    monkeypatch.setattr(campaigns, "delivery_settings", counted)
    bundles = await asyncio.gather(*(campaign.bundle() for _ in range(20)))

    assert loads == 1
    assert all(bundle is bundles[0] for bundle in bundles)


async def test_an_unknown_campaign_has_no_bundle(campaign: Campaign) -> None:
    org, sandbox, _, _ = campaign.key
    assert await campaign.cache.get(org, sandbox, "no-such-campaign", 1) is None


async def test_an_edited_pool_is_picked_up_and_a_bundle_still_served_uses_the_new_one(
    campaign: Campaign, first: SmtpServer, second: SmtpServer
) -> None:
    before = await campaign.bundle()
    assert await send(before) == "sent"
    await campaign.move_pool_to(second)
    # ``before`` stands for any bundle handed out before the reload: cached, or served while reloading.
    for _ in range(100):
        if await campaign.bundle() is not before:
            break
        await asyncio.sleep(TTL / 5)
    else:
        pytest.fail("the edited pool was never loaded")

    assert first.commands["QUIT"] == 1  # the old SMTP pool was closed …
    assert await send(before, "bob@example.org") == "sent"  # … yet the old bundle sends, through the new one
    assert [m.rcpt_tos for m in first.messages] == [("ada@example.org",)]
    assert [m.rcpt_tos for m in second.messages] == [("bob@example.org",)]


async def test_close_closes_the_pools(campaign: Campaign, first: SmtpServer) -> None:
    assert await send(await campaign.bundle()) == "sent"
    await campaign.cache.close()
    assert first.commands["QUIT"] == 1
