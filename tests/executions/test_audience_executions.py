"""Audience executions, immediate and scheduled (``executeAt``), with explicit recipients."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from clarion.runtime import BackgroundServices
from tests.executions.conftest import Live
from tests.executions.test_delivery_flow import eventually, messages

AUDIENCE = "/ajo/im/executions/audience"


def recipients(count: int) -> list[dict[str, Any]]:
    return [
        {
            "type": "external",
            "userId": f"member{i}@example.com",
            "namespace": "email",
            "profile": {"person": {"name": {"firstName": f"M{i}"}}},
        }
        for i in range(count)
    ]


async def post(live: Live, body: dict[str, Any]) -> httpx.Response:
    return await live.api.client.post(AUDIENCE, json=body, headers=live.api.tenant.headers())


def problem(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    return str(response.json()["report"]["additionalContext"]["message"])


async def test_immediate_execution_fans_out_and_reports_status(
    live: Live, worker: BackgroundServices
) -> None:
    body = {
        "campaignId": live.std_campaign,
        "requestId": "aud-1",
        "context": {"note": "sale"},
        "recipients": recipients(25),
    }
    response = await post(live, body)
    assert response.status_code == 202, response.text
    execution = response.json()["executionId"]

    async def done() -> dict[str, Any] | None:
        status = (await live.api.call("GET", f"{AUDIENCE}/{execution}", expect=200)).json()
        return status if status["status"] != "InProgress" else None

    status = await eventually(done)
    assert status["status"] == "Succeeded"
    assert status["targetedProfileCount"] == 25
    assert status["campaignId"] == live.std_campaign
    rows = await messages(live.api, executionId=execution, limit="100")
    assert len(rows) == 25
    assert {row["status"] for row in rows} == {"sent"}
    await live.smtp.wait_for_messages(25)
    bodies = {mail.rcpt_tos[0]: mail.data for mail in live.smtp.messages}
    assert b"Dear M7, sale" in bodies["member7@example.com"]


async def test_scheduled_execution_runs_at_execute_at(live: Live, worker: BackgroundServices) -> None:
    execute_at = datetime.now(UTC) + timedelta(seconds=1)
    body = {
        "campaignId": live.std_campaign,
        "recipients": recipients(1),
        "schedule": {"executeAt": execute_at.isoformat()},
    }
    response = await post(live, body)
    assert response.status_code == 202, response.text
    scheduled = response.json()
    assert scheduled["scheduleStatus"] == "Scheduled"
    assert scheduled["campaignId"] == live.std_campaign
    schedule = f"/ajo/im/executions/schedules/{scheduled['scheduleId']}"
    assert len(live.smtp.messages) == 0

    async def triggered() -> dict[str, Any] | None:
        view = (await live.api.call("GET", schedule, expect=200)).json()
        return view if view["executionDetails"]["status"] == "Succeeded" else None

    view = await eventually(triggered)
    assert view["scheduleStatus"] == "Triggered"
    assert len(live.smtp.messages) == 1
    response = await live.api.client.delete(schedule, headers=live.api.tenant.headers())
    assert "Triggered; it cannot be deleted" in problem(response)


async def test_cancelled_schedule_never_sends(live: Live, worker: BackgroundServices, container: Any) -> None:
    execute_at = datetime.now(UTC) + timedelta(seconds=1)
    body = {
        "campaignId": live.std_campaign,
        "recipients": recipients(1),
        "schedule": {"executeAt": execute_at.isoformat()},
    }
    scheduled = (await post(live, body)).json()
    schedule = f"/ajo/im/executions/schedules/{scheduled['scheduleId']}"
    deleted = await live.api.client.delete(schedule, headers=live.api.tenant.headers())
    assert (deleted.status_code, deleted.json()) == (200, {})
    await live.api.call("GET", schedule, expect=404)

    async def trigger_consumed() -> bool:
        stats = await container.queue.stats()
        return (
            not any(stats.ready.values())
            and not any(stats.delayed.values())
            and not any(stats.leased.values())
        )

    await eventually(trigger_consumed)
    assert live.smtp.messages == []


async def test_rules(live: Live) -> None:
    assert "give exactly one" in problem(await post(live, {"campaignId": live.std_campaign}))
    response = await post(live, {"campaignId": live.std_campaign, "audience": {"id": "seg-1"}})
    assert "audience 'seg-1' cannot be evaluated" in problem(response)
    response = await post(live, {"campaignId": live.ht_campaign, "recipients": recipients(1)})
    assert "audiences run standard campaigns" in problem(response)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    response = await post(
        live, {"campaignId": live.std_campaign, "recipients": recipients(1), "schedule": {"executeAt": past}}
    )
    assert "schedule.executeAt: must lie in the future" in problem(response)
    response = await post(
        live, {"campaignId": live.std_campaign, "recipients": recipients(1), "context": {"system": {}}}
    )
    assert "context.system: reserved" in problem(response)
    await live.api.call("GET", f"{AUDIENCE}/nope", expect=404)
    await live.api.call("GET", "/ajo/im/executions/schedules/nope", expect=404)
