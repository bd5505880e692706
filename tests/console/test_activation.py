"""The activation quick start from the console, in a real browser against a real server: a local-folder
destination, a dataflow with an evaluated audience, "export now", the run with its records and its file,
and Adobe's refusal of an audience outside its schedule, in words."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.activation.servers import SftpServer, run_sftp_server
from tests.builders import Tenant
from tests.conftest import TenantFactory
from tests.console.conftest import ConsoleServer, screenshot, sign_in

PQL = 'homeAddress.countryCode = "US" and loyalty.points >= 500'
PROFILES = {
    "ada@example.com": {"homeAddress": {"countryCode": "US"}, "loyalty": {"points": 900}},
    "bob@example.com": {"homeAddress": {"countryCode": "US"}, "loyalty": {"points": 700}},
    "cy@example.com": {"homeAddress": {"countryCode": "FR"}, "loyalty": {"points": 990}},
}
MEMBERS = {"ada@example.com", "bob@example.com"}
LOCAL_SPEC = "7cbb2afc-04d6-4d4c-979b-65025c43dbc5"
LATEST_RUN = "#flow-runs table.list tbody tr"
"""The newest run on a dataflow's page (the runs section reloads by itself while one is going on)."""


async def evaluated_audience(server: ConsoleServer, tenant: Tenant, name: str) -> str:
    """Profiles, an audience in PQL and a finished segment job, through the API (the audiences pages are
    another area's)."""
    async with httpx.AsyncClient(base_url=server.base_url, headers=tenant.headers(), timeout=30) as api:
        for email, attributes in PROFILES.items():
            answer = await api.put(f"/v1/profiles/email/{email}", json={"attributes": attributes})
            assert answer.status_code in (200, 201), answer.text
        definition = {
            "name": name,
            "schema": {"name": "_xdm.context.profile"},
            "expression": {"type": "PQL", "format": "pql/text", "value": PQL},
        }
        created = await api.post("/data/core/ups/segment/definitions", json=definition)
        assert created.status_code == 200, created.text
        audience_id = str(created.json()["id"])
        job = await api.post("/data/core/ups/segment/jobs", json=[{"segmentId": audience_id}])
        assert job.status_code == 200, job.text
        async with asyncio.timeout(30):
            while (await api.get(f"/data/core/ups/segment/jobs/{job.json()['id']}")).json()["status"] != (
                "SUCCEEDED"
            ):
                await asyncio.sleep(0.1)
    return audience_id


def landing_zone(server: ConsoleServer) -> Path:
    """Where the server's local-folder destinations write (``$CLARION_HOME/landing`` by default)."""
    return Path(server.env["CLARION_HOME"]) / "landing"


async def create_local_destination(page: Page, name: str, folder: str) -> None:
    """Destinations → New → Local folder, filled in as a person would."""
    await page.goto("/console/destinations")
    await page.get_by_role("link", name="New destination").click()
    await page.get_by_role("link", name=re.compile("Local folder")).click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("New Local folder")
    await page.get_by_label("Name (required)", exact=True).fill(name)
    await page.get_by_label("path").fill(folder)
    await page.get_by_label("fileType").select_option("CSV")
    await page.get_by_label("compression").select_option("NONE")
    await page.get_by_role("button", name="Create destination").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(name)


async def create_dataflow(
    page: Page, name: str, audience: str, *, start: str, refused_first: bool = False
) -> None:
    """From the destination's page: a dataflow of ``audience``, daily from ``start`` at 00:00 UTC
    (``refused_first``: after a file name template the API refuses, shown under that field)."""
    await page.get_by_role("link", name="New dataflow to this destination").click()
    await page.get_by_label("Name", exact=True).fill(name)
    await page.get_by_label(audience).check()
    await page.get_by_label("Start date").fill(start)
    await page.get_by_label("Start time").fill("00:00")
    await page.get_by_label("Profile attributes to export").fill("identityMap.email\nloyalty.points")
    if refused_first:
        await page.get_by_label("File name template").fill("%DESTINATION_NAME%_export")
        await page.get_by_role("button", name="Create dataflow").click()
        refusal = page.locator(".field-error")
        await expect(refusal).to_contain_text("%SEGMENT_ID%")
        await expect(page.get_by_label(audience)).to_be_checked()  # the form is kept
        await page.get_by_label("File name template").fill("%DESTINATION_NAME%_%SEGMENT_ID%")
    await page.get_by_role("button", name="Create dataflow").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(name)


