"""No route can reach another organization's data, and no non-public route works without credentials.

The sweep walks the application's own route table, so a new endpoint is covered the day it is added:
give its path parameters a value owned by organization A in ``owned_by_a`` below, or the test fails.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from clarion.config import Settings
from clarion.container import Container
from clarion.delivery.repository import upsert_messages
from clarion.devsmtp.outbox import Outbox
from clarion.devsmtp.server import CaptureServer
from clarion.ops.metrics import Metrics
from clarion.outbound.repository import insert_queued
from clarion.outbound.schemas import CallRecord
from clarion.runtime import BackgroundServices
from clarion.services import Services
from clarion.tenancy import service as tenancy
from tests.conftest import Tenant, TenantFactory

PROBES = {"/healthz", "/readyz", "/metrics"}
PUBLIC = PROBES | {"/t/o/{token}", "/t/c/{token}", "/u/{token}"}
"""Paths without credentials: probes, metrics, and the links inside recipients' mail (their signed token is
the capability, ``feedback/endpoints.py``; tested in ``tests/feedback``)."""
UPSERTS = {"/v1/profiles/{namespace}/{identity_value}"}
"""Paths whose PUT creates in the caller's own sandbox: after B's PUT, B reads and deletes its own profile."""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings with the capture outbox on (``GET /v1/outbox`` exists), on either backend."""
    return settings.model_copy(update={"smtp_capture": True})


@dataclass
class OwnedByA:
    """What organization A created, by path parameter name, plus strings that must never leak to B."""

    params: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)


async def populate(
    client: httpx.AsyncClient, alice: Tenant, container: Container, services: Services
) -> OwnedByA:
    """Create one resource of every kind as A. Extend this as domains add resources."""
    owned = OwnedByA()
    await populate_outbox(client, alice, owned, services)
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
    await populate_audiences(client, alice, owned)
    await populate_activation(client, alice, owned)
    await populate_credentials(client, alice, owned)
    await populate_usage(alice, owned, container)
    await populate_suppressions(client, alice, owned)
    return owned


async def populate_outbox(
    client: httpx.AsyncClient, alice: Tenant, owned: OwnedByA, services: Services
) -> None:
    """A message of A's, sent by a real worker through the bundled SMTP capture (first: queue is empty)."""
    headers = alice.headers()
    outbox = Outbox(services.container.settings.outbox_path)
    capture = CaptureServer(outbox, port=0)
    await capture.start()
    worker = BackgroundServices(services, Metrics(), run_worker=True, capture_smtp=False)
    await worker.start()
    try:
        pool = await client.post(
            "/v1/ip-pools",
            json={"name": "aliceCapture", "relays": [{"host": "127.0.0.1", "port": capture.port}]},
            headers=headers,
        )
        assert pool.status_code == 201, pool.text
        configuration = await client.post(
            "/v1/channel-configurations",
            json={
                "name": "aliceHt",
                "channel": "email",
                "highThroughput": True,
                "email": {"fromAddress": "receipts@alice-shop.example", "ipPoolId": pool.json()["id"]},
            },
            headers=headers,
        )
        assert configuration.status_code == 201, configuration.text
        campaign = await client.post(
            "/v1/campaigns",
            json={
                "name": "Alice receipts",
                "channel": "email",
                "channelConfigurationId": configuration.json()["id"],
                "highThroughputMode": True,
                "content": {"email": {"subject": "Alice private receipt", "html": "<p>Thanks</p>"}},
            },
            headers=headers,
        )
        assert campaign.status_code == 201, campaign.text
        campaign_id = campaign.json()["id"]
        activated = await client.post(f"/v1/campaigns/{campaign_id}/activate", headers=headers)
        assert activated.status_code == 200, activated.text
        recipient = {"type": "external", "userId": "alice.customer@alice-shop.example", "namespace": "email"}
        trigger = await client.post(
            "/ajo/im/executions/highthroughput",
            json={"requestId": "alice", "campaignId": campaign_id, "recipients": [recipient]},
            headers=headers,
        )
        assert trigger.status_code == 202, trigger.text
        deadline = asyncio.get_running_loop().time() + 30
        while outbox.count() == 0:
            assert asyncio.get_running_loop().time() < deadline, "A's message never reached the capture"
            await asyncio.sleep(0.05)
    finally:
        await worker.stop()
        await capture.stop()
    owned.params["mail_id"] = outbox.list(limit=1)[0].id
    owned.secrets += [
        "Alice private receipt",
        "alice.customer@alice-shop.example",
        "receipts@alice-shop.example",
    ]


