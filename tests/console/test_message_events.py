"""Message events in a browser: the history timeline shows feedback with its details, the ledger filters by
event, and the campaign page shows sent, delivered and the rates with the engagement chart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from clarion.container import Container
from clarion.delivery.feedback import Feedback, find_messages, record_feedback
from clarion.kit.clock import utcnow
from tests.builders import Api
from tests.conftest import TenantFactory, settings_for
from tests.console.conftest import ConsoleServer, screenshot, sign_in
from tests.console.test_messages import live_campaign, send


@pytest.fixture
async def http(console_server: ConsoleServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=console_server.base_url, timeout=30) as client:
        yield client


async def record(database_url: str, folder: Path, items: list[Feedback]) -> None:
    """What the inbound listener and the tracking routes do, on the served instance's database."""
    container = Container.build(settings_for(database_url, folder))
    try:
        async with container.unit_of_work() as uow:
            found = await find_messages(uow.session, [item.message_id for item in items])
            assert len(await record_feedback(uow, found, items)) == len(items)
            await uow.commit()
    finally:
        await container.close()


async def test_feedback_in_the_timeline_the_ledger_filter_and_the_campaign_stats(
    page: Page,
    make_tenant: TenantFactory,
    console_server: ConsoleServer,
    http: httpx.AsyncClient,
    database_url: str,
    tmp_path: Path,
) -> None:
    tenant = await make_tenant(high_throughput=True)
    api = Api(http, tenant)
    campaign = await live_campaign(api, int(console_server.env["CLARION_SMTP_CAPTURE_PORT"]), "Engaging")
    reader = await send(api, campaign, "reader@example.com", "R-1")
    gone = await send(api, campaign, "gone@example.com", "G-1")
    now = utcnow()
    await record(
        database_url,
        tmp_path,
        [
            Feedback(message_id=reader["id"], kind="opened", at=now, data={"machine": True, "first": True}),
            Feedback(message_id=reader["id"], kind="opened", at=now, data={"machine": False, "first": False}),
            Feedback(
                message_id=reader["id"], kind="clicked", at=now, data={"url": "https://shop.example/sale?x=1"}
            ),
            Feedback(
                message_id=gone["id"],
                kind="bounced",
                at=now,
                response="550 5.1.1 no such user",
                data={"type": "hard", "status": "5.1.1", "diagnostic": "smtp; 550 5.1.1 no such user"},
            ),
        ],
    )

    await sign_in(page, tenant)
    await page.goto("/console/messages")
    await page.get_by_label("Had event").select_option("clicked")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.get_by_role("link", name="reader@example.com")).to_be_visible()
    await expect(page.get_by_role("link", name="gone@example.com")).to_have_count(0)
    await screenshot(page, "messages-event-filter")

    await page.get_by_role("link", name="reader@example.com").click()
    history = page.locator("#history")
    await expect(history.locator('[data-event="opened"]')).to_have_count(2)
    await expect(history.locator(".machine")).to_have_count(1)
    await expect(history.locator('[data-event="clicked"] .click-url')).to_have_text(
        "https://shop.example/sale?x=1"
    )
    await screenshot(page, "messages-history-feedback")

    await page.goto(f"/console/messages/{gone['id']}")
    await expect(page.locator("#message-status")).to_have_text("bounced")
    bounce = history.locator('[data-event="bounced"]')
    await expect(bounce).to_contain_text("hard bounce")
    await expect(bounce).to_contain_text("5.1.1")
    await expect(bounce.locator(".diagnostic")).to_have_text("smtp; 550 5.1.1 no such user")

    await page.goto(f"/console/campaigns/{campaign}")
    await expect(page.locator('[data-stat="sent-total"]')).to_have_text("2")
    await expect(page.locator('[data-stat="delivered"]')).to_have_text("1")
    await expect(page.locator('[data-stat="bounce-rate"]')).to_have_text("50.0 %")
    await expect(page.locator('[data-stat="open-rate"]')).to_have_text("100.0 %")
    await expect(page.locator('[data-stat="click-rate"]')).to_have_text("100.0 %")
    await expect(page.locator('[data-stat="machine-opens"]')).to_have_text("1")
    await expect(page.locator("#engagement-chart canvas").first).to_be_visible()  # uPlot drew it
    await screenshot(page, "campaign-engagement")
