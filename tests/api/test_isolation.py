"""No route can reach another organization's data, and no non-public route works without credentials.

The sweep walks the application's own route table, so a new endpoint is covered the day it is added:
give its path parameters a value owned by organization A in ``owned_by_a`` below, or the test fails.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from clarion.actions.repository import insert_queued
from clarion.container import Container
from clarion.delivery.repository import upsert_messages
from tests.conftest import Tenant, TenantFactory

PUBLIC = {"/healthz", "/readyz", "/metrics"}


@dataclass
class OwnedByA:
    """What organization A created, by path parameter name, plus strings that must never leak to B."""

    params: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)


async def populate(client: httpx.AsyncClient, alice: Tenant, container: Container) -> OwnedByA:
    """Create one resource of every kind as A. Extend this as domains add resources."""
    owned = OwnedByA()
    sandbox = f"a-{secrets.token_hex(4)}"
    response = await client.post(
        "/v1/sandboxes", json={"name": sandbox, "title": "A's private title"}, headers=alice.headers()
    )
    assert response.status_code == 201, response.text
    owned.params["name"] = sandbox
    owned.secrets += [sandbox, response.json()["id"], "A's private title"]
    await populate_campaigns(client, alice, owned)
    await populate_messages(client, alice, owned, container)
    await populate_throttling(client, alice, owned)
    await populate_actions(client, alice, owned, container)
    return owned


async def populate_throttling(client: httpx.AsyncClient, alice: Tenant, owned: OwnedByA) -> None:
    """A deployed throttling configuration and a deployed capping configuration of A's.

    Both APIs name their path parameter ``uid``: the sweep uses the throttling one everywhere, and
    tests/capping checks the capping routes against another organization with a capping uid.
    """
    headers = alice.headers()
    base = "/journey/orchestration"
    throttling = await client.post(
        f"{base}/throttlingConfigs",
        headers=headers,
        json={
            "name": "Alice throttle",
            "urlPattern": "https://alice-api.example/*",
            "methods": ["POST"],
            "maxThroughput": 300,
        },
    )
    capping = await client.post(
        f"{base}/endpointConfigs",
        headers=headers,
        json={
            "url": "https://alice-capped.example/*",
            "methods": ["GET"],
            "services": {"action": {"rating": {"maxCallsCount": 5, "periodInMs": 1000}}},
        },
    )
    for created, kind in ((throttling, "throttlingConfigs"), (capping, "endpointConfigs")):
        assert created.status_code == 200, created.text
        uid = created.json()["uid"]
        deployed = await client.post(f"{base}/{kind}/{uid}/deploy", headers=headers)
        assert deployed.status_code == 204, deployed.text
        owned.secrets.append(uid)
    owned.params["uid"] = throttling.json()["uid"]
    owned.secrets += ["Alice throttle", "alice-api.example", "alice-capped.example"]


async def populate_messages(
    client: httpx.AsyncClient, alice: Tenant, owned: OwnedByA, container: Container
) -> None:
    """A triggered execution of A's campaign and its ledger row."""
    campaign_id = owned.params["campaign_id"]
    await client.post(f"/v1/campaigns/{campaign_id}/activate", headers=alice.headers())
    body = {
        "requestId": "alice-req",
        "campaignId": campaign_id,
        "recipients": [{"type": "external", "userId": "alice.customer@alice.example", "namespace": "email"}],
    }
    accepted = await client.post("/ajo/im/executions/unitary", headers=alice.headers(), json=body)
    assert accepted.status_code == 202, accepted.text
    execution = accepted.json()["executionId"]
    sandbox = (await client.get("/v1/sandboxes/prod", headers=alice.headers())).json()["id"]
    now = datetime.now(UTC)
    async with container.unit_of_work() as uow:
        await upsert_messages(
            uow.session,
            [
                {
                    "id": f"{execution}:0",
                    "org_id": alice.org_id,
                    "sandbox_id": sandbox,
                    "campaign_id": campaign_id,
                    "execution_id": execution,
                    "request_id": "alice-req",
                    "user_id": "alice.customer@alice.example",
                    "recipient": "alice.customer@alice.example",
                    "channel": "email",
                    "status": "failed",
                    "attempts": 1,
                    "response": "550 no such user",
                    "rendered_size": 10,
                    "accepted_at": now,
                    "updated_at": now,
                    "sent_at": None,
                    "payload": {"recipient": {"index": 0}},
                }
            ],
        )
        await uow.commit()
    owned.params["message_id"] = f"{execution}:0"
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    audience = {
        "campaignId": campaign_id,
        "requestId": "alice-aud",
        "schedule": {"executeAt": later},
        "recipients": [{"type": "external", "userId": "alice.member@alice.example", "namespace": "email"}],
    }
    scheduled = await client.post("/ajo/im/executions/audience", headers=alice.headers(), json=audience)
    assert scheduled.status_code == 202, scheduled.text
    schedule_id = scheduled.json()["scheduleId"]
    details = await client.get(f"/ajo/im/executions/schedules/{schedule_id}", headers=alice.headers())
    owned.params |= {
        "schedule_id": schedule_id,
        "execution_id": details.json()["executionDetails"]["executionId"],
    }
    owned.secrets += [schedule_id, owned.params["execution_id"], "alice.member@alice.example"]
    owned.secrets += [execution, "alice.customer@alice.example"]


