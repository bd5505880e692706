"""Fixtures for execution tests: live HT and standard campaigns, a real SMTP server, a running worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from tests.campaigns.conftest import Api, ApiFactory
from tests.delivery.servers import SmtpServer

HT_HTML = (
    "<h1>Order {{context.order.id}}</h1><ul>{{#each context.order.items}}<li>{{this.name}}</li>{{/each}}</ul>"
    "{{#if context.vip}}<p>VIP</p>{{else}}<p>Thanks</p>{{/if}}"
)


@dataclass
class Live:
    """A tenant with a Live high-throughput campaign and a Live standard one, both sending to ``smtp``."""

    api: Api
    ht_campaign: str
    std_campaign: str
    smtp: SmtpServer

    def body(
        self, *, campaign: str | None = None, recipients: list[dict[str, object]] | None = None
    ) -> dict[str, object]:
        return {
            "requestId": "req-1",
            "campaignId": campaign or self.ht_campaign,
            "recipients": recipients
            if recipients is not None
            else [
                {
                    "type": "external",
                    "userId": "ada@example.com",
                    "namespace": "email",
                    "context": {"order": {"id": "A-1", "items": {"a": {"name": "Lamp"}}}},
                }
            ],
        }


@pytest.fixture
async def smtp_server() -> AsyncIterator[SmtpServer]:
    async with SmtpServer() as server:
        yield server


@pytest.fixture
async def live(make_api: ApiFactory, smtp_server: SmtpServer) -> Live:
    api = await make_api()
    ht_pool = await api.pool("htpool", port=smtp_server.port)
    ht_configuration = await api.configuration(ht_pool["id"], name="htmail", high_throughput=True)
    ht = await api.campaign(
        ht_configuration["id"],
        high_throughput=True,
        name="HT receipts",
        content={"email": {"subject": "Order {{context.order.id}}", "html": HT_HTML}},
    )
    std_pool = await api.pool("stdpool", port=smtp_server.port)
    std_configuration = await api.configuration(std_pool["id"], name="stdmail")
    std = await api.campaign(
        std_configuration["id"],
        name="Standard",
        createNewProfile=True,
        content={
            "email": {
                "subject": "Hi {{profile.person.name.firstName}}",
                "text": "Dear {{profile.person.name.firstName}}, {{context.note}}",
            }
        },
    )
    for campaign in (ht, std):
        await api.call("POST", f"/v1/campaigns/{campaign['id']}/activate", expect=200)
    return Live(api, ht["id"], std["id"], smtp_server)
