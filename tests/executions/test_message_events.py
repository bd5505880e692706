"""Message events end to end: feedback recorded through ``record_feedback`` shows in the message's history,
in ``?event=`` filters, in the campaign's statistics and counters, and reaches subscribed webhooks only."""

from __future__ import annotations

import json
from typing import Any

import pytest

from clarion.delivery.feedback import Feedback, find_messages, record_feedback
from clarion.kit.clock import utcnow
from clarion.ops.metrics import Metrics
from clarion.runtime import BackgroundServices
from clarion.services import Services
from tests.delivery.servers import HttpRequest, HttpResponse, HttpServer
from tests.executions.conftest import Live
from tests.executions.test_delivery_flow import HT, eventually, final, messages, trigger


def recipient(address: str) -> dict[str, Any]:
    return {
        "type": "external",
        "userId": address,
        "namespace": "email",
        "context": {"order": {"id": "E-1", "items": {}}},
    }


async def send(live: Live, *addresses: str, campaign: str | None = None) -> dict[str, str]:
    """Trigger one execution to ``addresses`` and wait until each message is final; ids by address."""
    body = live.body(campaign=campaign, recipients=[recipient(address) for address in addresses])
    execution = await trigger(live, HT, body)
    rows = await final(live.api, execution, count=len(addresses))
    return {row["recipient"]: row["id"] for row in rows}


async def record(services: Services, items: list[Feedback]) -> int:
    """What the inbound listener and the tracking routes do: find, record, commit."""
    async with services.container.unit_of_work() as uow:
        found = await find_messages(uow.session, [item.message_id for item in items])
        recorded = await record_feedback(uow, found, items)
        await uow.commit()
    return len(recorded)


def feedback(message_id: str, kind: Any, data: dict[str, Any], *, response: str = "") -> Feedback:
    return Feedback(message_id=message_id, kind=kind, at=utcnow(), response=response, data=data)


def counted(metrics: Metrics, kind: str) -> float:
    value = metrics.registry.get_sample_value(
        "clarion_message_events_total", {"kind": kind, "channel": "email"}
    )
    return value or 0.0


async def ids_with(live: Live, event: str) -> set[str]:
    return {row["id"] for row in await messages(live.api, event=event)}


async def test_feedback_shows_in_history_filters_stats_and_counters(
    live: Live, worker: BackgroundServices, services: Services
) -> None:
    metrics = Metrics()
    before = {kind: counted(metrics, kind) for kind in ("sent", "bounced", "opened", "clicked")}
    ids = await send(live, "ann@example.com", "bob@example.com", "cy@example.com")
    ann, bob, cy = ids["ann@example.com"], ids["bob@example.com"], ids["cy@example.com"]
    bounce = {
        "type": "hard",
        "status": "5.1.1",
        "diagnostic": "smtp; 550 5.1.1 no such user",
        "source": "dsn",
    }
    items = [
        feedback(ann, "bounced", bounce, response="550 5.1.1 no such user"),
        feedback(bob, "opened", {"machine": True, "userAgent": "GoogleImageProxy", "first": True}),
        feedback(bob, "opened", {"machine": False, "userAgent": "Mozilla/5.0", "first": False}),
        feedback(bob, "complained", {"feedbackType": "abuse", "userAgent": "ARF"}),
        feedback(cy, "opened", {"machine": False, "userAgent": "Mozilla/5.0", "first": True}),
        feedback(cy, "opened", {"machine": False, "userAgent": "Mozilla/5.0", "first": False}),
        feedback(cy, "clicked", {"url": "https://shop.example/a?b=1", "userAgent": "Mozilla/5.0"}),
        feedback(cy, "clicked", {"url": "https://shop.example/c", "userAgent": "Mozilla/5.0"}),
        feedback(cy, "unsubscribed", {"method": "one-click", "category": "Marketing"}),
        feedback("nobody:0", "opened", {"machine": False}),  # unknown message: skipped
    ]
    assert await record(services, items) == 9

    # The history: sent (from the row: a first-time send stores no event), then the bounce with its data.
    detail = (await live.api.call("GET", f"/v1/messages/{ann}", expect=200)).json()
    assert detail["status"] == "bounced"
    assert [event["kind"] for event in detail["events"]] == ["accepted", "sent", "bounced"]
    assert detail["events"][2]["data"] == bounce
    assert detail["events"][2]["response"] == "550 5.1.1 no such user"
    history = (await live.api.call("GET", f"/v1/messages/{cy}/events", expect=200)).json()["items"]
    assert [event["kind"] for event in history] == [
        "accepted",
        "sent",
        "opened",
        "opened",
        "clicked",
        "clicked",
        "unsubscribed",
    ]
    assert history[4]["data"]["url"] == "https://shop.example/a?b=1"

    # Filters: an EXISTS on the events, or the ledger row where no event is stored.
    assert await ids_with(live, "opened") == {bob, cy}
    assert await ids_with(live, "clicked") == {cy}
    assert await ids_with(live, "bounced") == {ann}
    assert await ids_with(live, "complained") == {bob}
    assert await ids_with(live, "sent") == {ann, bob, cy}  # ann was sent, then bounced
    assert await ids_with(live, "accepted") == {ann, bob, cy}
    assert await ids_with(live, "deferred") == set()
    opened_bounced = await messages(live.api, event="opened", status="bounced")
    assert opened_bounced == []
    refused = await live.api.call("GET", "/v1/messages?event=read", expect=400)
    assert "event" in refused.text

    stats = (await live.api.call("GET", f"/v1/campaigns/{live.ht_campaign}/stats?hours=2", expect=200)).json()
    assert stats["counts"] == {"sent": 2, "bounced": 1}
    assert stats["total"] == 3
    assert (stats["sent"], stats["delivered"], stats["suppressed"]) == (3, 2, 0)
    assert stats["bounced"] == {"total": 1, "hard": 1, "soft": 0}
    assert (stats["complained"], stats["unsubscribed"], stats["clicked"]) == (1, 1, 1)
    assert stats["opened"] == {"unique": 2, "machine": 1}
    assert stats["rates"] == {
        "bounce": pytest.approx(1 / 3),
        "complaint": 0.5,
        "open": 1.0,
        "click": 0.5,
        "unsubscribe": 0.5,
    }
    current = stats["hourly"][-1]
    assert current["counts"] == {"sent": 2, "bounced": 1}
    assert current["events"] == {"bounced": 1, "opened": 4, "clicked": 2, "complained": 1, "unsubscribed": 1}
    other = (await live.api.call("GET", f"/v1/campaigns/{live.std_campaign}/stats", expect=200)).json()
    assert (other["sent"], other["opened"]["unique"], other["rates"]["open"]) == (0, 0, 0)

    after = {kind: counted(metrics, kind) for kind in ("sent", "bounced", "opened", "clicked")}
    assert after["sent"] - before["sent"] == 3
    assert after["bounced"] - before["bounced"] == 1
    assert after["opened"] - before["opened"] == 4
    assert after["clicked"] - before["clicked"] == 2
    exposed = metrics.exposition().decode()
    assert 'clarion_message_events_total{channel="email",kind="opened"}' in exposed


