"""Throttling and custom actions in a browser: configure, deploy, watch the queue fill and drain live,
read the call ledger, undeploy."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Page, Request, expect

from tests.builders import Tenant
from tests.conftest import TenantFactory
from tests.console.conftest import ConsoleServer, screenshot, sign_in
from tests.console.test_every_page import PAGE_BUDGET_BYTES, transferred
from tests.delivery.servers import HttpRequest, HttpResponse, HttpServer

CALLS = 1500
RATE = 200
"""1,500 calls at 200/s: the queue takes about 7 s to drain, long enough to watch it move."""


@pytest.fixture
async def endpoint() -> AsyncIterator[HttpServer]:
    """The service the custom action calls: a little slow, as real ones are."""

    async def answer(_: HttpRequest) -> HttpResponse:
        await asyncio.sleep(0.02)
        return HttpResponse(200, b'{"ok": true}')

    async with HttpServer(answer) as server:
        yield server


async def fire(server: ConsoleServer, tenant: Tenant, count: int) -> None:
    """Push ``count`` events through the outbound intake (POST /v1/events), as a client would."""
    async with httpx.AsyncClient(base_url=server.base_url, headers=tenant.headers(), timeout=30) as client:
        for start in range(0, count, 1000):
            events = [
                {"action": "notify", "context": {"seq": seq}}
                for seq in range(start, min(count, start + 1000))
            ]
            response = await client.post("/v1/events", json={"events": events})
            assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    "path",
    [
        "/throttling/new",
        "/throttling/live",
        "/throttling/capping",
        "/throttling/capping/new",
        "/custom-actions/new",
        "/custom-actions/calls",
    ],
)
async def test_the_other_pages_load_light_and_clean(
    page: Page, make_tenant: TenantFactory, path: str
) -> None:
    await sign_in(page, await make_tenant())
    requests: list[Request] = []
    problems: list[str] = []
    page.on("request", lambda request: requests.append(request))
    page.on("console", lambda message: problems.extend([message.text] if message.type == "error" else []))
    page.on("pageerror", lambda error: problems.append(str(error)))
    await page.context.route("**/*", lambda route: route.continue_())  # disables the HTTP cache
    response = await page.goto(f"/console{path}")
    assert response is not None
    assert response.status == 200
    await expect(page.get_by_role("heading", level=1)).to_have_count(1)
    await page.wait_for_load_state("networkidle")
    assert not problems  # no CSP violation, no script error
    assert await transferred(requests) <= PAGE_BUDGET_BYTES


async def create_action(page: Page, endpoint: HttpServer) -> None:
    await page.goto("/console/custom-actions/new")
    await expect(page.get_by_text("Letters, digits and _")).to_be_visible()  # the rule, before saving
    await page.get_by_label("Name", exact=True).fill("notify")
    await page.get_by_label("URL", exact=True).fill(f"{endpoint.url}/hook")
    await page.get_by_label("Body template").fill('{"seq": {{context.seq}}}')
    await page.get_by_label("Timeout, seconds").fill("5")
    await page.get_by_role("button", name="Create").click()
    await expect(page.get_by_role("status")).to_have_text("Saved.")


async def create_and_deploy(page: Page, endpoint: HttpServer) -> None:
    await page.goto("/console/throttling")
    await page.get_by_role("link", name="New configuration").click()
    await page.get_by_label("Name", exact=True).fill("Slow service")
    await page.get_by_label("URL pattern").fill(f"{endpoint.url}/*")
    await page.get_by_label("Maximum throughput (calls per second)").fill("50")
    await page.get_by_role("button", name="Create").click()
    # Saved as a draft, which the API says cannot be deployed, and why.
    await expect(page.get_by_role("heading", level=1)).to_have_text("Slow service")
    await expect(page.get_by_text("Cannot be deployed yet")).to_be_visible()
    await expect(page.get_by_role("button", name="Deploy")).to_be_disabled()
    await page.get_by_label("Maximum throughput (calls per second)").fill(str(RATE))
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("Can be deployed.")).to_be_visible()
    await page.get_by_role("button", name="Deploy").click()
    await expect(page.get_by_role("status").first).to_contain_text("Deployed")
    await screenshot(page, "throttling-configuration")


async def test_live_view_shows_the_queue_fill_and_drain(
    page: Page, make_tenant: TenantFactory, console_server: ConsoleServer, endpoint: HttpServer
) -> None:
    tenant = await make_tenant()
    await sign_in(page, tenant)
    await create_action(page, endpoint)
    await create_and_deploy(page, endpoint)
    configuration = page.url

    await page.goto("/console/throttling/live")
    queued = page.get_by_test_id("queued")
    await expect(queued).to_have_text("0")
    await fire(console_server, tenant, CALLS)
    await expect(queued).to_have_text(re.compile(r"^[1-9]\d*$"))  # calls wait in the overflow queue
    await expect(page.get_by_test_id("rate")).not_to_have_text("0.0")  # and leave at the rate
    await expect(page.get_by_test_id("oldest")).to_have_text(re.compile(r"^\d+\.\d s$"))
    await screenshot(page, "throttling-live")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.get_by_role("button", name="Switch between dark and light theme").click()  # charts redrawn
    await expect(queued).to_have_text("0", timeout=30_000)  # drained
    await expect(page.get_by_test_id("oldest")).to_have_text("—")
    assert errors == []

    await page.goto("/console/custom-actions")
    await expect(page.get_by_role("link", name="notify")).to_be_visible()
    await screenshot(page, "custom-actions")
    await page.goto("/console/custom-actions/calls?status=sent")
    await expect(page.get_by_text(re.compile(rf"^{CALLS} in all$"))).to_be_visible(timeout=20_000)
    await screenshot(page, "call-ledger")
    await page.get_by_role("row").nth(1).get_by_role("link").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Call of notify")
    await expect(page.locator("dd").filter(has_text="not throttled")).to_have_count(0)

    await page.goto(configuration)
    await page.get_by_role("button", name="Undeploy").click()
    await expect(page.get_by_role("status").first).to_contain_text("Undeployed")
    assert len(endpoint.requests) >= CALLS
    assert endpoint.errors == []


async def test_custom_action_secrets_stay_write_only_and_refusals_show_inline(
    page: Page, make_tenant: TenantFactory
) -> None:
    await sign_in(page, await make_tenant())
    await page.goto("/console/custom-actions/new")
    await page.get_by_label("Name", exact=True).fill("bad-name")
    await page.get_by_label("URL", exact=True).fill("https://crm.example.org/hook")
    await page.get_by_label("Authentication").select_option("bearer")
    await page.get_by_label("Password, token or API key").fill("s3cret-token")
    await page.get_by_role("button", name="Create").click()
    await expect(page.get_by_role("alert")).to_contain_text("name")  # the API's refusal, by the form
    await expect(page.get_by_label("Password, token or API key")).to_have_value("")  # never sent back
    assert "s3cret-token" not in await page.content()

    await page.get_by_label("Name", exact=True).fill("crm_hook")
    await page.get_by_label("Password, token or API key").fill("s3cret-token")
    await page.get_by_role("button", name="Create").click()
    await expect(page.get_by_role("status")).to_have_text("Saved.")
    secret = page.get_by_label("Password, token or API key (one is stored)")
    await expect(secret).to_have_value("")
    assert "s3cret-token" not in await page.content()

    await page.get_by_label("Timeout, seconds").fill("10")  # an edit with the secret left empty keeps it
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_have_text("Saved.")
    await expect(page.get_by_label("Timeout, seconds")).to_have_value("10.0")
    await expect(secret).to_have_value("")

    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.get_by_role("button", name="Delete").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Custom actions")
    await expect(page.get_by_text("No custom action in this sandbox yet.")).to_be_visible()


async def test_call_ledger_filters_are_bookmarkable_and_refusals_show(
    page: Page, make_tenant: TenantFactory
) -> None:
    await sign_in(page, await make_tenant())
    await page.goto("/console/custom-actions/calls")
    await page.get_by_label("Status").select_option("failed")
    await page.get_by_role("button", name="Filter").click()
    await expect(page).to_have_url(re.compile(r"status=failed"))
    await expect(page.get_by_text("No call matches.")).to_be_visible()
    await page.goto("/console/custom-actions/calls?since=2026-02-01T00:00&until=2026-01-01T00:00")
    await expect(page.get_by_role("alert")).to_contain_text("until")


async def test_capping_configuration_round_trip(page: Page, make_tenant: TenantFactory) -> None:
    await sign_in(page, await make_tenant())
    await page.goto("/console/throttling")
    await page.get_by_role("link", name="Capping configurations").click()
    await page.get_by_role("link", name="New capping configuration").click()
    await page.get_by_label("Endpoint URL").fill("https://api.example.org/data/*")
    await page.get_by_label("Maximum calls per period").fill("100")
    await page.get_by_role("button", name="Create").click()
    await expect(page.get_by_text("Can be deployed.")).to_be_visible()
    await page.get_by_role("button", name="Deploy").click()
    await expect(page.get_by_role("status").first).to_contain_text("Deployed")
    await screenshot(page, "capping-configuration")
    await page.get_by_role("button", name="Undeploy").click()
    await expect(page.get_by_role("status").first).to_contain_text("Undeployed")
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.get_by_role("button", name="Delete").click()
    await expect(page.get_by_text("No capping configuration in this sandbox.")).to_be_visible()
