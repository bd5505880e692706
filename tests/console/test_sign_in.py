"""Sign-in, sign-in links, sign-out, CSRF and the sandbox switcher, in a browser against a real server."""

from __future__ import annotations

import re
import subprocess

import httpx
from playwright.async_api import Page, expect

from clarion.tenancy.principal import Role
from tests.builders import Tenant
from tests.cli.test_serve import CLARION
from tests.conftest import KeyFactory, TenantFactory
from tests.console.conftest import ConsoleServer, screenshot, sign_in


async def test_sign_in_with_key_and_token_shows_the_organization(
    page: Page, make_tenant: TenantFactory, console_server: ConsoleServer
) -> None:
    tenant = await make_tenant()
    await page.goto("/console/?since=1h")
    await expect(page).to_have_url(re.compile(r"/console/login\?next="))  # signed out: sent to sign in
    await screenshot(page, "sign-in")
    await page.get_by_label("Organization").fill(tenant.ims_org_id)
    await page.get_by_label("API key").fill(tenant.api_key)
    await page.get_by_label("Access token").fill(tenant.token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(r"/console/\?since=1h$"))  # back where it was
    await expect(page.get_by_text(tenant.ims_org_id).first).to_be_visible()
    cookie = next(c for c in await page.context.cookies() if c["name"] == "clarion_console")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"
    assert tenant.token not in await page.content()  # nothing secret is rendered back
    await screenshot(page, "overview")


async def test_a_wrong_token_is_refused_in_words_and_not_echoed(
    page: Page, make_tenant: TenantFactory
) -> None:
    tenant = await make_tenant()
    wrong = tenant.token[:-4] + "abcd"
    await page.goto("/console/login")
    await page.get_by_label("Organization").fill(tenant.ims_org_id)
    await page.get_by_label("API key").fill(tenant.api_key)
    await page.get_by_label("Access token").fill(wrong)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("token")
    await expect(page.get_by_label("Access token")).to_have_value("")
    assert wrong not in await page.content()


