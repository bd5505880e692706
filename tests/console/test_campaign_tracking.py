"""The campaign editor's tracking checkboxes and what the campaign page says of its unsubscribe header."""

from __future__ import annotations

import re

import httpx
from playwright.async_api import Page, expect

from clarion.console.pages.campaigns import campaign_body
from tests.builders import Api
from tests.conftest import TenantFactory
from tests.console.conftest import ConsoleServer, screenshot, sign_in


def test_the_form_sends_tracking_for_email_only() -> None:
    form = {
        "name": "c",
        "channel": "email",
        "tracking.clicks": "true",
        "email.subject": "S",
        "email.html": "x",
    }
    assert campaign_body(form)["tracking"] == {"opens": False, "clicks": True}
    assert "tracking" not in campaign_body({**form, "channel": "sms", "sms.body": "hi"})


async def test_tracking_is_chosen_in_the_editor_and_marketing_shows_its_unsubscribe_header(
    page: Page, make_tenant: TenantFactory, console_server: ConsoleServer
) -> None:
    tenant = await make_tenant()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    async with httpx.AsyncClient(base_url=console_server.base_url, timeout=30) as client:
        api = Api(client, tenant)
        pool = await api.pool("trackpool")
        await api.configuration(pool["id"], name="trackmail")

        await sign_in(page, tenant)
        await page.goto("/console/campaigns/new")
        await page.get_by_label("Name", exact=True).fill("Winter sale")
        await page.get_by_label("Category").select_option("Marketing")
        await page.get_by_label("Channel configuration").select_option(label="trackmail (email, standard)")
        await page.get_by_label("Subject").fill("Sale")
        await page.get_by_label("HTML").fill('<p><a href="https://shop.example/sale">Sale</a></p>')
        opens, clicks = page.get_by_label("Track opens"), page.get_by_label("Track clicks")
        await expect(opens).not_to_be_checked()
        await expect(clicks).not_to_be_checked()
        await opens.check()
        await clicks.check()
        await screenshot(page, "campaigns-tracking-editor")
        await page.get_by_role("button", name="Create draft").click()
        await expect(page.get_by_role("heading", level=1)).to_contain_text("Winter sale")
        await expect(page.locator("#unsubscribe-header")).to_contain_text("one-click")
        await expect(page.locator("#tracking")).to_have_text("Opens and clicks")
        await screenshot(page, "campaigns-tracking-detail")

        campaign_id = page.url.rstrip("/").rsplit("/", 1)[1]
        stored = (await api.call("GET", f"/v1/campaigns/{campaign_id}", expect=200)).json()
        assert stored["tracking"] == {"opens": True, "clicks": True}
        assert stored["category"] == "Marketing"

        await page.goto(f"/console/campaigns/{campaign_id}/edit")
        await expect(page.get_by_label("Track opens")).to_be_checked()
        await expect(page.locator("#unsubscribe-note")).to_contain_text("one-click unsubscribe link")
        await page.get_by_label("Track opens").uncheck()
        await page.get_by_label("Category").select_option("Transactional")
        await page.get_by_role("button", name="Save").click()
        await expect(page.locator("#unsubscribe-header")).to_have_text("No (Transactional)")
        await expect(page.locator("#tracking")).to_have_text("Clicks")
        stored = (await api.call("GET", f"/v1/campaigns/{campaign_id}", expect=200)).json()
        assert stored["tracking"] == {"opens": False, "clicks": True}
        assert re.fullmatch(r"[0-9a-f-]{36}", campaign_id)
    assert errors == []
