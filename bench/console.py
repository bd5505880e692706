"""Console page weight and time to interactive, per page of the navigation, in Debian's chromium.

A real ``clarion serve`` (embedded), an organization with a pool, a high-throughput configuration and a
campaign (so lists are not empty), signed in through the form. Each page is loaded ``--rounds`` times in a
fresh browser context with the HTTP cache disabled (a first visit): bytes on the wire (headers and gzip
bodies, every request of the load), requests, and from the Navigation Timing API: ``domInteractive``,
``domContentLoadedEventEnd`` (deferred scripts, htmx and ours, have run: the page answers clicks) and
``loadEventEnd``. Medians per page. The sign-in page, measured in the same run, is the baseline: the
ratio column says what a page costs beyond the lightest one (machines here are shared and noisy).

Targets (issue 13): first load ≤ 300 KB transferred, interactive (DOMContentLoaded end) ≤ 1,000 ms.

Usage: .venv/bin/python -m bench.console [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, async_playwright
from tests.console.conftest import CHROMIUM, CHROMIUM_ARGS

from bench.kit.backends import embedded_backend
from bench.kit.instance import create_tenant, provision_over_http, serve
from bench.kit.processes import free_port
from bench.kit.report import Targets, console, machine_info, table, write_results
from clarion.console.nav import NAV

BUDGET_BYTES = 300 * 1024
BUDGET_INTERACTIVE_MS = 1000.0
TIMING = """() => { const n = performance.getEntriesByType('navigation')[0];
  return {interactive: n.domInteractive, ready: n.domContentLoadedEventEnd, load: n.loadEventEnd}; }"""


@dataclass
class PageCost:
    """The medians of one page's cold loads."""

    page: str
    path: str
    status: int
    requests: int
    bytes: int
    interactive_ms: float
    ready_ms: float
    load_ms: float


def collector(into: list[Any]) -> Any:
    """An event handler appending to ``into`` (Playwright tags handlers: a bound builtin cannot be one)."""

    def keep(item: Any) -> None:
        into.append(item)

    return keep


async def measure(
    browser: Browser, base_url: str, cookies: list[Any], label: str, path: str, rounds: int
) -> PageCost:
    """Load one page ``rounds`` times, cold, and keep the medians."""
    samples: list[tuple[int, int, int, dict[str, float]]] = []
    for _ in range(rounds):
        context = await browser.new_context(base_url=base_url)
        await context.add_cookies(cookies)
        await context.route("**/*", lambda route: route.continue_())  # no HTTP cache: a first visit
        page = await context.new_page()
        requests: list[Any] = []
        page.on("request", collector(requests))
        response = await page.goto(path, wait_until="load")
        await page.wait_for_load_state("networkidle")
        timing = await page.evaluate(TIMING)
        weight = 0
        for request in requests:
            sizes = await request.sizes()
            weight += sizes["responseHeadersSize"] + sizes["responseBodySize"]
        samples.append((response.status if response else 0, len(requests), weight, timing))
        await context.close()
    return PageCost(
        label,
        path,
        samples[-1][0],
        samples[-1][1],
        int(statistics.median(s[2] for s in samples)),
        statistics.median(s[3]["interactive"] for s in samples),
        statistics.median(s[3]["ready"] for s in samples),
        statistics.median(s[3]["load"] for s in samples),
    )


async def run(base_url: str, tenant: Any, rounds: int) -> list[PageCost]:
    """Sign in once, then measure the sign-in page (baseline) and every page of the navigation."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(base_url=base_url)
        page = await context.new_page()
        await page.goto("/console/login")
        await page.get_by_label("Organization").fill(tenant.ims_org_id)
        await page.get_by_label("API key").fill(tenant.api_key)
        await page.get_by_label("Access token").fill(tenant.token)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url("**/console/")
        cookies = await context.cookies()
        await context.close()
        costs = [await measure(browser, base_url, [], "Sign in (baseline)", "/console/login", rounds)]
        for entry in NAV:
            costs.append(
                await measure(browser, base_url, cookies, entry.label, f"/console{entry.path}", rounds)
            )
        await browser.close()
    return costs


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="cold loads per page (the median is kept)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clarion-bench-console-") as folder:
        backend = embedded_backend(Path(folder))
        port = free_port()
        tenant = create_tenant(backend)
        server = serve(backend, port=port, workers=1)
        try:
            base_url = f"http://127.0.0.1:{port}"
            provision_over_http(base_url, tenant, smtp_port=free_port())
            costs = asyncio.run(run(base_url, tenant, args.rounds))
        finally:
            server.stop()
    baseline = costs[0]
    rows = [
        [
            c.page,
            c.status,
            c.requests,
            round(c.bytes / 1024, 1),
            round(c.bytes / baseline.bytes, 2),
            c.interactive_ms,
            c.ready_ms,
            round(c.ready_ms / max(baseline.ready_ms, 1.0), 2),
            c.load_ms,
        ]
        for c in costs
    ]
    columns = [
        "page",
        "status",
        "requests",
        "KB",
        "vs sign-in",
        "interactive ms",
        "ready ms",
        "vs sign-in",
        "load ms",
    ]
    console.print(table("Console pages, first visit (medians)", columns, rows))
    targets = Targets()
    heaviest = max(costs, key=lambda c: c.bytes)
    slowest = max(costs, key=lambda c: c.ready_ms)
    targets.check(
        f"heaviest page ({heaviest.page}), KB", heaviest.bytes / 1024, BUDGET_BYTES / 1024, at_least=False
    )
    targets.check(
        f"slowest page ({slowest.page}), ready ms", slowest.ready_ms, BUDGET_INTERACTIVE_MS, at_least=False
    )
    console.print(targets.render())
    path = write_results(
        "console",
        {
            "machine": machine_info(),
            "rounds": args.rounds,
            "pages": [asdict(c) for c in costs],
            "targets": targets.checks,
        },
    )
    console.print(f"results: {path}")


if __name__ == "__main__":
    main()
