"""The message page's API: a message's history, its mail (captured or rendered again), ledger statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from clarion.config import Settings
from clarion.devsmtp.outbox import Outbox
from clarion.devsmtp.server import CaptureServer
from clarion.models.messages import MessageEvent
from clarion.runtime import BackgroundServices
from clarion.services import Services
from tests.conftest import TenantFactory
from tests.executions.conftest import Live
from tests.executions.test_delivery_flow import HT, eventually, final, trigger


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Capture on, so ``/v1/outbox`` exists (the ``live`` tenant's SMTP server is still the test's)."""
    return settings.model_copy(update={"smtp_capture": True})


async def history(live: Live, message_id: str) -> list[dict[str, Any]]:
    response = await live.api.call("GET", f"/v1/messages/{message_id}/events", expect=200)
    assert response.json()["messageId"] == message_id
    return list(response.json()["items"])


async def test_sent_message_has_its_history_and_counts_in_the_stats(
    live: Live, worker: BackgroundServices, services: Services
) -> None:
    execution = await trigger(live, HT, live.body())
    [row] = await final(live.api, execution)
    events = await history(live, row["id"])
    assert [event["kind"] for event in events] == ["accepted", "sent"]
    assert events[1]["attempt"] == 1
    assert events[1]["response"].startswith("250")
    assert row["headerMessageId"].startswith("<")  # kept on the row: the captured copy's key
    async with services.container.unit_of_work() as uow:  # a first-time send writes no event row
        stored = await uow.session.scalar(
            select(func.count()).select_from(MessageEvent).where(MessageEvent.message_id == row["id"])
        )
    assert stored == 0

    stats = (await live.api.call("GET", "/v1/messages/stats", expect=200)).json()
    assert stats["bucket"] == "minute"
    assert stats["bucketSeconds"] == 60
    assert 60 <= len(stats["buckets"]) <= 62
    assert stats["totals"]["sent"] == 1
    assert stats["failureRate"] == 0
    assert sum(bucket["sent"] for bucket in stats["buckets"]) == 1
    hourly = (await live.api.call("GET", "/v1/messages/stats?bucket=hour", expect=200)).json()
    assert hourly["totals"]["sent"] == 1
    assert len(hourly["buckets"]) in (24, 25)


async def test_failed_message_shows_each_answer_its_mail_and_its_resend(
    live: Live, worker: BackgroundServices
) -> None:
    # A policy refusal: failed and reported (a hard bounce would be ``bounced`` and suppress the address).
    live.smtp.rcpt_answers["bounce@example.com"] = "554 5.7.1 relay access denied"
    recipients = [
        {
            "type": "external",
            "userId": "bounce@example.com",
            "namespace": "email",
            "context": {"order": {"id": "B-7", "items": {}}},
        }
    ]
    execution = await trigger(live, HT, live.body(recipients=recipients))
    [row] = await final(live.api, execution)
    events = await history(live, row["id"])
    assert [event["kind"] for event in events] == ["accepted", "failed"]
    assert "554 5.7.1 relay access denied" in events[1]["response"]
    assert events[1]["data"] == {
        "type": "policy",
        "status": "5.7.1",
        "diagnostic": "554 5.7.1 relay access denied",
        "source": "smtp",
    }

    # Not sent, so the ledger keeps its payload: rendered again with the campaign's content.
    mail = (await live.api.call("GET", f"/v1/messages/{row['id']}/mail", expect=200)).json()
    assert mail["source"] == "rendered"
    assert mail["subject"] == "Order B-7"
    assert "<h1>Order B-7</h1>" in mail["html"]
    assert mail["campaignVersion"] >= 1
    assert {"name": "To", "value": "bounce@example.com"} in mail["headers"]

    stats = (await live.api.call("GET", "/v1/messages/stats", expect=200)).json()
    assert stats["totals"]["failed"] == 1
    assert stats["failureRate"] == 1.0

    del live.smtp.rcpt_answers["bounce@example.com"]
    resent = await live.api.call("POST", "/v1/messages/resend", {"messageId": row["id"]}, expect=200)
    assert resent.json()["messageIds"] == [row["id"]]

    async def sent() -> list[dict[str, Any]] | None:
        found = await history(live, row["id"])
        return found if found[-1]["kind"] == "sent" else None

    events = await eventually(sent)
    assert [event["kind"] for event in events] == ["accepted", "failed", "resent", "sent"]
    # Sent: no payload left, and this test's SMTP server is not the capture: nothing to show.
    gone = await live.api.call("GET", f"/v1/messages/{row['id']}/mail", expect=404)
    assert "not kept" in gone.text


async def test_captured_copy_is_the_message_mail(
    live: Live, worker: BackgroundServices, services: Services
) -> None:
    outbox = Outbox(services.container.settings.outbox_path)
    capture = CaptureServer(outbox, port=0)
    await capture.start()
    try:
        pool = await live.api.pool("capture", port=capture.port)
        configuration = await live.api.configuration(pool["id"], name="captured", high_throughput=True)
        campaign = await live.api.campaign(
            configuration["id"],
            high_throughput=True,
            name="Captured",
            content={"email": {"subject": "Kept {{context.order.id}}", "html": "<p>Copy</p>"}},
        )
        await live.api.call("POST", f"/v1/campaigns/{campaign['id']}/activate", expect=200)
        execution = await trigger(live, HT, live.body(campaign=campaign["id"]))
        [row] = await final(live.api, execution)
    finally:
        await capture.stop()
    mail = (await live.api.call("GET", f"/v1/messages/{row['id']}/mail", expect=200)).json()
    assert mail["source"] == "outbox"
    assert mail["subject"] == "Kept A-1"
    assert "<p>Copy</p>" in mail["html"]
    same = await live.api.call("GET", f"/v1/outbox/{mail['capturedMailId']}", expect=200)
    assert same.json() == mail


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("bucket=day", "bucket"),
        ("since=2026-01-01T00:00:00", "since"),
        ("since=2001-01-01T00:00:00Z", "since"),
        ("since=2999-01-01T00:00:00Z", "since"),
        ("since=yesterday", "since"),
    ],
)
async def test_bad_stats_query_names_the_field(live: Live, query: str, field: str) -> None:
    response = await live.api.call("GET", f"/v1/messages/stats?{query}", expect=400)
    assert field in response.text


async def test_ledger_filters_by_acceptance_time(live: Live, worker: BackgroundServices) -> None:
    execution = await trigger(live, HT, live.body())
    await final(live.api, execution)
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    found = await live.api.call("GET", f"/v1/messages?since={hour_ago}&until={later}", expect=200)
    assert found.json()["total"] == 1
    none = await live.api.call("GET", f"/v1/messages?since={later}", expect=200)
    assert none.json()["total"] == 0
    bad = await live.api.call("GET", f"/v1/messages?since={later}&until={hour_ago}", expect=400)
    assert "until" in bad.text
    naive = await live.api.call("GET", "/v1/messages?since=2026-01-01T00:00:00", expect=400)
    assert "since" in naive.text


async def test_another_organization_sees_nothing(
    live: Live, worker: BackgroundServices, make_tenant: TenantFactory
) -> None:
    execution = await trigger(live, HT, live.body())
    [row] = await final(live.api, execution)
    other = (await make_tenant()).headers()
    client = live.api.client
    for path in (f"/v1/messages/{row['id']}/events", f"/v1/messages/{row['id']}/mail"):
        assert (await client.get(path, headers=other)).status_code == 404
    stats = (await client.get("/v1/messages/stats", headers=other)).json()
    assert stats["totals"]["sent"] == 0
