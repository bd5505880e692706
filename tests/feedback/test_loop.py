"""The whole loop after sending, with every real part: the worker, the capture server's mailbox simulator,
the feedback listener, the suppression list, the unsubscribe and tracking routes and the campaign's stats.

This is the README's "Deliverability" walkthrough as a test (the other feedback tests stand a recorder in for
the suppression list to see exactly what is asked of it; here the list itself answers)."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from clarion.config import Settings
from clarion.ops.metrics import Metrics
from clarion.runtime import BackgroundServices
from clarion.services import Services
from tests.builders import Api, ApiFactory
from tests.executions.test_delivery_flow import eventually, final
from tests.feedback.conftest import bounce_domain, trigger_api

SIMULATOR = "simulator.clarion.test"
PUBLIC_BASE = "https://mail.clarion.example"
HTML = '<p>Hello {{context.name}}, <a href="https://shop.example/sale?id=7&amp;src=mail">our sale</a></p>'


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Capture (with its simulator) and the feedback listener on free ports; links on an https base."""
    return settings.model_copy(
        update={
            "smtp_capture": True,
            "smtp_capture_port": 0,
            "feedback_smtp": True,
            "feedback_smtp_port": 0,
            "public_base_url": PUBLIC_BASE,
        }
    )


@pytest.fixture
async def embedded(services: Services) -> AsyncIterator[BackgroundServices]:
    """The background services of an embedded ``clarion serve``: worker, capture server, feedback listener."""
    background = BackgroundServices(services, Metrics())
    await background.start()
    yield background
    await background.stop()


async def marketing_campaign(api: Api, background: BackgroundServices) -> str:
    """A live Marketing campaign with click tracking, sending through the capture server with VERP."""
    assert background.capture is not None
    pool = await api.pool("pool", port=background.capture.port)
    configuration = await api.configuration(
        pool["id"], name="news", high_throughput=True, bounceDomain=bounce_domain()
    )
    campaign = await api.campaign(
        configuration["id"],
        high_throughput=True,
        category="Marketing",
        tracking={"opens": True, "clicks": True},
        content={"email": {"subject": "Our sale", "html": HTML}},
    )
    await api.call("POST", f"/v1/campaigns/{campaign['id']}/activate", expect=200)
    return str(campaign["id"])


async def send(api: Api, campaign: str, *addresses: str) -> dict[str, dict[str, Any]]:
    """One execution to ``addresses``; each final ledger row by its address's local part."""
    body = {
        "requestId": secrets.token_hex(6),
        "campaignId": campaign,
        "recipients": [
            {"type": "external", "userId": address, "namespace": "email", "context": {"name": "Ada"}}
            for address in addresses
        ],
    }
    rows = await final(api, await trigger_api(api, body), count=len(addresses))
    return {row["recipient"].partition("@")[0]: row for row in rows}


async def entries(api: Api, address: str) -> list[tuple[str, str]]:
    """``(reason, category)`` of the address's suppression entries (none: the API's 404)."""
    response = await api.client.get(f"/v1/suppressions/{address}", headers=api.tenant.headers())
    if response.status_code == 404:
        return []
    assert response.status_code == 200, response.text
    return sorted((item["reason"], item["category"]) for item in response.json()["items"])


async def kinds(api: Api, message_id: str) -> list[str]:
    """The kinds of a message's history, oldest first."""
    response = await api.call("GET", f"/v1/messages/{message_id}/events", expect=200)
    return [event["kind"] for event in response.json()["items"]]


async def test_bounce_complaint_unsubscribe_and_click_close_the_loop(
    make_api: ApiFactory, embedded: BackgroundServices
) -> None:
    api = await make_api()
    campaign = await marketing_campaign(api, embedded)
    sent = await send(api, campaign, f"bounce@{SIMULATOR}", f"complaint@{SIMULATOR}", f"success@{SIMULATOR}")

    # A hard bounce at RCPT: the message is bounced with its diagnostic, the address suppressed at once …
    bounced = sent["bounce"]
    assert bounced["status"] == "bounced"
    assert bounced["response"].startswith("550 5.1.1")
    assert await entries(api, f"bounce@{SIMULATOR}") == [("hardBounce", "")]
    # … and the next execution to it is accepted but sends nothing.
    again = await send(api, campaign, f"BOUNCE@{SIMULATOR}")
    assert again["BOUNCE"]["status"] == "suppressed"
    assert again["BOUNCE"]["response"].startswith("suppressed: hardBounce")

    # The complaint arrives later, as an ARF report at the message's bounce address.
    complaint = sent["complaint"]["id"]
    await eventually(lambda: _has(api, complaint, "complained"))
    assert await entries(api, f"complaint@{SIMULATOR}") == [("complaint", "")]

    # One-click unsubscribe from the List-Unsubscribe header of the mail as captured.
    success = sent["success"]["id"]
    mail = (await api.call("GET", f"/v1/messages/{success}/mail", expect=200)).json()
    headers = {header["name"].lower(): header["value"] for header in mail["headers"]}
    assert headers["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.search(r"<(https://[^>]+/u/[^>]+)>", headers["list-unsubscribe"])
    assert unsubscribe is not None
    path = urlsplit(unsubscribe.group(1)).path
    assert (await api.client.get(path)).status_code == 200  # the confirmation page changes nothing
    assert await entries(api, f"success@{SIMULATOR}") == []
    answer = await api.client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    assert await entries(api, f"success@{SIMULATOR}") == [("unsubscribe", "Marketing")]

    # The tracked link redirects to the original URL only, and the click shows in history and stats.
    link = re.search(r'href="(https://mail\.clarion\.example/t/c/[^"]+)"', mail["html"])
    assert link is not None
    redirect = await api.client.get(urlsplit(link.group(1)).path)
    assert redirect.status_code == 302
    assert redirect.headers["location"] == "https://shop.example/sale?id=7&src=mail"
    await eventually(lambda: _has(api, success, "clicked"))
    assert (await api.client.get(urlsplit(link.group(1)).path[:-2] + "xx")).status_code == 404

    async def stats() -> dict[str, Any] | None:
        body = (await api.call("GET", f"/v1/campaigns/{campaign}/stats", expect=200)).json()
        return body if body["clicked"] >= 1 and body["complained"] >= 1 else None

    figures = await eventually(stats)
    assert figures["unsubscribed"] == 1
    assert figures["bounced"]["hard"] == 1
    assert figures["suppressed"] == 1


async def _has(api: Api, message_id: str, kind: str) -> bool:
    return kind in await kinds(api, message_id)
