"""Browser tests of the console: a real ``clarion serve`` and Debian's chromium driven by Playwright.

The server shares the suite's database (and queue backend), so tenants made by ``make_tenant`` in the test
process sign in to it. Chromium is the system browser (``make test`` installs Debian's package when missing);
Playwright never downloads its own. Screenshots go to ``$CLARION_ARTIFACTS/console`` (default
``artifacts/console`` in the repository).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from tests.builders import Tenant
from tests.cli.test_serve import CLARION, free_port, wait_until_ready
from tests.conftest import QUEUE_URL, TEST_SECRET_KEY

REPOSITORY = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("CLARION_ARTIFACTS", REPOSITORY / "artifacts")) / "console"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking switches Chromium calls Google's services at start, which this
# machine's closed network refuses (and which a test has no business doing anyway).
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@dataclass(frozen=True)
class ConsoleServer:
    """A running ``clarion serve``: where it listens and the environment its CLI commands need."""

    base_url: str
    env: dict[str, str]
    log: Path

    @property
    def console_url(self) -> str:
        """The console's home."""
        return f"{self.base_url}/console/"


@pytest.fixture(scope="session")
def console_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    """One ``clarion serve`` for the console tests, on the suite's database and queue backend."""
    folder = tmp_path_factory.mktemp("console-server")
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLARION_")}
    env.update(
        CLARION_HOME=str(folder / "home"),
        CLARION_PORT=str(port),
        CLARION_DATABASE_URL=database_url,
        CLARION_QUEUE_URL=QUEUE_URL,
        CLARION_REDIS_PREFIX=f"clarion-console-{port}",
        CLARION_SECRET_KEY=TEST_SECRET_KEY,
        CLARION_AUTO_MIGRATE="0",
        # Capture on either backend (the default is embedded only): pages show captured mail on both.
        CLARION_SMTP_CAPTURE="1",
        CLARION_SMTP_CAPTURE_PORT=str(free_port()),
        CLARION_FEEDBACK_SMTP_PORT=str(free_port()),
        CLARION_LOG_FORMAT="json",
        CLARION_AUTH_CACHE_SECONDS="0",
        # Custom actions in the browser tests call a local HTTP server on an ephemeral port.
        CLARION_CUSTOM_ACTION_ANY_PORT="1",
        CLARION_ACTIVATION_FIRST_RUN_DELAY_SECONDS="0",  # "export now" right after a dataflow is made
    )
    log = folder / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen([CLARION, "serve"], env=env, stdout=output, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base_url, process)
        yield ConsoleServer(base_url, env, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's chromium, headless."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def context(browser: Browser, console_server: ConsoleServer) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile (no cookies) aimed at the server."""
    viewport = {"width": 1280, "height": 860}
    made = await browser.new_context(base_url=console_server.base_url, viewport=viewport)  # type: ignore[arg-type]
    made.set_default_timeout(10_000)
    try:
        yield made
    finally:
        await made.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    """A tab of that profile."""
    return await context.new_page()


async def sign_in(page: Page, tenant: Tenant) -> None:
    """Sign in through the form, as a person would, and land on the overview."""
    await page.goto("/console/login")
    await page.get_by_label("Organization").fill(tenant.ims_org_id)
    await page.get_by_label("API key").fill(tenant.api_key)
    await page.get_by_label("Access token").fill(tenant.token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Overview")


async def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as a test artifact; returns its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