async def populate_credentials(client: httpx.AsyncClient, alice: Tenant, owned: OwnedByA) -> None:
    """A second API key of A's with a token: B must neither see, revoke nor issue for them."""
    created = await client.post(
        "/v1/credentials", json={"name": "Alice ops key", "role": "developer"}, headers=alice.headers()
    )
    assert created.status_code == 201, created.text
    key = created.json()
    owned.params |= {"client_id": key["clientId"], "token_id": key["tokenId"]}
    owned.secrets += [key["clientId"], key["tokenId"], key["accessToken"], "Alice ops key", alice.api_key]


async def populate_suppressions(client: httpx.AsyncClient, alice: Tenant, owned: OwnedByA) -> None:
    """An address on A's suppression list: B must neither read nor remove it."""
    address = f"alice-{secrets.token_hex(4)}@alice-list.example"
    added = await client.post(
        "/v1/suppressions",
        json={"entries": [{"address": address, "reason": "manual", "detail": "Alice's private reason"}]},
        headers=alice.headers(),
    )
    assert added.status_code == 200, added.text
    owned.params["address"] = address
    owned.secrets += [address, "Alice's private reason"]


async def populate_usage(alice: Tenant, owned: OwnedByA, container: Container) -> None:
    """Quotas of A's that no one else can know (its usage: the execution of ``populate_messages``)."""
    async with container.unit_of_work() as uow:
        org = await tenancy.find_organization(uow, alice.ims_org_id)
        change = tenancy.QuotaChange(standard=987_654_321, high_throughput=123_456_789)
        await tenancy.update_entitlements(uow, org, quotas=change)
    owned.secrets += ["987654321", "123456789"]


async def populate_audiences(client: httpx.AsyncClient, alice: Tenant, owned: OwnedByA) -> None:
    """A profile, an audience, a segment job and an export job of A's."""
    headers = alice.headers()
    profile = await client.put(
        "/v1/profiles/email/alice.profile@alice.example",
        json={"attributes": {"person": {"name": {"firstName": "AliceOnlyName"}}}},
        headers=headers,
    )
    assert profile.status_code in (200, 201), profile.text
    segment = await client.post(
        "/data/core/ups/segment/definitions",
        json={
            "name": "Alice audience",
            "schema": {"name": "_xdm.context.profile"},
            "expression": {
                "type": "PQL",
                "format": "pql/text",
                "value": 'person.name.firstName = "AliceOnlyName"',
            },
        },
        headers=headers,
    )
    assert segment.status_code == 200, segment.text
    segment_id = segment.json()["id"]
    job = await client.post("/data/core/ups/segment/jobs", json=[{"segmentId": segment_id}], headers=headers)
    assert job.status_code == 200, job.text
    export = await client.post(
        "/data/core/ups/export/jobs",
        json={
            "filter": {"segments": [{"segmentId": segment_id}]},
            "destination": {"datasetId": "aliceDataset"},
        },
        headers=headers,
    )
    assert export.status_code == 200, export.text
    preview = await client.post(
        "/data/core/ups/preview",
        json={"predicateExpression": 'person.name.firstName = "AliceOnlyName"'},
        headers=headers,
    )
    assert preview.status_code == 201, preview.text
    owned.params |= {
        "preview_id": preview.json()["previewId"],
        "namespace": "email",
        "identity_value": "alice.profile@alice.example",
        "segment_id": segment_id,
        "job_id": job.json()["id"],
        "export_job_id": str(export.json()["id"]),
    }
    owned.secrets += [
        profile.json()["id"],
        "AliceOnlyName",
        segment_id,
        "Alice audience",
        job.json()["id"],
        "aliceDataset",
    ]