async def test_activation_quick_start_from_the_console(
    page: Page, make_tenant: TenantFactory, console_server: ConsoleServer
) -> None:
    tenant = await make_tenant()
    audience_name = f"US loyal {secrets.token_hex(3)}"
    await evaluated_audience(console_server, tenant, audience_name)
    folder = f"quickstart-{secrets.token_hex(4)}"
    await sign_in(page, tenant)

    await create_local_destination(page, "Quickstart files", folder)
    await create_dataflow(page, "Quickstart dataflow", audience_name, start=_today(), refused_first=True)
    await page.get_by_role("button", name="Export now").click()
    started = page.get_by_role("status").filter(has_text="Export started")
    await expect(started).to_be_visible()
    # The runs section reloads by itself and follows the run to its end.
    await expect(page.locator(LATEST_RUN).first).to_contain_text("success", timeout=30_000)
    await started.get_by_role("link").first.click()

    await expect(page.get_by_role("heading", level=1)).to_contain_text("Run")
    await expect(page.locator("[data-metric=records]")).to_have_text("2", timeout=30_000)
    await expect(page.locator("[data-metric=files]")).to_have_text("1")
    await expect(page.locator("table.list tbody tr").first).to_contain_text(audience_name)
    file_name = (await page.locator("table.list tbody tr td code").first.inner_text()).strip()
    exported = (landing_zone(console_server) / folder / file_name).read_text()
    assert all(member in exported for member in MEMBERS)
    assert "cy@example.com" not in exported
    await screenshot(page, "activation-run")

    await page.get_by_role("link", name="Quickstart dataflow").click()
    await expect(page.locator("table.list").last).to_contain_text("success")
    await expect(page.locator("#records-per-run canvas").first).to_be_visible()
    await screenshot(page, "activation-dataflow")

    await page.goto("/console/runs")
    await expect(page.locator("#records-per-run canvas").first).to_be_visible()
    run_row = page.get_by_role("row").filter(has_text="Quickstart dataflow")
    await expect(run_row).to_contain_text(audience_name)
    await screenshot(page, "activation-runs")

    await page.goto("/console/destinations")
    await expect(page.get_by_role("link", name="Quickstart files")).to_be_visible()
    await screenshot(page, "activation-destinations")

    # An audience whose schedule starts tomorrow: "export now" is refused with Adobe's message, in words.
    await page.get_by_role("link", name="Quickstart files").click()
    await create_dataflow(page, "Starts tomorrow", audience_name, start=_today(days=1))
    await page.get_by_role("button", name="Export now").click()
    refusal = page.locator("#export-now").get_by_role("alert")
    await expect(refusal).to_contain_text("are not part of this dataflow or out of schedule range")
    await expect(refusal).to_contain_text(audience_name)
    await screenshot(page, "activation-export-refused")

    # Unmap the audience, then map it again from today: the dataflow's audiences change by JSON Patch.
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.get_by_role("button", name=f"Remove {audience_name}").click()
    await expect(page.get_by_text("No audience mapped.")).to_be_visible()
    await page.get_by_text("Add an audience").click()
    await page.get_by_label("Audience", exact=True).select_option(label=audience_name)
    await page.get_by_label("Start date").fill(_today())
    await page.get_by_role("button", name="Add audience").click()
    await expect(page.get_by_role("row").filter(has_text=audience_name)).to_contain_text(_today())

    # A disabled dataflow is not exported now either; enabled again, it is.
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.get_by_role("button", name="Disable").click()
    await expect(page.get_by_role("button", name="Enable")).to_be_visible()
    await page.get_by_role("button", name="Export now").click()
    await expect(page.locator("#export-now").get_by_role("alert")).to_contain_text("is disabled")
    await page.get_by_role("button", name="Enable").click()
    await expect(page.get_by_role("button", name="Disable")).to_be_visible()

    await page.goto("/console/dataflows")
    row = page.get_by_role("row").filter(has_text="Quickstart dataflow")
    await expect(row).to_contain_text("success")
    await expect(page.get_by_role("row").filter(has_text="Starts tomorrow")).to_contain_text("never run")
    await screenshot(page, "activation-dataflows")
    assert tenant.token not in await page.content()