async def test_a_deferred_attempt_is_deferred_on_the_wire(
    live: Live, worker: BackgroundServices, services: Services
) -> None:
    live.smtp.rcpt_answers["later@example.com"] = "451 4.2.0 try again later"
    metrics = Metrics()
    deferred_before = counted(metrics, "deferred")
    body = live.body(recipients=[recipient("later@example.com")])
    execution = await trigger(live, HT, body)

    async def retried() -> list[dict[str, Any]] | None:
        rows = await messages(live.api, executionId=execution, event="deferred")
        return rows or None

    [row] = await eventually(retried)
    del live.smtp.rcpt_answers["later@example.com"]
    [row] = await final(live.api, execution)
    assert row["status"] == "sent"
    history = (await live.api.call("GET", f"/v1/messages/{row['id']}/events", expect=200)).json()["items"]
    kinds = [event["kind"] for event in history]
    assert (kinds[0], kinds[-1]) == ("accepted", "sent")
    assert set(kinds[1:-1]) == {"deferred"}
    assert "451 4.2.0" in history[1]["response"]
    assert counted(metrics, "deferred") - deferred_before == len(kinds) - 2
    assert await ids_with(live, "sent") >= {row["id"]}


async def test_webhooks_get_the_event_types_their_campaign_subscribes_to(
    live: Live, worker: BackgroundServices, services: Services
) -> None:
    received: list[dict[str, Any]] = []

    async def handler(request: HttpRequest) -> HttpResponse:
        received.append(json.loads(request.body))
        return HttpResponse(204)

    async with HttpServer(handler) as hook:
        items = (await live.api.call("GET", "/v1/channel-configurations")).json()["items"]
        ht = next(item for item in items if item["name"] == "htmail")
        chosen = await live.api.campaign(
            ht["id"],
            high_throughput=True,
            name="Feedback hooks",
            enableWebhooks=True,
            webhookUrl=f"{hook.url}/chosen",
            webhookEvents=["message.bounced", "message.clicked"],
        )
        assert chosen["webhookEvents"] == ["message.bounced", "message.clicked"]
        default = await live.api.campaign(
            ht["id"],
            high_throughput=True,
            name="Default hooks",
            enableWebhooks=True,
            webhookUrl=f"{hook.url}/all",
        )
        assert default["webhookEvents"] is None
        for campaign in (chosen, default):
            await live.api.call("POST", f"/v1/campaigns/{campaign['id']}/activate", expect=200)
        first = await send(live, "dee@example.com", "eve@example.com", campaign=chosen["id"])
        second = await send(live, "fay@example.com", campaign=default["id"])

        async def sent_event() -> bool:  # the default subscription: final statuses, as before
            return any(event["eventType"] == "message.sent" for event in received)

        await eventually(sent_event)
        dee, eve, fay = first["dee@example.com"], first["eve@example.com"], second["fay@example.com"]
        bounce = {"type": "soft", "status": "5.2.2", "diagnostic": "mailbox full", "source": "dsn"}
        await record(
            services,
            [
                feedback(dee, "bounced", bounce, response="552 5.2.2 mailbox full"),
                feedback(eve, "opened", {"machine": False, "first": True}),
                feedback(eve, "clicked", {"url": "https://shop.example/x", "userAgent": "Mozilla/5.0"}),
                feedback(fay, "opened", {"machine": False, "first": True}),
                feedback(fay, "bounced", {"type": "hard", "status": "5.1.1", "diagnostic": "gone"}),
            ],
        )

        async def all_arrived() -> bool:
            return len(received) >= 4

        await eventually(all_arrived)
        # The opens were subscribed by nobody: let the queue drain before asserting their absence.
        await eventually(lambda: _drained(services))
    by_type = {(event["messageId"], event["eventType"]): event for event in received}
    assert set(by_type) == {
        (fay, "message.sent"),
        (dee, "message.bounced"),
        (eve, "message.clicked"),
        (fay, "message.bounced"),
    }
    bounced = by_type[(dee, "message.bounced")]
    assert bounced["status"] == "bounced"
    assert (bounced["bounceType"], bounced["bounceStatus"], bounced["diagnostic"]) == (
        "soft",
        "5.2.2",
        "mailbox full",
    )
    assert bounced["recipient"] == "dee@example.com"
    assert bounced["campaignId"] == chosen["id"]
    assert bounced["executionId"] == dee.rsplit(":", 1)[0]
    assert bounced["requestId"] == "req-1"
    assert by_type[(eve, "message.clicked")]["url"] == "https://shop.example/x"
    assert by_type[(eve, "message.clicked")]["status"] == "sent"
    assert {request.target for request in hook.requests} == {"/chosen", "/all"}


