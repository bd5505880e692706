"""The messages area in a browser: overview chart, ledger, a message's mail and history, resend, outbox."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Dialog, Page, expect

from tests.builders import Api, Tenant
from tests.conftest import TenantFactory
from tests.console.conftest import ConsoleServer, screenshot, sign_in
from tests.delivery.servers import SmtpServer

HT = "/ajo/im/executions/highthroughput"
HTML = (
    "<h1>Order {{context.order.id}}</h1><p>Thanks!</p>"
    '<img src="http://images.example.invalid/logo.png" alt="logo">'
)


@pytest.fixture
async def http(console_server: ConsoleServer) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the served API (the test's own setup calls; pages are the browser's)."""
    async with httpx.AsyncClient(base_url=console_server.base_url, timeout=30) as client:
        yield client


async def live_campaign(api: Api, port: int, name: str) -> str:
    """A live high-throughput campaign sending through the SMTP server on ``port``."""
    pool = await api.pool(f"{name}Pool", port=port)
    configuration = await api.configuration(pool["id"], name=f"{name}Mail", high_throughput=True)
    campaign = await api.campaign(
        configuration["id"],
        high_throughput=True,
        name=name,
        content={"email": {"subject": "Order {{context.order.id}}", "html": HTML}},
    )
    await api.call("POST", f"/v1/campaigns/{campaign['id']}/activate", expect=200)
    return str(campaign["id"])


async def send(api: Api, campaign: str, address: str, order: str) -> dict[str, Any]:
    """Trigger one message and wait until the ledger has its final status."""
    body = {
        "requestId": order,
        "campaignId": campaign,
        "recipients": [
            {"type": "external", "userId": address, "namespace": "email", "context": {"order": {"id": order}}}
        ],
    }
    triggered = await api.call("POST", HT, body, expect=202)
    execution = triggered.json()["executionId"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = (await api.call("GET", f"/v1/messages?executionId={execution}", expect=200)).json()["items"]
        if rows and rows[0]["status"] != "accepted":
            return dict(rows[0])
        await asyncio.sleep(0.1)
    raise AssertionError("the message never reached a final status")


async def test_a_sent_message_in_overview_ledger_message_page_and_outbox(
    page: Page, make_tenant: TenantFactory, console_server: ConsoleServer, http: httpx.AsyncClient
) -> None:
    tenant: Tenant = await make_tenant(high_throughput=True)
    api = Api(http, tenant)
    capture_port = int(console_server.env["CLARION_SMTP_CAPTURE_PORT"])
    campaign = await live_campaign(api, capture_port, "Receipts")
    row = await send(api, campaign, "ada@example.com", "A-1")
    assert row["status"] == "sent"
    # Chromium may announce the frame's <img> request before refusing it: what counts is that every remote
    # request was refused by the Content-Security-Policy ("csp") and none got an answer.
    answered: list[str] = []
    refused: list[str] = []
    page.on(
        "response",
        lambda response: answered.append(response.url) if "example.invalid" in response.url else None,
    )
    page.on(
        "requestfailed",
        lambda request: refused.append(str(request.failure)) if "example.invalid" in request.url else None,
    )

    await sign_in(page, tenant)
    await expect(page.locator("#sent-hour")).to_have_text("1")
    await expect(page.locator("#throughput canvas").first).to_be_visible()  # uPlot drew the chart
    await screenshot(page, "messages-overview")

    await page.get_by_role("link", name="Messages", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Messages")
    await page.get_by_label("Campaign").select_option(campaign)
    await page.get_by_label("Status").select_option("sent")
    await page.get_by_role("button", name="Filter").click()
    await expect(page).to_have_url(
        f"{console_server.base_url}/console/messages?status=sent&campaign={campaign}&recipient=&since=&until=&event="
    )
    await screenshot(page, "messages-ledger")

    await page.get_by_role("link", name="ada@example.com").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Message to ada@example.com")
    mail = page.frame_locator("iframe.mail")
    await expect(mail.get_by_role("heading", name="Order A-1")).to_be_visible()
    assert await page.locator("iframe.mail").get_attribute("sandbox") == ""
    await expect(page.locator("#history")).to_contain_text("accepted")
    await expect(page.locator("#history .answer").first).to_contain_text("250")
    await expect(page.get_by_text("exactly as sent")).to_be_visible()
    await screenshot(page, "messages-message")

    await page.get_by_role("link", name="Outbox", exact=True).click()
    await page.get_by_role("link", name="Order A-1").click()
    await expect(page.frame_locator("iframe.mail").get_by_text("Thanks!")).to_be_visible()
    await page.get_by_role("link", name="← Outbox").click()
    await expect(page.get_by_role("link", name="Order A-1")).to_be_visible()
    await screenshot(page, "messages-outbox")
    assert answered == []  # the mail's remote image was never fetched
    assert set(refused) <= {"csp"}, refused


async def test_a_refused_message_is_resent_from_its_page(
    page: Page, make_tenant: TenantFactory, http: httpx.AsyncClient
) -> None:
    tenant = await make_tenant(high_throughput=True)
    api = Api(http, tenant)
    async with SmtpServer() as relay:
        relay.rcpt_answers["bounce@example.com"] = "554 5.7.1 sender blocked by policy"  # failed, not bounced
        campaign = await live_campaign(api, relay.port, "Bouncy")
        row = await send(api, campaign, "bounce@example.com", "B-2")
        assert row["status"] == "failed"

        await sign_in(page, tenant)
        await page.goto("/console/messages?status=failed")
        await page.get_by_role("link", name="bounce@example.com").click()
        await expect(page.locator("#message-status")).to_have_text("failed")
        await expect(page.locator("#history")).to_contain_text("554 5.7.1 sender blocked by policy")
        # Not sent: rendered again from the payload the ledger keeps.
        await expect(
            page.frame_locator("iframe.mail").get_by_role("heading", name="Order B-2")
        ).to_be_visible()
        await screenshot(page, "messages-failed")

        del relay.rcpt_answers["bounce@example.com"]

        async def accept(dialog: Dialog) -> None:
            await dialog.accept()

        page.on("dialog", accept)
        await page.get_by_role("button", name="Resend").click()
        await expect(page.get_by_role("status")).to_contain_text("Queued again")
        await expect(page.locator("#message-status")).to_have_text("sent", timeout=20_000)
        await expect(page.locator("#history")).to_contain_text("resent")
        await expect(page.get_by_role("button", name="Resend")).to_have_count(0)


async def test_a_bad_filter_is_refused_in_words_next_to_the_form(
    page: Page, make_tenant: TenantFactory
) -> None:
    tenant = await make_tenant()
    await sign_in(page, tenant)
    await page.goto("/console/messages?since=2026-12-07T10:00&until=2026-12-07T09:00")
    await expect(page.get_by_role("alert")).to_contain_text("until: must be after since")
    await expect(page.get_by_label("Accepted from (UTC)")).to_have_value("2026-12-07T10:00")
    await page.goto("/console/outbox?recipient=nobody@example.com")
    await expect(page.get_by_text("No captured mail to nobody@example.com")).to_be_visible()
