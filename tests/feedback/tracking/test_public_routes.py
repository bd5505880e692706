"""Unsubscribe and tracking over real HTTP: the mail the worker sent, its links, and what they record."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select, update

from clarion.feedback.tracking import TrackingRecorder
from clarion.kit.clock import utcnow
from clarion.models.messages import Message, MessageEvent
from clarion.runtime import BackgroundServices
from clarion.services import Services
from tests.executions.test_delivery_flow import UNITARY, final
from tests.feedback.tracking.conftest import PUBLIC_BASE, Campaigns, SuppressionCalls
from tests.feedback.tracking.test_links import parsed

HUMAN = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Gecko/20100101 Thunderbird/115.0"


async def send(campaigns: Campaigns, campaign: str, address: str) -> tuple[str, email.message.EmailMessage]:
    """Trigger one message, wait until the relay took it; its ledger id and the mail as received."""
    body = {
        "requestId": f"req-{address}",
        "campaignId": campaign,
        "recipients": [
            {
                "type": "aep",
                "userId": address,
                "namespace": "email",
                "context": {"name": "Ada", "id": "7", "profileUrl": "https://shop.example/me?a=1&b=2"},
            }
        ],
    }
    response = await campaigns.api.client.post(UNITARY, json=body, headers=campaigns.api.tenant.headers())
    assert response.status_code == 202, response.text
    [row] = await final(campaigns.api, response.json()["executionId"])
    assert row["status"] == "sent", row
    before = len(campaigns.smtp.messages)
    await campaigns.smtp.wait_for_messages(before or 1)
    [received] = [mail for mail in campaigns.smtp.messages if mail.rcpt_tos == (address,)]
    message = email.message_from_bytes(received.data, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return str(row["id"]), message


def local(url: str) -> str:
    """The path of a link of the mail (its host is the public base URL; the test server is local)."""
    assert url.startswith(PUBLIC_BASE + "/"), url
    return urlsplit(url).path


async def events(services: Services, message_id: str, kind: str) -> list[dict[str, Any]]:
    async with services.container.unit_of_work() as uow:
        rows = await uow.session.execute(
            select(MessageEvent.data, MessageEvent.campaign_id)
            .where(MessageEvent.message_id == message_id, MessageEvent.kind == kind)
            .order_by(MessageEvent.id)
        )
        return [{**(row.data or {}), "campaignId": row.campaign_id} for row in rows]


def unsubscribe_link(message: email.message.EmailMessage) -> str:
    header = str(message["List-Unsubscribe"])
    uris = [part.strip() for part in header.split(",")]
    assert all(uri.startswith("<") and uri.endswith(">") for uri in uris), header
    [https] = [uri[1:-1] for uri in uris if uri.startswith("<https://")]
    return https


async def test_marketing_mail_unsubscribes_with_one_click_and_the_page_changes_nothing(
    campaigns: Campaigns,
    worker: BackgroundServices,
    services: Services,
    public: httpx.AsyncClient,
    suppression_list: SuppressionCalls,
) -> None:
    message_id, message = await send(campaigns, campaigns.marketing, "ada.lovelace@example.com")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    path = local(unsubscribe_link(message))

    page = await public.get(path)  # what a scanner prefetching the link does: nothing changes
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "a•••e@example.com" in page.text
    assert "ada.lovelace" not in page.text
    assert '<form method="post">' in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src" not in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert "set-cookie" not in page.headers
    assert suppression_list.calls == []
    assert await events(services, message_id, "unsubscribed") == []

    form = {"content-type": "application/x-www-form-urlencoded"}
    for _ in range(2):  # a mailbox provider's one-click POST, repeated: the same outcome, one event
        done = await public.post(path, content=b"List-Unsubscribe=One-Click", headers=form)
        assert done.status_code == 200, done.text
        assert "unsubscribed" in done.text
    [(org, _, [entry], source)] = suppression_list.calls[:1]
    assert org == campaigns.api.tenant.org_id
    assert source == "unsubscribe"
    assert (entry.address, entry.reason, entry.category, entry.message_id) == (
        "ada.lovelace@example.com",
        "unsubscribe",
        "Marketing",
        message_id,
    )
    assert len(suppression_list.calls) == 2  # idempotent by the suppression list's contract
    assert await events(services, message_id, "unsubscribed") == [
        {"method": "one-click", "category": "Marketing", "campaignId": campaigns.marketing}
    ]

    tampered = path[:-2] + ("AA" if not path.endswith("AA") else "BB")
    for method in ("GET", "POST"):
        refused = await public.request(method, tampered)
        assert refused.status_code == 404
        assert refused.headers["content-type"] == "text/html; charset=utf-8"
    assert len(suppression_list.calls) == 2


async def test_transactional_mail_has_no_unsubscribe_header_and_no_tracking(
    campaigns: Campaigns, worker: BackgroundServices
) -> None:
    _, message = await send(campaigns, campaigns.transactional, "grace@example.com")
    assert message["List-Unsubscribe"] is None
    assert message["List-Unsubscribe-Post"] is None
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "/t/" not in html


async def test_tracked_links_redirect_to_their_original_and_record_clicks(
    campaigns: Campaigns, worker: BackgroundServices, services: Services, public: httpx.AsyncClient
) -> None:
    # A person clicks one link, then another, seconds apart: no burst window here, so no sleeping.
    services.tracking = TrackingRecorder(services.container.unit_of_work, burst_seconds=0)
    message_id, message = await send(campaigns, campaigns.marketing, "grace@example.com")
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    hrefs = parsed(html).hrefs
    assert hrefs[3:] == ["mailto:help@shop.example", "#top", "https://shop.example/private"]
    expected = [
        "https://shop.example/sale?src=mail&id=7",
        "https://shop.example/me?a=1&b=2",
        "http://shop.example/plain",
    ]
    await backdate(services, message_id)
    for href, url in zip(hrefs[:3], expected, strict=True):
        assert href.startswith(f"{PUBLIC_BASE}/t/c/")
        answer = await public.get(local(href), headers={"user-agent": HUMAN})
        assert answer.status_code == 302
        assert answer.headers["location"] == url
        assert answer.headers["cache-control"].startswith("no-store")

    path = local(hrefs[0])
    for tampered in (path[:-3] + "xyz", path + "A", "/t/c/", "/t/c/" + "A" * 40):
        refused = await public.get(tampered)
        assert refused.status_code == 404
        assert "location" not in refused.headers
    assert (await public.post(path)).status_code == 405

    await services.tracking.flush()
    clicks = await events(services, message_id, "clicked")
    assert [click["url"] for click in clicks] == expected
    assert all(click["userAgent"] == HUMAN and click["machine"] is False for click in clicks)
    assert {click["campaignId"] for click in clicks} == {campaigns.marketing}


async def test_opens_are_recorded_first_and_machine_opens_apart(
    campaigns: Campaigns, worker: BackgroundServices, services: Services, public: httpx.AsyncClient
) -> None:
    message_id, message = await send(campaigns, campaigns.marketing, "alan@example.com")
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    [pixel] = parsed(html).images
    path = local(str(pixel["src"]))

    prefetch = await public.get(path, headers={"user-agent": HUMAN})  # right after sending: a prefetch
    assert prefetch.status_code == 200
    assert prefetch.headers["content-type"] == "image/gif"
    assert prefetch.content.startswith(b"GIF89a\x01\x00\x01\x00")  # 1x1
    assert b"!\xf9\x04\x01" in prefetch.content  # a graphic control extension: transparent
    assert prefetch.headers["cache-control"].startswith("no-store")
    await services.tracking.flush()
    await backdate(services, message_id)
    for agent in ("Mozilla/5.0", HUMAN, HUMAN):  # Apple's privacy proxy, then the person, twice
        assert (await public.get(path, headers={"user-agent": agent})).status_code == 200
    assert (await public.head(path, headers={"user-agent": HUMAN})).status_code == 200  # not recorded
    assert (await public.get(path[:-2] + "zz")).status_code == 404

    await services.tracking.flush()
    opens = await events(services, message_id, "opened")
    assert [(o["machine"], o.get("machineReason"), o["first"]) for o in opens] == [
        (True, "prefetch", True),
        (True, "appleProxy", False),
        (False, None, True),
        (False, None, False),
    ]
    assert services.tracking.dropped == services.tracking.failed == 0


async def test_a_scanner_following_every_link_at_once_is_a_machine(
    campaigns: Campaigns, worker: BackgroundServices, services: Services, public: httpx.AsyncClient
) -> None:
    message_id, message = await send(campaigns, campaigns.marketing, "scan@example.com")
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    await backdate(services, message_id)
    for href in parsed(html).hrefs[:3]:
        assert (await public.get(local(href), headers={"user-agent": HUMAN})).status_code == 302
    await public.get(local(parsed(html).hrefs[0]), headers={"user-agent": "Mozilla/5.0 Proofpoint"})
    await services.tracking.flush()
    clicks = await events(services, message_id, "clicked")
    assert [(c["machine"], c.get("machineReason")) for c in clicks] == [
        (False, None),
        (True, "burst"),
        (True, "burst"),
        (True, "userAgent"),
    ]


async def backdate(services: Services, message_id: str) -> None:
    """Make the message sent a minute ago (past the prefetch window of ``feedback/machine.py``)."""
    async with services.container.unit_of_work() as uow:
        await uow.session.execute(
            update(Message).where(Message.id == message_id).values(sent_at=utcnow() - timedelta(minutes=1))
        )
        await uow.commit()
