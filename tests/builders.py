"""Builders for IP pools, channel configurations and campaigns, through the real API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Tenant:
    """A fresh organization with a credential: its ids and ready-made headers."""

    org_id: str
    ims_org_id: str
    api_key: str
    token: str

    def headers(self, sandbox: str = "prod") -> dict[str, str]:
        """The gateway headers of this tenant."""
        return {
            "Authorization": f"Bearer {self.token}",
            "x-api-key": self.api_key,
            "x-gw-ims-org-id": self.ims_org_id,
            "x-sandbox-name": sandbox,
        }


@dataclass
class Api:
    """A tenant's view of the /v1 campaign management API."""

    client: httpx.AsyncClient
    tenant: Tenant

    async def call(
        self, method: str, path: str, body: Any = None, *, expect: int | None = None
    ) -> httpx.Response:
        response = await self.client.request(method, path, json=body, headers=self.tenant.headers())
        if expect is not None:
            assert response.status_code == expect, response.text
        return response

    async def pool(self, name: str = "pool1", *, port: int = 2525, **extra: Any) -> dict[str, Any]:
        body = {"name": name, "relays": [{"host": "127.0.0.1", "port": port}], **extra}
        return (await self.call("POST", "/v1/ip-pools", body, expect=201)).json()  # type: ignore[no-any-return]

    async def configuration(
        self, pool_id: str, *, name: str = "email1", high_throughput: bool = False, **email: Any
    ) -> dict[str, Any]:
        body = {
            "name": name,
            "channel": "email",
            "highThroughput": high_throughput,
            "email": {"fromAddress": "news@shop.example", "fromName": "Shop", "ipPoolId": pool_id, **email},
        }
        return (await self.call("POST", "/v1/channel-configurations", body, expect=201)).json()  # type: ignore[no-any-return]

    def campaign_body(
        self, configuration_id: str, *, high_throughput: bool = False, **fields: Any
    ) -> dict[str, Any]:
        return {
            "name": "Order confirmation",
            "channel": "email",
            "channelConfigurationId": configuration_id,
            "highThroughputMode": high_throughput,
            "content": {
                "email": {"subject": "Order {{context.order.id}}", "html": "<p>Hello {{context.name}}</p>"}
            },
            **fields,
        }

    async def campaign(self, configuration_id: str, **fields: Any) -> dict[str, Any]:
        body = self.campaign_body(configuration_id, **fields)
        return (await self.call("POST", "/v1/campaigns", body, expect=201)).json()  # type: ignore[no-any-return]


ApiFactory = Callable[..., Awaitable[Api]]
