"""Every rule of contract §1.3-1.7 on the trigger endpoints: a 400 errorResponse naming the problem."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.executions.conftest import Live

HT = "/ajo/im/executions/highthroughput"
UNITARY = "/ajo/im/executions/unitary"


async def post(live: Live, path: str, body: Any, **headers: str) -> httpx.Response:
    return await live.api.client.post(path, json=body, headers=live.api.tenant.headers() | headers)


def message(response: httpx.Response) -> str:
    body = response.json()
    assert body["type"].startswith("https://ns.adobe.com/aep/errors/MSG-")
    return str(body["report"]["additionalContext"]["message"])


async def test_accepted_response_shape(live: Live) -> None:
    response = await post(live, HT, live.body())
    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) == {"executionId", "requestId", "createdAt", "createdBy", "modifiedAt", "modifiedBy"}
    assert body["requestId"] == "req-1"
    assert body["createdAt"].endswith("Z")
    assert len(body["createdAt"]) == 24


@pytest.mark.parametrize("count", [0, 21])
async def test_recipient_count(live: Live, count: int) -> None:
    recipients = [
        {"type": "external", "userId": f"u{i}@x.example", "namespace": "email"} for i in range(count)
    ]
    response = await post(live, HT, live.body(recipients=recipients))
    assert response.status_code == 400
    assert f"between 1 and 20 are allowed (got {count})" in message(response)
    assert response.json()["report"]["additionalContext"]["campaignId"] == live.ht_campaign


async def test_duplicate_user_ids(live: Live) -> None:
    recipient = {"type": "external", "userId": "same@x.example", "namespace": "email"}
    response = await post(live, HT, live.body(recipients=[recipient, recipient]))
    assert response.status_code == 400
    assert "recipients[1].userId: 'same@x.example' appears twice" in message(response)


async def test_ht_takes_only_external(live: Live) -> None:
    response = await post(
        live, HT, live.body(recipients=[{"type": "aep", "userId": "u", "namespace": "email"}])
    )
    assert response.status_code == 400
    assert "accepts only type 'external'" in message(response)


async def test_context_rules(live: Live) -> None:
    def with_context(context: dict[str, Any]) -> dict[str, Any]:
        return live.body(
            recipients=[
                {"type": "external", "userId": "a@x.example", "namespace": "email", "context": context}
            ]
        )

    response = await post(live, HT, with_context({"system": {"x": "1"}}))
    assert "recipients[0].context.system: reserved" in message(response)
    response = await post(live, HT, with_context({"total": 12}))
    assert "recipients[0].context.total: must be a string or an object" in message(response)
    response = await post(live, HT, with_context({"blob": "x" * (200 * 1024 + 1)}))
    assert response.status_code == 400
    assert "recipients[0].context: larger than 200 KB" in message(response)


async def test_malformed_body_names_the_path(live: Live) -> None:
    response = await post(
        live, HT, {"requestId": "r", "campaignId": live.ht_campaign, "recipients": [{"type": "x"}]}
    )
    assert response.status_code == 400
    assert "recipients[0]" in message(response)
    response = await live.api.client.post(
        HT, content=b"{not json", headers=live.api.tenant.headers() | {"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "Invalid request body" in message(response)
    response = await post(live, HT, {"campaignId": live.ht_campaign, "recipients": []})
    assert "requestId" in message(response)


async def test_campaign_rules(live: Live) -> None:
    response = await post(live, HT, live.body(campaign="nope"))
    assert response.status_code == 400
    assert "campaignId: no such campaign" in message(response)
    response = await post(live, UNITARY, live.body(campaign=live.ht_campaign))
    assert "trigger it with /highthroughput" in message(response)
    response = await post(
        live,
        HT,
        live.body(
            campaign=live.std_campaign,
            recipients=[{"type": "external", "userId": "a@x.example", "namespace": "email"}],
        ),
    )
    assert "trigger it with /unitary" in message(response)


async def test_stopped_campaign_is_refused(live: Live, services: Any) -> None:
    await live.api.call("POST", f"/v1/campaigns/{live.ht_campaign}/stop", expect=200)
    services.executions.forget()
    response = await post(live, HT, live.body())
    assert response.status_code == 400
    assert "campaign is Stopped; only Live campaigns run" in message(response)


async def test_unknown_profile_without_create_is_refused(live: Live) -> None:
    configuration = (await live.api.call("GET", "/v1/channel-configurations")).json()["items"]
    standard = next(item for item in configuration if item["name"] == "stdmail")
    campaign = await live.api.campaign(standard["id"], name="No create")
    await live.api.call("POST", f"/v1/campaigns/{campaign['id']}/activate", expect=200)
    body = live.body(
        campaign=campaign["id"],
        recipients=[{"type": "aep", "userId": "ghost@x.example", "namespace": "email"}],
    )
    response = await post(live, UNITARY, body)
    assert response.status_code == 400
    assert "no profile for email ghost@x.example" in message(response)


async def test_rate_cap_is_429_with_retry_after(live: Live, container: Any) -> None:
    from sqlalchemy import update

    from clarion.models.tenancy import Organization

    async with container.unit_of_work() as uow:
        await uow.session.execute(
            update(Organization)
            .where(Organization.id == live.api.tenant.org_id)
            .values(high_throughput_rate_per_second=2)
        )
        await uow.commit()
    statuses = [(await post(live, HT, live.body())).status_code for _ in range(5)]
    assert statuses[0] == 202
    assert 429 in statuses
    response = await post(live, HT, live.body())
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert "cap of 2 requests per second" in message(response)


async def test_idempotent_replay(live: Live, container: Any) -> None:
    first = await post(live, HT, live.body(), **{"x-request-id": "idem-1"})
    second = await post(live, HT, live.body(), **{"x-request-id": "idem-1"})
    other = await post(live, HT, live.body(), **{"x-request-id": "idem-2"})
    assert first.status_code == second.status_code == other.status_code == 202
    assert first.json()["executionId"] == second.json()["executionId"] != other.json()["executionId"]
    stats = await container.queue.stats()
    assert stats.ready.get("delivery") == 2


async def test_bodies_without_json_content_type(live: Live) -> None:
    response = await live.api.client.post(
        HT,
        content=json.dumps(live.body()).encode(),
        headers=live.api.tenant.headers() | {"content-type": "text/plain"},
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "A valid content-type must be specified"
