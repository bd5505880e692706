"""End to end: trigger → durable queue → worker renders, writes MIME, sends over real SMTP → ledger."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from clarion.runtime import BackgroundServices
from tests.builders import Api
from tests.delivery.servers import HttpRequest, HttpResponse, HttpServer
from tests.executions.conftest import Live

HT = "/ajo/im/executions/highthroughput"
UNITARY = "/ajo/im/executions/unitary"


async def eventually(probe: Callable[[], Awaitable[Any]], *, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def messages(api: Api, **filters: str) -> list[dict[str, Any]]:
    """Ledger rows of the tenant matching ``filters`` (query parameters of /v1/messages)."""
    response = await api.call("GET", "/v1/messages?" + "&".join(f"{k}={v}" for k, v in filters.items()))
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def final(api: Api, execution: str, count: int = 1) -> list[dict[str, Any]]:
    async def probe() -> list[dict[str, Any]] | None:
        rows = await messages(api, executionId=execution)
        return rows if len(rows) == count and all(row["status"] != "accepted" for row in rows) else None

    return list(await eventually(probe))


async def trigger(live: Live, path: str, body: dict[str, Any]) -> str:
    response = await live.api.client.post(path, json=body, headers=live.api.tenant.headers())
    assert response.status_code == 202, response.text
    return str(response.json()["executionId"])


async def test_high_throughput_mail_is_personalized_and_recorded(
    live: Live, worker: BackgroundServices
) -> None:
    recipients = [
        {
            "type": "external",
            "userId": f"user{i}@example.com",
            "namespace": "email",
            "context": {
                "order": {"id": f"A-{i}", "items": {"x": {"name": "Lamp <b>"}}},
                "vip": "yes" if i else "",
            },
        }
        for i in range(3)
    ]
    execution = await trigger(live, HT, live.body(recipients=recipients))
    rows = await final(live.api, execution, count=3)
    assert {row["status"] for row in rows} == {"sent"}
    assert all(row["attempts"] == 1 and row["response"].startswith("250") for row in rows)
    assert all(row["renderedSize"] > 0 for row in rows)
    await live.smtp.wait_for_messages(3)
    by_recipient = {mail.rcpt_tos[0]: mail for mail in live.smtp.messages}
    parsed = email.message_from_bytes(by_recipient["user1@example.com"].data, policy=email.policy.default)
    assert parsed["Subject"] == "Order A-1"
    assert parsed["From"] == "Shop <news@shop.example>"
    html = parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<li>Lamp &lt;b&gt;</li>" in html
    assert "<p>VIP</p>" in html
    text = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Order A-1" in text
    plain = email.message_from_bytes(by_recipient["user0@example.com"].data, policy=email.policy.default)
    assert "<p>Thanks</p>" in plain.get_body(("html",)).get_content()  # type: ignore[union-attr]


async def test_standard_mode_creates_profile_and_merges_request_profile(
    live: Live, worker: BackgroundServices
) -> None:
    body = live.body(
        campaign=live.std_campaign,
        recipients=[
            {
                "type": "aep",
                "userId": "new.person@example.com",
                "namespace": "email",
                "profile": {"person": {"name": {"firstName": "Grace"}}},
                "context": {"note": "welcome aboard"},
                "channelData": {"emailAddress": "grace@example.org"},
            }
        ],
    )
    execution = await trigger(live, UNITARY, body)
    rows = await final(live.api, execution)
    assert rows[0]["status"] == "sent"
    assert rows[0]["recipient"] == "grace@example.org"
    await live.smtp.wait_for_messages(1)
    parsed = email.message_from_bytes(live.smtp.messages[0].data, policy=email.policy.default)
    assert parsed["Subject"] == "Hi Grace"
    assert parsed.get_content().strip() == "Dear Grace, welcome aboard"  # type: ignore[attr-defined]
    # The profile now exists: a second call without createNewProfile semantics would find it.
    again = await trigger(live, UNITARY, body)
    assert (await final(live.api, again))[0]["status"] == "sent"


async def test_permanent_failure_keeps_the_answer_and_can_be_resent(
    live: Live, worker: BackgroundServices
) -> None:
    # A policy refusal (5.7.x): failed, not suppressed, so a resend can go once the block is lifted.
    live.smtp.rcpt_answers["bounce@example.com"] = "554 5.7.1 relay access denied"
    recipients = [{"type": "external", "userId": "bounce@example.com", "namespace": "email"}]
    execution = await trigger(live, HT, live.body(recipients=recipients))
    rows = await final(live.api, execution)
    assert rows[0]["status"] == "failed"
    assert "554 5.7.1 relay access denied" in rows[0]["response"]
    failed = await messages(live.api, status="failed", recipient="bounce@example.com")
    assert [row["id"] for row in failed] == [rows[0]["id"]]

    del live.smtp.rcpt_answers["bounce@example.com"]
    resent = await live.api.call("POST", "/v1/messages/resend", {"executionId": execution}, expect=200)
    assert resent.json() == {"requeued": 1, "messageIds": [rows[0]["id"]]}

    async def sent() -> bool:
        row = (await live.api.call("GET", f"/v1/messages/{rows[0]['id']}", expect=200)).json()
        return bool(row["status"] == "sent")

    await eventually(sent)


async def test_temporary_failure_is_retried_with_attempts_counted(
    live: Live, worker: BackgroundServices
) -> None:
    live.smtp.rcpt_answers["later@example.com"] = "451 4.7.1 try again later"
    recipients = [{"type": "external", "userId": "later@example.com", "namespace": "email"}]
    execution = await trigger(live, HT, live.body(recipients=recipients))

    async def retried() -> bool:
        rows = await messages(live.api, executionId=execution)
        return bool(rows and rows[0]["attempts"] >= 2)

    await eventually(retried)
    row = (await messages(live.api, executionId=execution))[0]
    assert row["status"] == "accepted"
    assert "451 4.7.1" in row["response"]
    del live.smtp.rcpt_answers["later@example.com"]
    rows = await final(live.api, execution)
    assert rows[0]["status"] == "sent"
    assert rows[0]["attempts"] >= 3


async def test_webhook_event_per_message(live: Live, worker: BackgroundServices) -> None:
    events: list[dict[str, Any]] = []

    async def handler(request: HttpRequest) -> HttpResponse:
        events.append(json.loads(request.body))
        return HttpResponse(204)

    async with HttpServer(handler) as hook:
        configuration = (await live.api.call("GET", "/v1/channel-configurations")).json()["items"]
        ht = next(item for item in configuration if item["name"] == "htmail")
        campaign = await live.api.campaign(
            ht["id"],
            high_throughput=True,
            name="Hooked",
            enableWebhooks=True,
            webhookUrl=f"{hook.url}/events",
        )
        await live.api.call("POST", f"/v1/campaigns/{campaign['id']}/activate", expect=200)
        execution = await trigger(live, HT, live.body(campaign=campaign["id"]))

        async def delivered() -> bool:
            return len(events) == 1

        await eventually(delivered)
    event = events[0]
    assert event["eventType"] == "message.sent"
    assert event["executionId"] == execution
    assert event["recipient"] == "ada@example.com"


async def test_replayed_request_sends_once(live: Live, worker: BackgroundServices, container: Any) -> None:
    headers = live.api.tenant.headers() | {"x-request-id": "once-only"}
    executions = set()
    for _ in range(3):
        response = await live.api.client.post(HT, json=live.body(), headers=headers)
        assert response.status_code == 202
        executions.add(response.json()["executionId"])
    assert len(executions) == 1
    execution = executions.pop()
    await final(live.api, execution)

    async def queue_drained() -> bool:
        stats = await container.queue.stats()
        return (
            not any(stats.ready.values())
            and not any(stats.leased.values())
            and not any(stats.delayed.values())
        )

    await eventually(queue_drained)
    assert len(await messages(live.api, executionId=execution)) == 1
    assert len(live.smtp.messages) == 1
