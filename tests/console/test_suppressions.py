"""The suppression list in a browser: add, search by prefix, filter by reason, cursor pages, remove with a
confirmation, and a CSV import with its bad rows named by line."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.async_api import Dialog, Page, expect

from tests.conftest import TenantFactory
from tests.console.conftest import ConsoleServer, screenshot, sign_in


async def test_add_search_page_remove_and_import(
    page: Page, make_tenant: TenantFactory, console_server: ConsoleServer, tmp_path: Path
) -> None:
    tenant = await make_tenant()
    api = f"{console_server.base_url}/v1/suppressions"
    entries = [{"address": f"bulk{i:02}@example.com"} for i in range(60)]
    httpx.post(api, json={"entries": entries}, headers=tenant.headers()).raise_for_status()
    await sign_in(page, tenant)
    await page.goto("/console/suppressions")

    # Add one by hand.
    await page.get_by_label("Address", exact=True).fill("Someone@Example.com")
    await page.get_by_label("Note").fill("asked by phone")
    await page.get_by_role("button", name="Add", exact=True).click()
    await expect(page.get_by_role("status")).to_have_text("someone@example.com added")
    await expect(page.get_by_role("row", name="someone@example.com manual")).to_be_visible()

    # Cursor pages: 61 entries, 50 a page.
    await expect(page.locator("tbody tr")).to_have_count(50)
    await page.get_by_role("link", name="Next page →").click()
    await expect(page.locator("tbody tr")).to_have_count(11)
    await expect(page.get_by_role("link", name="Next page →")).to_have_count(0)
    await page.get_by_role("link", name="First page").click()
    await expect(page.locator("tbody tr")).to_have_count(50)

    # Search by prefix, filter by reason.
    await page.get_by_label("Address starts with").fill("SOME")
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("tbody tr")).to_have_count(1)
    await page.get_by_label("Address starts with").fill("")
    await page.get_by_label("Only the reason").select_option("complaint")
    await expect(page.get_by_text("No suppressed address matches.")).to_be_visible()

    # Remove, after the confirmation.
    await page.goto("/console/suppressions?prefix=someone")
    messages: list[str] = []

    async def accept(dialog: Dialog) -> None:
        messages.append(dialog.message)
        await dialog.accept()

    page.on("dialog", accept)
    await page.get_by_role("button", name="Remove someone@example.com (manual)").click()
    await expect(page.get_by_role("status")).to_have_text("someone@example.com removed")
    assert len(messages) == 1
    assert "someone@example.com" in messages[0]
    gone = httpx.get(f"{api}/someone@example.com", headers=tenant.headers())
    assert gone.status_code == 404

    # Import a CSV file.
    upload = tmp_path / "list.csv"
    upload.write_text("address,reason\nnew1@example.com,\nnot an address,\nnew2@example.com,complaint\n")
    await page.get_by_label("File").set_input_files(upload)
    await page.get_by_role("button", name="Import").click()
    await expect(page.locator("[data-count=added]")).to_have_text("2")
    await expect(page.locator("[data-count=failed]")).to_have_text("1")
    await expect(page.get_by_role("row", name="3 address 'not an address'")).to_be_visible()
    await screenshot(page, "suppressions")
    found = httpx.get(f"{api}/new2@example.com", headers=tenant.headers()).json()
    assert [item["reason"] for item in found["items"]] == ["complaint"]