async def test_a_sign_in_link_works_once(
    page: Page, make_tenant: TenantFactory, console_server: ConsoleServer
) -> None:
    tenant = await make_tenant()
    printed = subprocess.run(
        [CLARION, "console", "login", "--org", tenant.ims_org_id, "--api-key", tenant.api_key],
        env=console_server.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    link = re.search(r"http://\S+/console/login\?code=\S+", printed)
    assert link, printed
    await page.goto(link.group(0))
    await expect(page.get_by_text(tenant.ims_org_id)).to_be_visible()
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Overview")

    other = await page.context.browser.new_page()  # type: ignore[union-attr]
    await other.goto(link.group(0))
    await expect(other.get_by_role("alert")).to_contain_text("already used or has expired")
    await other.close()


async def test_sign_out_makes_the_cookie_worthless(
    page: Page, make_tenant: TenantFactory, console_server: ConsoleServer
) -> None:
    tenant = await make_tenant()
    await sign_in(page, tenant)
    cookie = next(c for c in await page.context.cookies() if c["name"] == "clarion_console")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Clarion")
    replay = httpx.get(
        console_server.console_url, cookies={"clarion_console": cookie["value"]}, follow_redirects=False
    )
    assert replay.status_code == 303
    assert "/console/login" in replay.headers["location"]


async def test_state_changes_need_the_csrf_token_and_the_same_origin(
    page: Page, make_tenant: TenantFactory, console_server: ConsoleServer
) -> None:
    tenant = await make_tenant()
    await sign_in(page, tenant)
    cookie = next(c for c in await page.context.cookies() if c["name"] == "clarion_console")
    token = await page.locator("input[name=csrf]").first.get_attribute("value")
    assert token
    jar = {"clarion_console": cookie["value"]}
    url = f"{console_server.base_url}/console/logout"
    # A generous timeout: on a loaded machine an answer can take longer than httpx's default 5 s.
    without = httpx.post(url, cookies=jar, timeout=30, data={})
    assert without.status_code == 403
    forged = httpx.post(url, cookies=jar, timeout=30, data={"csrf": token[:-1] + "x"})
    assert forged.status_code == 403
    cross_site = httpx.post(
        url, cookies=jar, timeout=30, data={"csrf": token}, headers={"Origin": "http://evil.example"}
    )
    assert cross_site.status_code == 403
    still_in = httpx.get(console_server.console_url, cookies=jar, timeout=30)
    assert still_in.status_code == 200  # none of them signed the user out
    proper = httpx.post(
        url, cookies=jar, timeout=30, data={"csrf": token}, headers={"Origin": console_server.base_url}
    )
    assert proper.status_code == 303
    assert httpx.get(console_server.console_url, cookies=jar, timeout=30).status_code == 303


async def test_the_sandbox_switcher_moves_the_session(
    page: Page, make_tenant: TenantFactory, console_server: ConsoleServer
) -> None:
    tenant = await make_tenant()
    created = httpx.post(
        f"{console_server.base_url}/v1/sandboxes",
        json={"name": "staging", "title": "Staging"},
        headers=tenant.headers(),
    )
    assert created.status_code == 201, created.text
    await sign_in(page, tenant)
    await page.get_by_label("Sandbox").focus()  # loads the organization's sandboxes
    await expect(page.get_by_label("Sandbox").locator("option[value=staging]")).to_have_count(1)
    await page.get_by_label("Sandbox").select_option("staging")
    await expect(page.get_by_text("Role of this key: admin · sandbox staging")).to_be_visible()


async def test_pages_carry_a_strict_content_security_policy(console_server: ConsoleServer) -> None:
    answer = httpx.get(f"{console_server.base_url}/console/login")
    policy = answer.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert answer.headers["x-frame-options"] == "DENY"


async def test_a_next_parameter_cannot_redirect_off_the_console(
    page: Page, make_tenant: TenantFactory, console_server: ConsoleServer
) -> None:
    tenant: Tenant = await make_tenant()
    await page.goto("/console/login?next=//evil.example/x")
    await page.get_by_label("Organization").fill(tenant.ims_org_id)
    await page.get_by_label("API key").fill(tenant.api_key)
    await page.get_by_label("Access token").fill(tenant.token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{console_server.base_url}/console/")


async def test_revoking_the_key_ends_the_session(
    page: Page, make_tenant: TenantFactory, make_key: KeyFactory, console_server: ConsoleServer
) -> None:
    tenant = await make_tenant()
    other_admin = await make_key(tenant, Role.ADMIN)
    await sign_in(page, tenant)
    revoked = httpx.delete(
        f"{console_server.base_url}/v1/credentials/{tenant.api_key}", headers=other_admin.headers()
    )
    assert revoked.status_code == 204, revoked.text
    await page.goto("/console/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Clarion")


async def test_a_read_only_key_signs_in_and_sees_its_role(
    page: Page, make_tenant: TenantFactory, make_key: KeyFactory, console_server: ConsoleServer
) -> None:
    tenant = await make_tenant()
    reader = await make_key(tenant, Role.READ_ONLY)
    await sign_in(page, reader)
    await expect(page.get_by_text("Role of this key: read-only")).to_be_visible()


async def test_a_malformed_query_parameter_is_a_readable_400(
    page: Page, make_tenant: TenantFactory, console_server: ConsoleServer
) -> None:
    await sign_in(page, await make_tenant())
    answer = await page.goto("/console/campaigns?offset=abc")
    assert answer is not None
    assert answer.status == 400
    await expect(page.get_by_role("alert")).to_contain_text("offset")


async def test_a_sandbox_name_cannot_walk_to_another_route(
    page: Page, make_tenant: TenantFactory, console_server: ConsoleServer
) -> None:
    await sign_in(page, await make_tenant())
    token = await page.locator("input[name=csrf]").first.get_attribute("value")
    answer = await page.request.post(
        "/console/sandbox",
        form={"csrf": token or "", "sandbox": "../organization"},
        headers={"Origin": console_server.base_url},
    )
    assert answer.status == 400  # no such sandbox: GET /v1/sandboxes/..%2Forganization, not /v1/organization
    await page.goto("/console/")
    await expect(page.get_by_text("Role of this key: admin · sandbox prod")).to_be_visible()
