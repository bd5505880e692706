"""DKIM in the console: keys added on the channel configuration form (write-only textarea, a refusal shown at
its field), kept when the textarea is left empty, listed on the DKIM keys page with the DNS record to copy,
and removed."""

from __future__ import annotations

import re

import httpx
from playwright.async_api import Page, expect

from clarion.console.pages.channel_configurations import configuration_body
from clarion.kit import dkim
from tests.conftest import TenantFactory
from tests.console.conftest import ConsoleServer, screenshot, sign_in


def test_the_form_sends_filled_slots_keeps_empty_keys_out_and_never_echoes_a_key() -> None:
    form = {
        "name": "signed",
        "channel": "email",
        "email.fromAddress": "news@shop.example",
        "email.dkim[0].domain": "shop.example",
        "email.dkim[0].selector": "s1",
        "email.dkim[0].algorithm": "rsa-sha256",
        "email.dkim[0].privateKey": "",
        "email.dkim[0].headers": "From, Subject ,",
        "email.dkim[1].domain": "shop.example",
        "email.dkim[1].selector": "s2",
        "email.dkim[1].privateKey": "the-secret",
    }
    keys = configuration_body(form)["email"]["dkim"]
    assert keys == [
        {
            "domain": "shop.example",
            "selector": "s1",
            "algorithm": "rsa-sha256",
            "headers": ["From", "Subject"],
        },
        {
            "domain": "shop.example",
            "selector": "s2",
            "algorithm": "ed25519-sha256",
            "privateKey": "the-secret",
        },
    ]
    assert "the-secret" not in str(configuration_body(form, echo=True))
    removed = configuration_body({**form, "email.dkim[1].remove": "true", "email.dkim[0].domain": " "})
    assert removed["email"]["dkim"] == []


async def test_keys_are_added_listed_with_their_dns_record_and_removed(
    page: Page, make_tenant: TenantFactory, console_server: ConsoleServer
) -> None:
    tenant = await make_tenant(high_throughput=True)
    async with httpx.AsyncClient(base_url=console_server.base_url) as client:
        body = {"name": "pool1", "relays": [{"host": "127.0.0.1", "port": 2525}]}
        created = await client.post("/v1/ip-pools", json=body, headers=tenant.headers())
        assert created.status_code == 201, created.text
    key = dkim.generate("ed25519-sha256")
    pem = dkim.private_pem(key)
    public = dkim.public_key_b64(key)
    await sign_in(page, tenant)

    await page.goto("/console/dkim-keys")
    await expect(page.get_by_role("heading", level=1)).to_have_text("DKIM keys")
    await expect(page.get_by_text("No email channel configuration of this sandbox signs")).to_be_visible()

    await page.goto("/console/channel-configurations/new")
    await page.get_by_label("Name", exact=True).fill("signed")
    await page.get_by_label("IP pool").select_option(label="pool1")
    await page.get_by_label("From address").fill("news@mail.shop.example")
    slot = page.locator("[data-dkim-slot='0']")
    await slot.get_by_label("Signing domain (d=)").fill("other.example")
    await slot.get_by_label("Selector (s=)").fill("s2026")
    await slot.get_by_label("Private key").fill(pem)
    await page.get_by_role("button", name="Create").click()
    # Refused at its field; the typed key is not sent back into the page.
    await expect(page.locator("[id='e-email.dkim[0].domain']")).to_contain_text("does not align")
    await expect(slot.get_by_label("Private key")).to_have_value("")
    assert "PRIVATE KEY" not in await page.content()

    await slot.get_by_label("Signing domain (d=)").fill("shop.example")
    await slot.get_by_label("Private key").fill(pem)
    await page.get_by_role("button", name="Create").click()
    await expect(page.get_by_role("status")).to_have_text("Channel configuration signed saved.")

    await page.get_by_role("link", name="DKIM keys").click()
    section = page.locator("section.dkim-configuration")
    await expect(section.get_by_role("heading", level=2)).to_contain_text("signed")
    await expect(section.get_by_role("row", name=re.compile("s2026"))).to_contain_text("ed25519-sha256")
    record = f"v=DKIM1; k=ed25519; p={public}"
    await expect(section.locator("pre").filter(has_text="s2026._domainkey.shop.example")).to_have_count(1)
    await expect(section.locator("pre").filter(has_text=record)).to_have_count(1)
    await expect(section.get_by_role("button", name="Copy value")).to_be_visible()
    await screenshot(page, "dkim-keys")

    # Saved again without touching the key: the stored one stays (the textarea is never pre-filled).
    await section.get_by_role("link", name="signed").click()
    slot = page.locator("[data-dkim-slot='0']")
    await expect(slot.get_by_label("Private key")).to_have_value("")
    await expect(slot.get_by_text("A key is stored: leave empty to keep it")).to_be_visible()
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_have_text("Channel configuration signed saved.")
    await page.goto("/console/dkim-keys")
    await expect(page.locator("pre").filter(has_text=record)).to_have_count(1)

    # Removed: the configuration no longer signs.
    await page.goto("/console/channel-configurations")
    await page.get_by_role("link", name="signed").click()
    await page.locator("[data-dkim-slot='0']").get_by_label("Remove this key").check()
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_have_text("Channel configuration signed saved.")
    await page.goto("/console/dkim-keys")
    await expect(page.get_by_role("heading", name="Not signing here")).to_be_visible()
    await expect(page.locator("section.dkim-configuration")).to_have_count(0)
