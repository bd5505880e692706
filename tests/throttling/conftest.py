"""A Journey Orchestration client per tenant, under each of the two mount prefixes."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from clarion.throttling.endpoints import PREFIXES
from tests.builders import Tenant
from tests.conftest import TenantFactory

ISO_MICRO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_ABSENT: Any = object()

THROTTLING_BODY: dict[str, Any] = {
    "name": "throttling-config-external",
    "description": "example of throttling config for an external endpoint",
    "urlPattern": "https://api.example.org/data/2.5/*",
    "methods": ["POST", "PUT"],
    "maxThroughput": 4000,
}
CAPPING_BODY: dict[str, Any] = {
    "url": "https://api.example.org/data/2.5/*",
    "methods": ["GET"],
    "services": {
        "dataSource": {"maxHttpConnections": 50, "rating": {"maxCallsCount": 500, "periodInMs": 1000}}
    },
    "orgId": "<IMS Org Id>",
}


@dataclass
class Jo:
    """One tenant's client of the throttling and capping APIs under one prefix."""

    client: httpx.AsyncClient
    tenant: Tenant
    prefix: str
    sandbox: str = "prod"

    async def call(
        self,
        method: str,
        path: str,
        body: Any = _ABSENT,
        *,
        expect: int | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        headers = self.tenant.headers(self.sandbox)
        kwargs: dict[str, Any] = {}
        if content is not None:
            kwargs["content"] = content
            headers["Content-Type"] = "application/json"
        elif body is not _ABSENT:
            kwargs["json"] = body
        response = await self.client.request(method, self.prefix + path, headers=headers, **kwargs)
        if expect is not None:
            assert response.status_code == expect, response.text
        return response

    def in_sandbox(self, sandbox: str) -> Jo:
        """The same tenant and prefix, in another sandbox."""
        return Jo(self.client, self.tenant, self.prefix, sandbox)

    async def sandbox_id(self, name: str = "prod") -> str:
        response = await self.client.get(f"/v1/sandboxes/{name}", headers=self.tenant.headers())
        return str(response.json()["id"])

    async def new_sandbox(self, sandbox_type: str = "development") -> Jo:
        """A fresh sandbox of this tenant, and a client in it."""
        name = f"dev-{secrets.token_hex(3)}"
        response = await self.client.post(
            "/v1/sandboxes", json={"name": name, "type": sandbox_type}, headers=self.tenant.headers()
        )
        assert response.status_code == 201, response.text
        return self.in_sandbox(name)


def jo_error(response: httpx.Response, *, stringified: bool = True) -> dict[str, Any]:
    """The inner error of a Journey Orchestration envelope, checking the envelope on the way."""
    body = response.json()
    assert set(body) == {"status", "error", "requestId"}, body
    assert body["status"] == response.status_code
    assert re.fullmatch(r"[0-9a-zA-Z]{32}", body["requestId"])
    assert isinstance(body["error"], str) is stringified
    inner: dict[str, Any] = json.loads(body["error"]) if stringified else body["error"]
    assert {"code", "family", "message", "service", "version"} <= set(inner)
    return inner


@pytest.fixture(params=PREFIXES)
def prefix(request: pytest.FixtureRequest) -> str:
    """Each test runs under both mount points."""
    return str(request.param)


@pytest.fixture
async def jo(client: httpx.AsyncClient, make_tenant: TenantFactory, prefix: str) -> Jo:
    """A fresh tenant's client in its production sandbox."""
    return Jo(client, await make_tenant(), prefix)