async def _drained(services: Services) -> bool:
    stats = await services.container.queue.stats()
    return (
        not any(stats.ready.values()) and not any(stats.leased.values()) and not any(stats.delayed.values())
    )


async def test_webhook_events_are_checked_at_save(live: Live) -> None:
    items = (await live.api.call("GET", "/v1/channel-configurations")).json()["items"]
    ht = next(item for item in items if item["name"] == "htmail")
    body = live.api.campaign_body(
        ht["id"], high_throughput=True, enableWebhooks=True, webhookUrl="http://127.0.0.1:9/h"
    )
    unknown = await live.api.call(
        "POST", "/v1/campaigns", {**body, "webhookEvents": ["message.read"]}, expect=400
    )
    assert "webhookEvents" in unknown.text
    twice = await live.api.call(
        "POST", "/v1/campaigns", {**body, "webhookEvents": ["message.sent", "message.sent"]}, expect=400
    )
    assert "webhookEvents: each event type once" in twice.text
    empty = await live.api.call("POST", "/v1/campaigns", {**body, "webhookEvents": []}, expect=400)
    assert "webhookEvents" in empty.text


async def test_a_feedback_webhook_is_retried_until_the_endpoint_takes_it(
    live: Live, worker: BackgroundServices, services: Services
) -> None:
    answers = [503, 204]
    received: list[dict[str, Any]] = []

    async def handler(request: HttpRequest) -> HttpResponse:
        received.append(json.loads(request.body))
        return HttpResponse(answers.pop(0) if answers else 204)

    async with HttpServer(handler) as hook:
        items = (await live.api.call("GET", "/v1/channel-configurations")).json()["items"]
        ht = next(item for item in items if item["name"] == "htmail")
        campaign = await live.api.campaign(
            ht["id"],
            high_throughput=True,
            name="Flaky hook",
            enableWebhooks=True,
            webhookUrl=f"{hook.url}/flaky",
            webhookEvents=["message.complained"],
        )
        await live.api.call("POST", f"/v1/campaigns/{campaign['id']}/activate", expect=200)
        ids = await send(live, "gil@example.com", campaign=campaign["id"])
        gil = ids["gil@example.com"]
        await record(services, [feedback(gil, "complained", {"feedbackType": "abuse", "userAgent": "ARF/1"})])

        async def taken() -> bool:
            return len(received) == 2 and not answers

        await eventually(taken)
        await eventually(lambda: _drained(services))
    assert [event["eventType"] for event in received] == ["message.complained"] * 2
    assert received[0] == received[1]  # the same event, tried again
    assert (received[1]["feedbackType"], received[1]["messageId"]) == ("abuse", gil)
