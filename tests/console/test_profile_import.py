"""Importing profiles from a JSON lines file in the browser: stored through the API in batches, every bad
line reported with its number and reason, the rest stored."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import httpx
from playwright.async_api import Page, expect

from tests.conftest import TenantFactory
from tests.console.conftest import REPOSITORY, ConsoleServer, screenshot, sign_in

SAMPLE = REPOSITORY / "examples" / "profiles.jsonl"


async def test_the_sample_file_is_imported_and_bad_lines_are_named(
    page: Page, make_tenant: TenantFactory, console_server: ConsoleServer, tmp_path: Path
) -> None:
    tenant = await make_tenant()
    good = SAMPLE.read_text().splitlines()
    upload = tmp_path / "profiles.jsonl.gz"
    # Two batches: the 1,000 samples, two bad lines, then 100 samples again (updates this time).
    lines = [*good, "{not json", json.dumps({"attributes": {"a": 1}}), *good[:100]]
    upload.write_bytes(gzip.compress("\n".join(lines).encode()))
    await sign_in(page, tenant)
    await page.goto("/console/profiles/import")
    await page.get_by_label("File").set_input_files(upload)
    await page.get_by_role("button", name="Import").click()
    expected = len(good)
    await expect(page.locator("[data-count=created]")).to_have_text(str(expected))
    await expect(page.locator("[data-count=updated]")).to_have_text("100")
    await expect(page.locator("[data-count=refused]")).to_have_text("2")
    await expect(page.get_by_role("row", name=f"{expected + 1} not JSON")).to_be_visible()
    await expect(page.get_by_role("row", name=f"{expected + 2} identities")).to_be_visible()
    await screenshot(page, "profiles-import")
    listing = httpx.get(
        f"{console_server.base_url}/v1/profiles", params={"limit": 1}, headers=tenant.headers()
    ).json()
    assert listing["total"] == expected