async def populate_actions(
    client: httpx.AsyncClient, alice: Tenant, owned: OwnedByA, container: Container
) -> None:
    """A custom action of A's (with a secret) and one call of it in the ledger."""
    action = await client.post(
        "/v1/custom-actions",
        headers=alice.headers(),
        json={
            "name": "alice_action",
            "url": "https://hooks.alice.example/notify",
            "method": "POST",
            "headers": {"X-Alice": "alice-header-value"},
            "authentication": {"type": "bearer", "token": "alice-bearer-token"},
            "body": '{"alice": "{{context.aliceField}}"}',
        },
    )
    assert action.status_code == 201, action.text
    sandbox = (await client.get("/v1/sandboxes/prod", headers=alice.headers())).json()["id"]
    call_id = f"alice-call-{secrets.token_hex(4)}"
    now = datetime.now(UTC)
    async with container.unit_of_work() as uow:
        await insert_queued(
            uow.session,
            [
                {
                    "id": call_id,
                    "org_id": alice.org_id,
                    "sandbox_id": sandbox,
                    "action_id": action.json()["id"],
                    "action_name": "alice_action",
                    "status": "queued",
                    "attempts": 0,
                    "response_status": None,
                    "response": "alice-call-response",
                    "latency_ms": None,
                    "throttle_config_uid": None,
                    "accepted_at": now,
                    "updated_at": now,
                    "sent_at": None,
                    "request_id": "alice-call-request",
                }
            ],
        )
        await uow.commit()
    owned.params |= {"action_id": action.json()["id"], "call_id": call_id}
    owned.secrets += [
        action.json()["id"],
        "alice_action",
        "hooks.alice.example",
        "alice-header-value",
        "alice-bearer-token",
        "aliceField",
        call_id,
        "alice-call-response",
        "alice-call-request",
    ]


