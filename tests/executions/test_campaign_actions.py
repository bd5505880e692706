"""A campaign's custom action: checked at save, called once per sent message, never twice for a message."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from clarion.actions.service import ActionSpec, load_action
from clarion.config import Settings
from clarion.container import Container
from clarion.delivery.service import action_call_id
from clarion.models.campaigns import Campaign
from clarion.outbound.schemas import NewCall
from clarion.outbound.service import ActionCalls, ActionLoader
from clarion.runtime import BackgroundServices
from clarion.services import Services
from tests.builders import Api
from tests.delivery.servers import HttpRequest, HttpResponse, HttpServer
from tests.executions.conftest import Live
from tests.executions.test_delivery_flow import HT, eventually, final, trigger

ACTION_BODY = (
    '{"seq": "{{context.seq}}", "id": "{{context.message.id}}",'
    ' "execution": "{{context.message.executionId}}", "campaign": "{{context.message.campaignId}}",'
    ' "to": "{{context.message.recipient}}"}'
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Custom actions may target the test server's ephemeral port."""
    return settings.model_copy(update={"custom_action_any_port": True})


@pytest.fixture
async def hook() -> AsyncIterator[HttpServer]:
    async def answer(request: HttpRequest) -> HttpResponse:
        return HttpResponse(200, b'{"ok": true}')

    async with HttpServer(answer) as server:
        yield server
    assert server.errors == []


async def action(api: Api, server: HttpServer) -> str:
    body = {"name": "notify", "url": f"{server.url}/hook", "method": "POST", "body": ACTION_BODY}
    return str((await api.call("POST", "/v1/custom-actions", body, expect=201)).json()["id"])


async def ht_campaign(live: Live, **fields: Any) -> dict[str, Any]:
    pool = await live.api.pool("actpool", port=live.smtp.port)
    configuration = await live.api.configuration(pool["id"], name="actmail", high_throughput=True)
    return await live.api.campaign(configuration["id"], high_throughput=True, **fields)


def bodies(server: HttpServer) -> list[dict[str, Any]]:
    return [json.loads(request.body) for request in server.requests]


async def test_unknown_action_is_refused_at_save(live: Live, hook: HttpServer) -> None:
    pool = await live.api.pool("actpool", port=live.smtp.port)
    configuration = await live.api.configuration(pool["id"], name="actmail", high_throughput=True)
    body = live.api.campaign_body(configuration["id"], high_throughput=True, customActionId="nope")
    response = await live.api.call("POST", "/v1/campaigns", body)
    assert response.status_code == 400
    assert response.json()["report"]["detailed-message"].startswith("customActionId: custom action 'nope'")
    created = await live.api.call("POST", "/v1/campaigns", {**body, "customActionId": None}, expect=201)
    assert created.json()["customActionId"] is None
    action_id = await action(live.api, hook)
    path = f"/v1/campaigns/{created.json()['id']}"
    replaced = await live.api.call("PUT", path, {**body, "customActionId": action_id}, expect=200)
    assert replaced.json()["customActionId"] == action_id
    assert (await live.api.call("GET", path, expect=200)).json()["customActionId"] == action_id


async def test_each_sent_message_calls_the_action_once(
    live: Live, hook: HttpServer, worker: BackgroundServices, container: Container, services: Services
) -> None:
    action_id = await action(live.api, hook)
    campaign = await ht_campaign(live, customActionId=action_id)
    assert campaign["customActionId"] == action_id
    await live.api.call("POST", f"/v1/campaigns/{campaign['id']}/activate", expect=200)
    recipients = [
        {
            "type": "external",
            "userId": f"user{i}@example.com",
            "namespace": "email",
            "context": {"seq": str(i), "order": {"id": f"A-{i}"}},
        }
        for i in range(2)
    ]
    execution = await trigger(live, HT, live.body(campaign=campaign["id"], recipients=recipients))
    rows = await final(live.api, execution, count=2)
    assert {row["status"] for row in rows} == {"sent"}
    await live.smtp.wait_for_messages(2)

    async def all_sent() -> list[dict[str, Any]] | None:
        page = (await live.api.call("GET", f"/v1/action-calls?actionId={action_id}", expect=200)).json()
        items: list[dict[str, Any]] = page["items"]
        return items if len(items) == 2 and all(item["status"] == "sent" for item in items) else None

    calls = await eventually(all_sent)
    got = sorted(bodies(hook), key=lambda body: body["seq"])
    assert got == [
        {
            "seq": str(i),
            "id": f"{execution}:{i}",
            "execution": execution,
            "campaign": campaign["id"],
            "to": f"user{i}@example.com",
        }
        for i in range(2)
    ]
    assert {call["id"] for call in calls} == {action_call_id(f"{execution}:{i}") for i in range(2)}

    # A redelivered job queues the same calls again: same ids, unique jobs, insert-or-ignore ledger rows.
    org_id, sandbox_id = await campaign_sandbox(container, campaign["id"])
    action_calls = ActionCalls(
        container.unit_of_work, container.queue, services.rules, worker_loader(container)
    )
    again = [
        NewCall(action_call_id(f"{execution}:{i}"), {"seq": str(i), "message": {"id": f"{execution}:{i}"}})
        for i in range(2)
    ]
    assert await action_calls.queue(org_id, sandbox_id, action_id, again, request_id=None)
    await asyncio.sleep(0.5)
    assert len(hook.requests) == 2
    assert await all_sent() is not None


async def campaign_sandbox(container: Container, campaign_id: str) -> tuple[str, str]:
    """The campaign's org and sandbox."""
    async with container.unit_of_work() as uow:
        campaign = await uow.session.get(Campaign, campaign_id)
        assert campaign is not None
    return campaign.org_id, campaign.sandbox_id


def worker_loader(container: Container) -> ActionLoader:
    """Loads an action as a worker does."""

    async def load(org_id: str, sandbox_id: str, action_id: str) -> ActionSpec | None:
        async with container.unit_of_work() as uow:
            return await load_action(uow, org_id, sandbox_id, action_id, box=container.secrets)

    return load
