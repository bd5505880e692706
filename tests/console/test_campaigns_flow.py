"""The high-throughput quick start in the console: pool → configuration → campaign with its live preview →
activate → trigger with real curl (the command the page offers) → the campaign's statistics count the mail."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.conftest import TenantFactory
from tests.console.conftest import ConsoleServer, screenshot, sign_in
from tests.delivery.servers import SmtpServer

RELAY_PASSWORD = "relay-secret-never-shown"


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpServer]:
    async with SmtpServer() as server:
        yield server


async def create_pool(page: Page, smtp: SmtpServer) -> None:
    await page.goto("/console/ip-pools")
    await page.get_by_role("link", name="New IP pool").click()
    await expect(
        page.get_by_text("A letter, then letters, digits")
    ).to_be_visible()  # the rule, before saving
    await page.get_by_label("Name", exact=True).fill("htpool")
    await page.get_by_label("Host 1").fill("127.0.0.1")
    await page.get_by_label("Port 1").fill(str(smtp.port))
    await page.get_by_role("button", name="Create").click()
    await expect(page.get_by_role("status")).to_have_text("IP pool htpool saved.")
    await screenshot(page, "campaigns-ip-pools")


async def create_configuration(page: Page) -> None:
    await page.goto("/console/channel-configurations/new")
    await expect(page.get_by_text("Naming rule: a letter")).to_be_visible()
    await expect(page.get_by_text("a pool never mixes the two kinds")).to_be_visible()
    await page.get_by_label("Name", exact=True).fill("9bad")
    await page.get_by_label("High throughput").check()
    await page.get_by_label("IP pool").select_option(label="htpool")
    await page.get_by_label("From address").fill("news@shop.example")
    await page.get_by_label("From name").fill("Shop")
    # The browser enforces the pattern too; bypass it to see the API's own refusal inline.
    await page.locator("#f-name").evaluate("input => input.removeAttribute('pattern')")
    await page.get_by_role("button", name="Create").click()
    await expect(page.locator("#e-name")).to_contain_text("name")
    await page.get_by_label("Name", exact=True).fill("htmail")
    await page.get_by_role("button", name="Create").click()
    await expect(page.get_by_role("status")).to_have_text("Channel configuration htmail saved.")
    await expect(page.get_by_role("row", name=re.compile("htmail"))).to_contain_text("high throughput")
    await screenshot(page, "campaigns-configurations")


async def create_campaign(page: Page) -> None:
    await page.goto("/console/campaigns/new")
    await page.get_by_label("Name", exact=True).fill("HT receipts")
    await page.get_by_label("Channel configuration").select_option(label="htmail (email, high throughput)")
    await page.get_by_label("High-throughput mode").check()
    await page.get_by_label("Subject").fill("Order {{context.order.id}}")
    await page.get_by_label("HTML").fill("<h1>Hello {{context.name}}</h1>")
    await page.get_by_label("Sample context (JSON)").fill('{"order": {"id": "A-1"}, "name": "Ada"}')
    preview = page.locator("#preview")
    await expect(preview.locator('[data-preview="subject"]')).to_have_text("Order A-1")
    await expect(preview.locator('[data-preview="text"]')).to_contain_text("Hello Ada")
    html = preview.frame_locator("iframe.mail")
    await expect(html.get_by_role("heading")).to_have_text("Hello Ada")

    await page.get_by_label("HTML").fill("<h1>Hello {{context.name}}</h1>\n<p>{{profile.person.name}}</p>")
    await expect(preview.get_by_role("alert")).to_contain_text("line 2, column 6")
    await expect(preview.get_by_role("alert")).to_contain_text("content.email.html")
    await expect(page.locator("[data-bad-line='2'] .gutter .bad")).to_have_text("2")  # the line marked
    await screenshot(page, "campaigns-editor-error")
    await page.get_by_label("HTML").fill("<h1>Hello {{context.name}}</h1>\n<p>{{#if context.vip}}VIP</p>")
    await expect(preview.get_by_role("alert")).to_contain_text("line 2")
    await page.get_by_role("button", name="Create draft").click()  # refused: shown under the field
    await expect(page.locator('[id="e-content.email.html"]')).to_contain_text("line 2")
    await expect(page.get_by_label("HTML")).to_have_value(re.compile(r"\{\{#if context\.vip\}\}"))
    await page.get_by_label("HTML").fill("<h1>Hello {{context.name}}</h1>")
    await expect(preview.locator('[data-preview="subject"]')).to_have_text("Order A-1")
    await screenshot(page, "campaigns-editor")
    await page.get_by_role("button", name="Create draft").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("HT receipts")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Draft")


async def test_ht_quick_start_from_the_console(
    page: Page, make_tenant: TenantFactory, smtp: SmtpServer
) -> None:
    tenant = await make_tenant(high_throughput=True)
    errors: list[str] = []  # script errors and CSP violations anywhere in the flow
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console", lambda message: errors.append(message.text) if "Security Policy" in message.text else None
    )
    await sign_in(page, tenant)
    await create_pool(page, smtp)
    await create_configuration(page)
    await create_campaign(page)

    await page.get_by_role("button", name="Activate").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Live")
    await page.get_by_role("link", name="Content and preview").click()  # a Live campaign: preview, no save
    await expect(page.locator("#curl-preview")).to_contain_text('"name": "Ada"')  # the sample context
    await expect(page.get_by_role("button", name="Save")).to_have_count(0)
    await page.get_by_role("link", name="← Campaign").click()
    command = await page.locator("#curl").inner_text()
    assert "$CLARION_TOKEN" in command
    assert tenant.token not in command
    assert "/ajo/im/executions/highthroughput" in command
    done = subprocess.run(
        ["sh", "-c", command + " -sS -w '\\n%{http_code}'"],
        env={**os.environ, "CLARION_TOKEN": tenant.token},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stdout.rstrip().endswith("202"), done.stdout + done.stderr
    assert "executionId" in done.stdout

    await expect(page.locator('[data-stat="total"]')).to_have_text("1", timeout=20_000)
    await expect(page.locator('[data-stat="sent"]')).to_have_text("1", timeout=20_000)
    await screenshot(page, "campaigns-detail")
    await smtp.wait_for_messages(1)

    # Without curl: the campaign page's own "Send a test" goes through the same execution API.
    await page.get_by_label("Recipient (email)").fill("ada@example.com")
    await page.get_by_label("Context (JSON)").fill('{"order": {"id": "A-2"}, "name": "Ada"}')
    await page.get_by_role("button", name="Send", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("Accepted (202)")
    await smtp.wait_for_messages(2)

    # The message and its story: the ledger, its history with the relay's answer, the mail as rendered.
    await page.get_by_role("link", name="The messages of this campaign").click()
    await page.get_by_role("link", name="ada@example.com").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Message to ada@example.com")
    await expect(page.locator("#message-status")).to_have_text("sent", timeout=20_000)
    history = page.locator("#history ol.timeline")
    await expect(history).to_contain_text("sent")
    await expect(history).to_contain_text("250")
    # Sent to a real relay (not the bundled capture server), so no copy is kept: the page says so.
    # (tests/console/test_messages.py shows a captured mail in its sandboxed frame.)
    await expect(page.get_by_text("its mail is not kept")).to_be_visible()
    await screenshot(page, "message-from-the-quick-start")

    await page.goto("/console/campaigns?status=Live")
    await expect(page.get_by_role("row", name=re.compile("HT receipts"))).to_contain_text("Live")
    await screenshot(page, "campaigns-list")
    await page.goto("/console/campaigns?status=Draft")
    await expect(page.get_by_text("No campaign matches these filters")).to_be_visible()
    assert not errors, errors


async def test_relay_passwords_are_write_only(
    page: Page, make_tenant: TenantFactory, console_server: ConsoleServer
) -> None:
    tenant = await make_tenant()
    await sign_in(page, tenant)
    await page.goto("/console/ip-pools/new")
    await page.get_by_label("Name", exact=True).fill("authpool")
    await page.get_by_label("Host 1").fill("relay.example")
    await page.get_by_label("Username 1").fill("mailer")
    await page.get_by_label("Password 1").fill(RELAY_PASSWORD)
    await page.get_by_role("button", name="Create").click()
    await page.get_by_role("link", name="authpool").click()
    await expect(page.get_by_label("Password 1")).to_have_value("")
    await expect(page.get_by_text("A password is stored: leave empty to keep it.")).to_be_visible()
    assert RELAY_PASSWORD not in await page.content()
    await page.get_by_label("Max connections").fill("4")
    await page.get_by_role("button", name="Save").click()  # the empty password keeps the stored one
    await expect(page.get_by_role("status")).to_have_text("IP pool authpool saved.")
    pools = httpx.get(f"{console_server.base_url}/v1/ip-pools", headers=tenant.headers()).json()["items"]
    assert [(p["maxConnections"], p["relays"][0]["hasPassword"]) for p in pools] == [(4, True)]
    await page.get_by_role("link", name="authpool").click()
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))  # "Delete IP pool authpool?"
    await page.get_by_role("button", name="Delete this pool").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("IP pools")


async def test_another_organization_sees_none_of_it(
    page: Page, make_tenant: TenantFactory, console_server: ConsoleServer
) -> None:
    owner, other = await make_tenant(), await make_tenant()
    api = httpx.Client(base_url=console_server.base_url, headers=owner.headers())
    pool = api.post("/v1/ip-pools", json={"name": "ownerpool", "relays": [{"host": "h"}]}).json()
    configuration = api.post(
        "/v1/channel-configurations",
        json={
            "name": "ownermail",
            "channel": "email",
            "email": {"fromAddress": "a@b.c", "ipPoolId": pool["id"]},
        },
    ).json()
    campaign = api.post(
        "/v1/campaigns",
        json={
            "name": "Owner campaign",
            "channel": "email",
            "channelConfigurationId": configuration["id"],
            "content": {"email": {"subject": "s", "text": "t"}},
        },
    ).json()
    await sign_in(page, other)
    for path in (
        f"/console/campaigns/{campaign['id']}",
        f"/console/campaigns/{campaign['id']}/edit",
        f"/console/ip-pools/{pool['id']}",
        f"/console/channel-configurations/{configuration['id']}",
    ):
        response = await page.goto(path)
        assert response is not None
        assert response.status == 404, path
        await expect(page.get_by_role("alert")).to_contain_text("does not exist")
    await page.goto("/console/campaigns")
    await expect(page.get_by_text("No campaign in this sandbox yet")).to_be_visible()
    await page.goto("/console/ip-pools")
    await expect(page.get_by_text("ownerpool")).to_have_count(0)