async def populate_campaigns(client: httpx.AsyncClient, alice: Tenant, owned: OwnedByA) -> None:
    """An IP pool, a channel configuration and a campaign of A's."""
    headers = alice.headers()
    pool = await client.post(
        "/v1/ip-pools",
        headers=headers,
        json={
            "name": "alicePool",
            "relays": [{"host": "smtp.alice.example", "port": 2525, "password": "pw-alice"}],
        },
    )
    assert pool.status_code == 201, pool.text
    configuration = await client.post(
        "/v1/channel-configurations",
        headers=headers,
        json={
            "name": "aliceEmail",
            "channel": "email",
            "email": {"fromAddress": "news@alice.example", "ipPoolId": pool.json()["id"]},
        },
    )
    assert configuration.status_code == 201, configuration.text
    campaign = await client.post(
        "/v1/campaigns",
        headers=headers,
        json={
            "name": "Alice secret campaign",
            "channel": "email",
            "channelConfigurationId": configuration.json()["id"],
            "content": {"email": {"subject": "Hi", "html": "<p>Alice only</p>"}},
        },
    )
    assert campaign.status_code == 201, campaign.text
    owned.params |= {
        "pool_id": pool.json()["id"],
        "configuration_id": configuration.json()["id"],
        "campaign_id": campaign.json()["id"],
    }
    owned.secrets += [
        pool.json()["id"],
        "smtp.alice.example",
        "pw-alice",
        configuration.json()["id"],
        "news@alice.example",
        campaign.json()["id"],
        "Alice secret campaign",
    ]


def api_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route Clarion serves, read from its OpenAPI document (docs excluded)."""
    paths = app.openapi()["paths"]
    return [(method.upper(), path) for path, operations in paths.items() for method in operations]


def fill(path: str, params: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in params, (
            f"extend populate(): no value owned by A for path parameter {{{name}}} of {path}"
        )
        return params[name]

    return re.sub(r"\{(\w+)(?::\w+)?\}", value, path)


async def test_every_private_route_requires_credentials(app: FastAPI, client: httpx.AsyncClient) -> None:
    routes = [(method, path) for method, path in api_routes(app) if path not in PUBLIC]
    assert routes, "no routes found"
    params = dict.fromkeys(re.findall(r"\{(\w+)", " ".join(path for _, path in routes)), "x")
    for method, path in routes:
        response = await client.request(method, fill(path, params))
        assert response.status_code == 403, (method, path, response.status_code)
        assert response.json() == {"error_code": "403010", "message": "Oauth token is missing."}


async def test_no_route_crosses_organizations(
    app: FastAPI, client: httpx.AsyncClient, make_tenant: TenantFactory, container: Container
) -> None:
    alice, bob = await make_tenant(), await make_tenant()
    owned = await populate(client, alice, container)
    for method, path in api_routes(app):
        if path in PUBLIC:
            continue
        url = fill(path, owned.params)
        body = {} if method in ("POST", "PUT", "PATCH") else None
        response = await client.request(method, url, headers=bob.headers(), json=body)
        assert response.status_code < 500, (method, url, response.text)
        if "{" in path:
            assert response.status_code in (400, 404, 405, 409, 422), (method, url, response.status_code)
        # B may see an identifier it sent itself (a 404 naming it), never one it could not know.
        leaked = [value for value in owned.secrets if value in response.text and value not in url]
        assert not leaked, f"{method} {url} answered B with A's data: {leaked}"
    # A's resources are untouched by B's sweep.
    response = await client.get(fill("/v1/sandboxes/{name}", owned.params), headers=alice.headers())
    assert response.status_code == 200
    schedule = await client.get(
        fill("/ajo/im/executions/schedules/{schedule_id}", owned.params), headers=alice.headers()
    )
    assert schedule.json()["scheduleStatus"] == "Scheduled"
    campaign = await client.get(fill("/v1/campaigns/{campaign_id}", owned.params), headers=alice.headers())
    assert campaign.json()["status"] == "Live"
    action = await client.get(fill("/v1/custom-actions/{action_id}", owned.params), headers=alice.headers())
    assert action.json()["version"] == 1
    throttling = await client.get(
        fill("/authoring/throttlingConfigs/{uid}", owned.params), headers=alice.headers()
    )
    assert throttling.json()["result"]["state"] == "deployed"


@pytest.mark.parametrize("path", sorted(PUBLIC))
async def test_public_routes_answer_without_credentials(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