async def populate_activation(client: httpx.AsyncClient, alice: Tenant, owned: OwnedByA) -> None:
    """Connections, a dataflow mapping A's audience, and an ad-hoc run of it."""
    from clarion.activation.flowservice import specs

    headers = alice.headers()
    base_url = "/data/foundation/flowservice"

    async def create(path: str, body: dict[str, object]) -> str:
        response = await client.post(f"{base_url}/{path}", json=body, headers=headers)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    sftp = {"id": specs.SFTP_SPEC_ID, "version": "1.0"}
    base = await create(
        "connections",
        {
            "name": "Alice SFTP",
            "auth": {
                "specName": "SFTP with Password",
                "params": {"domain": "sftp.alice.example", "username": "alice", "password": "alice-sftp-pw"},
            },
            "connectionSpec": sftp,
        },
    )
    target = await create(
        "targetConnections",
        {
            "name": "Alice target",
            "baseConnectionId": base,
            "connectionSpec": sftp,
            "params": {"fileType": "CSV", "compression": "NONE", "remotePath": "/alice"},
        },
    )
    source = await create(
        "sourceConnections",
        {"name": "Alice profiles", "connectionSpec": {"id": specs.PROFILE_STORE_SPEC_ID, "version": "1.0"}},
    )
    selector = {
        "type": "PLATFORM_SEGMENT",
        "value": {
            "id": owned.params["segment_id"],
            "filenameTemplate": "%DESTINATION_NAME%_%SEGMENT_ID%_%DATETIME(YYYYMMdd_HHmmss)%",
            "exportMode": "DAILY_FULL_EXPORT",
            "schedule": {
                "frequency": "DAILY",
                "startDate": "2030-01-01",
                "startTime": "00:00",
                "triggerType": "SCHEDULED",
            },
        },
    }
    flow = await create(
        "flows",
        {
            "name": "Alice dataflow",
            "flowSpec": {"id": specs.SFTP_FLOW_SPEC_ID, "version": "1.0"},
            "sourceConnectionIds": [source],
            "targetConnectionIds": [target],
            "transformations": [
                {"name": "GeneralTransform", "params": {"segmentSelectors": {"selectors": [selector]}}}
            ],
        },
    )
    run = await client.get(f"{base_url}/runs", headers=headers)
    assert run.status_code == 200, run.text
    owned.params |= {"connection_id": base, "flow_id": flow, "spec_id": "not-a-spec", "run_id": "no-run-yet"}
    owned.secrets += [
        base,
        target,
        source,
        flow,
        "Alice SFTP",
        "Alice dataflow",
        "alice-sftp-pw",
        "sftp.alice.example",
    ]


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
                    "header_message_id": "",
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
                CallRecord(
                    id=call_id,
                    org_id=alice.org_id,
                    sandbox_id=sandbox,
                    action_id=action.json()["id"],
                    action_name="alice_action",
                    status="queued",
                    attempts=0,
                    response_status=None,
                    response="alice-call-response",
                    latency_ms=None,
                    throttle_config_uid=None,
                    accepted_at=now,
                    updated_at=now,
                    sent_at=None,
                    request_id="alice-call-request",
                )
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
    app: FastAPI,
    client: httpx.AsyncClient,
    make_tenant: TenantFactory,
    container: Container,
    services: Services,
) -> None:
    alice, bob = await make_tenant(high_throughput=True), await make_tenant()
    owned = await populate(client, alice, container, services)
    for method, path in api_routes(app):
        if path in PUBLIC:
            continue
        url = fill(path, owned.params)
        body = {} if method in ("POST", "PUT", "PATCH") else None
        response = await client.request(method, url, headers=bob.headers(), json=body)
        assert response.status_code < 500, (method, url, response.text)
        if "{" in path and path not in UPSERTS:
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
    profile = await client.get(
        fill("/v1/profiles/{namespace}/{identity_value}", owned.params), headers=alice.headers()
    )
    assert profile.json()["attributes"]["person"]["name"]["firstName"] == "AliceOnlyName"
    flow = await client.get(
        fill("/data/foundation/flowservice/flows/{flow_id}", owned.params), headers=alice.headers()
    )
    assert flow.status_code == 200
    # A's captured mail: A sees it; B's outbox is empty (the sweep above found none of its strings).
    mail = (await client.get("/v1/outbox", headers=alice.headers())).json()
    assert [item["subject"] for item in mail["items"]] == ["Alice private receipt"]
    assert (await client.get("/v1/outbox", headers=bob.headers())).json()["total"] == 0
    key = await client.get(fill("/v1/credentials/{client_id}", owned.params), headers=alice.headers())
    assert key.json()["revokedAt"] is None
    tokens = await client.get(
        fill("/v1/credentials/{client_id}/tokens", owned.params), headers=alice.headers()
    )
    assert [token["revokedAt"] for token in tokens.json()] == [None]
    entry = await client.get(fill("/v1/suppressions/{address}", owned.params), headers=alice.headers())
    assert [item["reason"] for item in entry.json()["items"]] == ["manual"]
    # Usage is per organization: A's execution and quotas are A's alone.
    await app.state.services.usage.flush()
    mine, theirs = [
        (await client.get("/v1/usage", headers=tenant.headers())).json()["currentMonth"]
        for tenant in (alice, bob)
    ]
    assert (mine["standard"]["used"], mine["standard"]["quota"]) == (1, 987_654_321)
    assert theirs["standard"] == {"used": 0, "quota": None, "remaining": None, "overQuota": 0}
    assert theirs["highThroughput"]["used"] == 0


@pytest.mark.parametrize("path", sorted(PROBES))
async def test_public_routes_answer_without_credentials(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
