"""Audiences in the console: PQL editor validated and sized as you type, evaluate now, profile lookup."""

from __future__ import annotations

import re

import httpx
from playwright.async_api import Page, expect

from tests.conftest import TenantFactory
from tests.console.conftest import ConsoleServer, screenshot, sign_in

PROFILES = (
    ("ada@example.com", {"person": {"name": {"firstName": "Ada"}, "age": 36}, "tier": "gold"}),
    ("bob@example.com", {"person": {"name": {"firstName": "Bob"}, "age": 52}, "tier": "gold"}),
    ("cy@example.com", {"person": {"name": {"firstName": "Cy"}, "age": 19}, "tier": "gold"}),
    ("dee@example.com", {"person": {"name": {"firstName": "Dee"}, "age": 44}, "tier": "silver"}),
)


async def test_write_check_save_evaluate_and_look_up(
    page: Page, make_tenant: TenantFactory, console_server: ConsoleServer
) -> None:
    tenant = await make_tenant()
    async with httpx.AsyncClient(base_url=console_server.base_url, headers=tenant.headers()) as api:
        for email, attributes in PROFILES:
            written = await api.put(f"/v1/profiles/email/{email}", json={"attributes": attributes})
            assert written.status_code == 201, written.text
    await sign_in(page, tenant)

    await page.get_by_role("link", name="Audiences", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Audiences")
    await page.get_by_role("link", name="New audience").click()
    await page.get_by_label("Name").fill("Gold adults")
    expression = page.get_by_label("PQL expression")
    await expression.fill('person.age >= 30\nadn tier = "gold"')
    problem = page.get_by_test_id("pql-problem")
    await expect(problem).to_contain_text("line 2, column 1")
    await expect(problem).to_contain_text('"adn"')
    await screenshot(page, "audience-editor-problem")
    await expression.fill('person.age >= 30\nand tier = "gold"')
    await expect(page.get_by_test_id("pql-estimate")).to_contain_text("2 of 4 profiles match")
    await screenshot(page, "audience-editor")
    await page.get_by_role("button", name="Create audience").click()
    await expect(page.get_by_role("status").first).to_contain_text("Audience created.")

    await page.get_by_role("button", name="Evaluate now").click()
    await expect(page).to_have_url(re.compile(r"/console/segment-jobs/[0-9a-f-]+$"))
    await expect(page.get_by_test_id("job-status")).to_have_text("SUCCEEDED", timeout=20_000)
    await expect(page.get_by_test_id("members")).to_have_text("2")
    await screenshot(page, "segment-job")
    await page.get_by_role("link", name="Segment jobs", exact=True).click()
    await expect(
        page.get_by_role("cell", name="Gold adults").first
    ).to_be_visible()  # the daily schedule may add one
    await screenshot(page, "segment-jobs")
    await page.get_by_role("link", name="Audiences", exact=True).click()
    await expect(page.get_by_role("link", name="Gold adults")).to_be_visible()
    await screenshot(page, "audiences")

    await page.get_by_role("link", name="Profiles", exact=True).click()
    await expect(page.get_by_role("link", name="email:bob@example.com")).to_be_visible()
    await screenshot(page, "profiles")
    await page.get_by_label("Identity value").fill("BOB@example.com")
    await page.get_by_role("button", name="Look up").click()
    attributes = page.get_by_test_id("attributes")
    await expect(attributes).to_contain_text("person.name.firstName")
    await expect(attributes).to_contain_text('"Bob"')
    await expect(page.get_by_role("link", name="Gold adults")).to_be_visible()
    await screenshot(page, "profile")


async def test_unknown_identity_is_said_in_words(page: Page, make_tenant: TenantFactory) -> None:
    tenant = await make_tenant()
    await sign_in(page, tenant)
    await page.goto("/console/profiles/lookup?namespace=email&identity=nobody%40example.com")
    await expect(page.get_by_role("alert")).to_contain_text("No profile has the identity")


async def test_another_organizations_audience_is_not_found(
    page: Page, make_tenant: TenantFactory, console_server: ConsoleServer
) -> None:
    owner, other = await make_tenant(), await make_tenant()
    body = {
        "name": "Owner's audience",
        "expression": {"type": "PQL", "format": "pql/text", "value": 'tier = "gold"'},
        "schema": {"name": "_xdm.context.profile"},
    }
    async with httpx.AsyncClient(base_url=console_server.base_url, headers=owner.headers()) as api:
        created = await api.post("/data/core/ups/segment/definitions", json=body)
        assert created.status_code == 200, created.text
    await sign_in(page, other)
    await page.goto(f"/console/audiences/{created.json()['id']}")
    await expect(page.get_by_role("alert")).to_contain_text("was not found")
    await page.goto("/console/audiences")
    await expect(page.get_by_text("No audience in this sandbox yet")).to_be_visible()