async def test_another_organization_sees_none_of_it(
    page: Page, make_tenant: TenantFactory, console_server: ConsoleServer
) -> None:
    owner = await make_tenant()
    async with httpx.AsyncClient(base_url=console_server.base_url, headers=owner.headers()) as api:
        base = await api.post(
            "/data/foundation/flowservice/connections",
            json={"name": "Owner's folder", "connectionSpec": {"id": LOCAL_SPEC, "version": "1.0"}},
        )
        assert base.status_code == 201, base.text
        target = await api.post(
            "/data/foundation/flowservice/targetConnections",
            json={
                "name": "Owner's files",
                "baseConnectionId": base.json()["id"],
                "connectionSpec": {"id": LOCAL_SPEC, "version": "1.0"},
                "params": {"fileType": "CSV", "compression": "NONE"},
            },
        )
        assert target.status_code == 201, target.text
    await sign_in(page, await make_tenant())
    await page.goto(f"/console/destinations/{target.json()['id']}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    await page.goto("/console/destinations")
    await expect(page.get_by_text("No destination yet")).to_be_visible()


@pytest.fixture
def sftp_server(tmp_path: Path) -> Iterator[SftpServer]:
    """A real SFTP server on 127.0.0.1 (password account) that the console's server exports to."""
    yield from run_sftp_server(tmp_path / "sftp-root")


async def test_an_sftp_destination_made_and_edited_in_forms_receives_the_export(
    page: Page, make_tenant: TenantFactory, console_server: ConsoleServer, sftp_server: SftpServer
) -> None:
    tenant = await make_tenant()
    audience_name = f"SFTP members {secrets.token_hex(3)}"
    await evaluated_audience(console_server, tenant, audience_name)
    await sign_in(page, tenant)
    await page.goto("/console/destinations/new")
    await page.get_by_role("link", name="SFTP").click()
    await expect(page.get_by_text("IP address or domain name of the SFTP server")).to_be_visible()
    await page.get_by_label("Name (required)", exact=True).fill("Partner SFTP")
    await page.get_by_label("domain").fill(sftp_server.host)
    await page.get_by_label("username").fill(sftp_server.username)
    await page.get_by_label("password").fill(sftp_server.password)
    await page.get_by_label("port").fill("70000")
    await page.get_by_label("hostKeyFingerprint").fill(sftp_server.host_key_fingerprint)
    await page.get_by_label("fileType").select_option("CSV")
    await page.get_by_label("compression").select_option("NONE")
    await page.get_by_label("remotePath").fill("upload")
    await page.get_by_role("button", name="Create destination").click()
    # The API's refusal next to the field it names; the secret is not sent back to the page.
    await expect(page.locator("#e-auth\\.params\\.port")).to_contain_text("port number")
    await expect(page.get_by_label("password")).to_have_value("")
    assert sftp_server.password not in await page.content()
    await page.get_by_label("port").fill(str(sftp_server.port))
    await page.get_by_label("password").fill(sftp_server.password)
    await page.get_by_role("button", name="Create destination").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Partner SFTP")
    await expect(page.get_by_text("set (write-only, never shown)")).to_be_visible()
    assert sftp_server.password not in await page.content()
    await screenshot(page, "activation-destination")

    # Editing: the form is filled in but the password; left empty, the stored one stays (the export below
    # logs in with it).
    await page.get_by_role("link", name="Edit destination").click()
    await expect(page.get_by_label("domain")).to_have_value(sftp_server.host)
    await expect(page.get_by_label("password")).to_have_value("")
    await expect(page.get_by_text("leave empty to keep the stored one")).to_be_visible()
    await page.get_by_label("remotePath").fill("exports")
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Partner SFTP")
    await expect(page.get_by_text("set (write-only, never shown)")).to_be_visible()

    await create_dataflow(page, "To the partner", audience_name, start=_today())
    await page.get_by_role("button", name="Export now").click()
    await expect(page.locator(LATEST_RUN).first).to_contain_text("success", timeout=30_000)
    exported = [path.read_text() for path in (sftp_server.root / "exports").iterdir()]
    assert len(exported) == 1
    assert all(member in exported[0] for member in MEMBERS)

    # Deleting the dataflow, then the destination it used, leaves the lists empty.
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.get_by_role("button", name="Delete dataflow").click()
    await expect(page.get_by_text("No dataflow yet")).to_be_visible()
    await page.goto("/console/destinations")
    await page.get_by_role("link", name="Partner SFTP").click()
    await page.get_by_role("button", name="Delete destination").click()
    await expect(page.get_by_text("No destination yet")).to_be_visible()
    async with httpx.AsyncClient(base_url=console_server.base_url, headers=tenant.headers()) as api:
        for resource in ("flows", "sourceConnections", "targetConnections", "connections"):
            listed = await api.get(f"/data/foundation/flowservice/{resource}")
            assert listed.json()["items"] == [], resource  # nothing the console made is left behind


def _today(*, days: int = 0) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()
