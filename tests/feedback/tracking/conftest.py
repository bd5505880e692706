"""Fixtures of the feedback tests: the app served by uvicorn on 127.0.0.1 (real HTTP), a live Marketing
campaign with tracking sending to a real SMTP server, and a stand-in for the suppression list."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from clarion.config import Settings
from clarion.suppressions import service as suppressions
from clarion.suppressions.schemas import NewSuppression
from tests.campaigns.conftest import Api, ApiFactory
from tests.delivery.servers import SmtpServer

PUBLIC_BASE = "https://mail.clarion.example"
"""What the links in the mail say (https: one-click needs it); the tests call the same paths on 127.0.0.1."""

TRACKED_HTML = (
    "<html><body><h1>Hello {{context.name}}</h1>"
    '<p><a href="https://shop.example/sale?src=mail&amp;id={{context.id}}">Sale</a> '
    '<a href="{{context.profileUrl}}">Your profile</a> '
    '<a href="http://shop.example/plain">Plain</a> '
    '<a href="mailto:help@shop.example">Help</a> <a href="#top">Top</a> '
    '<a href="https://shop.example/private" data-clarion-track="off">Private</a></p></body></html>'
)


@dataclass
class SuppressionCalls:
    """What the unsubscribe route asked the suppression list (a stand-in until the ``suppress`` branch
    is merged: it records the calls made with the interface's exact signature)."""

    calls: list[tuple[str, str, list[NewSuppression], str]] = field(default_factory=list)

    async def suppress(
        self,
        session: AsyncSession,
        org_id: str,
        sandbox_id: str,
        entries: Any,
        *,
        source: str,
    ) -> int:
        assert isinstance(session, AsyncSession)
        self.calls.append((org_id, sandbox_id, list(entries), source))
        return len(entries)


@pytest.fixture
def suppression_list(monkeypatch: pytest.MonkeyPatch) -> SuppressionCalls:
    fake = SuppressionCalls()
    monkeypatch.setattr(suppressions, "suppress", fake.suppress)
    return fake


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"public_base_url": PUBLIC_BASE})


@pytest.fixture
async def public(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the running app served by uvicorn on a free 127.0.0.1 port (same event loop)."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn stopped while starting"
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False) as client:
        yield client
    server.should_exit = True
    await task


@pytest.fixture
async def smtp_server() -> AsyncIterator[SmtpServer]:
    async with SmtpServer() as server:
        yield server


@dataclass
class Campaigns:
    """A tenant with a Live Marketing campaign (opens and clicks tracked) and a Live Transactional one."""

    api: Api
    marketing: str
    transactional: str
    smtp: SmtpServer


@pytest.fixture
async def campaigns(make_api: ApiFactory, smtp_server: SmtpServer) -> Campaigns:
    api = await make_api()
    pool = await api.pool("pool", port=smtp_server.port)
    configuration = await api.configuration(pool["id"], name="mail")
    marketing = await api.campaign(
        configuration["id"],
        name="Sale",
        category="Marketing",
        createNewProfile=True,
        tracking={"opens": True, "clicks": True},
        content={"email": {"subject": "Sale", "html": TRACKED_HTML}},
    )
    assert marketing["tracking"] == {"opens": True, "clicks": True}
    transactional = await api.campaign(configuration["id"], name="Receipt", createNewProfile=True)
    assert transactional["tracking"] == {"opens": False, "clicks": False}
    for campaign in (marketing, transactional):
        await api.call("POST", f"/v1/campaigns/{campaign['id']}/activate", expect=200)
    return Campaigns(api, marketing["id"], transactional["id"], smtp_server)
