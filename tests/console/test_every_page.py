"""Every page of the navigation, signed in: it loads without error, within the weight budget, without a
remote load or a Content-Security-Policy violation, with a title, a heading and a keyboard-reachable nav.
(Time to interactive is measured by ``bench/console.py``, not asserted here.)"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.async_api import ConsoleMessage, Page, Request, expect

from clarion.console.nav import NAV
from tests.conftest import TenantFactory
from tests.console.conftest import ConsoleServer, sign_in

PAGE_BUDGET_BYTES = 300 * 1024
"""Issue 13: the first load of any page transfers at most 300 KB (gzip)."""


async def transferred(requests: list[Request]) -> int:
    """Bytes on the wire (headers and encoded bodies) of the requests a page load made."""
    total = 0
    for request in requests:
        sizes = await request.sizes()
        total += sizes["responseHeadersSize"] + sizes["responseBodySize"]
    return total


@pytest.mark.parametrize("entry", NAV, ids=[entry.label for entry in NAV])
async def test_the_page_loads_light_local_and_clean(
    page: Page, make_tenant: TenantFactory, console_server: ConsoleServer, entry: object
) -> None:
    path = getattr(entry, "path", "/")
    tenant = await make_tenant(high_throughput=True)
    await sign_in(page, tenant)
    requests: list[Request] = []
    problems: list[str] = []
    page.on("request", lambda request: requests.append(request))
    page.on("console", lambda message: _keep_errors(message, problems))
    page.on("pageerror", lambda error: problems.append(str(error)))
    await page.context.route("**/*", lambda route: route.continue_())  # disables the HTTP cache
    response = await page.goto(f"/console{path}")
    assert response is not None
    assert response.status == 200, await page.content()
    await page.wait_for_load_state("networkidle")

    assert not problems, problems  # no CSP violation, no script error
    hosts = {urlsplit(request.url).hostname for request in requests if not request.url.startswith("data:")}
    assert hosts == {"127.0.0.1"}, hosts  # no CDN, no remote load
    assert await transferred(requests) <= PAGE_BUDGET_BYTES
    assert (await page.title()).endswith("Clarion")
    await expect(page.get_by_role("heading", level=1)).to_have_count(1)
    current = page.locator('nav.side a[aria-current="page"]')
    await expect(current).to_have_text(getattr(entry, "label", ""))
    await page.keyboard.press("Tab")  # the first stop is the skip link, then the page's controls
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()


def _keep_errors(message: ConsoleMessage, problems: list[str]) -> None:
    if message.type == "error":
        problems.append(message.text)
