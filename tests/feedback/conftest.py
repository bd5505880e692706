"""Fixtures of the feedback tests: a tenant sending with a bounce domain, a real feedback listener, a record
of what the suppression list was asked."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiosmtplib
import pytest

from clarion.container import Container
from clarion.delivery.tokens import MessageTokens
from clarion.feedback import service as feedback_service
from clarion.feedback.listener import FeedbackListener
from clarion.feedback.service import FeedbackIntake
from clarion.runtime import BackgroundServices
from clarion.suppressions.bounces import Bounce
from clarion.suppressions.schemas import NewSuppression
from tests.builders import Api, ApiFactory
from tests.delivery.servers import SmtpServer
from tests.executions.test_delivery_flow import HT, final


@dataclass
class SuppressionCalls:
    """Stands in for ``suppressions.service`` (owned by the ``suppress`` helper): records what feedback asks.

    ``gate``, when set, holds every call until it is set (the durability test); ``fail`` makes calls raise.
    """

    bounces: list[tuple[str, str, str, Bounce, str, str]] = field(default_factory=list)
    suppressed: list[tuple[str, str, NewSuppression, str]] = field(default_factory=list)
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    gate: asyncio.Event | None = None
    fail: BaseException | None = None

    async def _enter(self) -> None:
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail

    async def note_bounce(
        self,
        session: Any,
        org_id: str,
        sandbox_id: str,
        address: str,
        bounce: Bounce,
        *,
        message_id: str,
        at: datetime,
        detail: str,
    ) -> str | None:
        await self._enter()
        self.bounces.append((org_id, sandbox_id, address, bounce, message_id, detail))
        return "hardBounce" if bounce.type == "hard" else None

    async def suppress(
        self, session: Any, org_id: str, sandbox_id: str, entries: Sequence[NewSuppression], *, source: str
    ) -> int:
        await self._enter()
        self.suppressed.extend((org_id, sandbox_id, entry, source) for entry in entries)
        return len(entries)


@pytest.fixture
def suppression_calls(monkeypatch: pytest.MonkeyPatch) -> SuppressionCalls:
    """What the feedback service asks the suppression list (the real one lands with the suppress branch)."""
    calls = SuppressionCalls()
    monkeypatch.setattr(feedback_service, "suppressions", calls)
    return calls


@dataclass
class Sent:
    """A sent message: its ledger id, recipient and the envelope sender it went out with."""

    id: str
    recipient: str
    mail_from: str


@dataclass
class Inbound:
    """A tenant sending through ``smtp`` with ``domain`` as bounce domain, and a feedback listener."""

    api: Api
    smtp: SmtpServer
    domain: str
    campaign: str
    listener: FeedbackListener
    intake: FeedbackIntake
    tokens: MessageTokens
    outcomes: Counter[str]

    async def send(self, *recipients: str) -> list[Sent]:
        """Trigger one execution to ``recipients`` and wait until each message is final."""
        body = {
            "requestId": secrets.token_hex(6),
            "campaignId": self.campaign,
            "recipients": [
                {"type": "external", "userId": address, "namespace": "email", "context": {}}
                for address in recipients
            ],
        }
        rows = await final(self.api, await trigger_api(self.api, body), count=len(recipients))
        senders = {mail.rcpt_tos[0]: mail.mail_from for mail in self.smtp.messages}
        return [Sent(row["id"], row["recipient"], senders.get(row["recipient"], "")) for row in rows]

    async def deliver(self, rcpt_tos: Sequence[str], raw: bytes, *, mail_from: str = "") -> str:
        """Send ``raw`` to the listener as a reporting MTA would (null sender); its reply to DATA."""
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=self.listener.port, timeout=10) as client:
            errors, reply = await client.sendmail(mail_from, list(rcpt_tos), raw)
        assert errors == {}
        return reply

    async def message(self, message_id: str) -> dict[str, Any]:
        """The ledger row."""
        return (await self.api.call("GET", f"/v1/messages/{message_id}", expect=200)).json()  # type: ignore[no-any-return]

    async def events(self, message_id: str) -> list[dict[str, Any]]:
        """The message's history."""
        response = await self.api.call("GET", f"/v1/messages/{message_id}/events", expect=200)
        return list(response.json()["items"])


async def trigger_api(api: Api, body: dict[str, Any]) -> str:
    response = await api.client.post(HT, json=body, headers=api.tenant.headers())
    assert response.status_code == 202, response.text
    return str(response.json()["executionId"])


def bounce_domain() -> str:
    """A bounce domain no other test uses (they share one database)."""
    return f"bounces-{secrets.token_hex(4)}.shop.example"


@pytest.fixture
async def smtp_server() -> AsyncIterator[SmtpServer]:
    async with SmtpServer() as server:
        yield server


@pytest.fixture
async def inbound(
    make_api: ApiFactory,
    smtp_server: SmtpServer,
    container: Container,
    worker: BackgroundServices,
    suppression_calls: SuppressionCalls,
) -> AsyncIterator[Inbound]:
    api = await make_api()
    domain = bounce_domain()
    pool = await api.pool("pool", port=smtp_server.port)
    configuration = await api.configuration(
        pool["id"], name="mail", high_throughput=True, bounceDomain=domain, errorAddress="errors@shop.example"
    )
    campaign = await api.campaign(configuration["id"], high_throughput=True)
    await api.call("POST", f"/v1/campaigns/{campaign['id']}/activate", expect=200)
    outcomes: Counter[str] = Counter()
    tokens = MessageTokens(container.secrets)
    intake = FeedbackIntake(
        container.unit_of_work, tokens, on_outcome=lambda outcome: outcomes.update([outcome])
    )
    async with FeedbackListener(intake, port=0) as listener:
        yield Inbound(api, smtp_server, domain, campaign["id"], listener, intake, tokens, outcomes)
