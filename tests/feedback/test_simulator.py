"""The mailbox simulator end to end: trigger → worker → capture server → (reports) → feedback listener →
ledger, history and the suppression list, with the processes' own background services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from clarion.config import Settings
from clarion.ops.metrics import Metrics
from clarion.runtime import BackgroundServices
from clarion.services import Services
from tests.builders import ApiFactory
from tests.executions.test_delivery_flow import eventually
from tests.feedback.conftest import SuppressionCalls, bounce_domain, trigger_api

SIMULATOR = "simulator.clarion.test"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Capture (with its simulator) and the feedback listener on, each on a free port."""
    return settings.model_copy(
        update={"smtp_capture": True, "smtp_capture_port": 0, "feedback_smtp": True, "feedback_smtp_port": 0}
    )


@pytest.fixture
async def embedded(services: Services) -> AsyncIterator[tuple[BackgroundServices, Metrics]]:
    """The background services of an embedded ``clarion serve``: worker, capture server, feedback listener."""
    metrics = Metrics()
    background = BackgroundServices(services, metrics)
    await background.start()
    yield background, metrics
    await background.stop()


async def test_the_simulator_answers_and_reports_as_a_mailbox_provider_would(
    make_api: ApiFactory,
    embedded: tuple[BackgroundServices, Metrics],
    suppression_calls: SuppressionCalls,
) -> None:
    background, metrics = embedded
    assert background.capture is not None
    assert background.feedback is not None
    api = await make_api()
    pool = await api.pool("pool", port=background.capture.port)
    configuration = await api.configuration(
        pool["id"], name="mail", high_throughput=True, bounceDomain=bounce_domain()
    )
    campaign = await api.campaign(configuration["id"], high_throughput=True)
    await api.call("POST", f"/v1/campaigns/{campaign['id']}/activate", expect=200)
    names = ["success", "bounce", "softbounce", "complaint", "ooto", "bounce-async"]
    body = {
        "requestId": "simulator",
        "campaignId": campaign["id"],
        "recipients": [
            {"type": "external", "userId": f"{name}@{SIMULATOR}", "namespace": "email", "context": {}}
            for name in names
        ],
    }
    execution = await trigger_api(api, body)

    async def rows() -> dict[str, dict[str, Any]] | None:
        response = await api.call("GET", f"/v1/messages?executionId={execution}", expect=200)
        found = {row["recipient"].partition("@")[0]: row for row in response.json()["items"]}
        return found if len(found) == len(names) and found["success"]["status"] != "accepted" else None

    async def history(message_id: str) -> list[dict[str, Any]]:
        return list((await api.call("GET", f"/v1/messages/{message_id}/events", expect=200)).json()["items"])

    messages = await eventually(rows)
    assert messages["success"]["status"] == "sent"

    async def bounced_at_rcpt() -> dict[str, Any] | None:
        row = (await api.call("GET", f"/v1/messages/{messages['bounce']['id']}", expect=200)).json()
        return row if row["status"] != "accepted" else None

    refused = await eventually(bounced_at_rcpt)
    assert refused["status"] in ("failed", "bounced")  # "bounced" once synchronous bounces are classified
    assert refused["response"].startswith("550 5.1.1")

    async def soft_refusal() -> list[dict[str, Any]] | None:
        retries = [e for e in await history(messages["softbounce"]["id"]) if e["kind"] == "deferred"]
        return retries or None

    assert (await eventually(soft_refusal))[0]["response"].startswith("452 4.2.2")

    async def complained() -> list[dict[str, Any]] | None:
        events = [e for e in await history(messages["complaint"]["id"]) if e["kind"] == "complained"]
        return events or None

    (complaint,) = await eventually(complained)
    assert complaint["data"] == {"feedbackType": "abuse", "userAgent": "Clarion-Mailbox-Simulator/1"}
    assert (f"complaint@{SIMULATOR}", "complaint", "complaint") in {
        (call[2].address, call[2].reason, call[3]) for call in suppression_calls.suppressed
    }

    async def late_bounce() -> dict[str, Any] | None:
        row = (await api.call("GET", f"/v1/messages/{messages['bounce-async']['id']}", expect=200)).json()
        return row if row["status"] == "bounced" else None

    await eventually(late_bounce)
    (bounced,) = [e for e in await history(messages["bounce-async"]["id"]) if e["kind"] == "bounced"]
    assert bounced["data"]["type"] == "hard"
    assert bounced["data"]["source"] == "dsn"
    assert {(call[2].address, call[2].reason, call[3]) for call in suppression_calls.suppressed} == {
        (f"complaint@{SIMULATOR}", "complaint", "complaint"),
        (f"bounce-async@{SIMULATOR}", "hardBounce", "bounce"),
    }

    def counted(outcome: str) -> float:
        return (
            metrics.registry.get_sample_value("clarion_feedback_reports_total", {"outcome": outcome}) or 0.0
        )

    async def auto_replied() -> bool:
        return counted("auto_reply") == 1

    await eventually(auto_replied)
    assert (counted("complaint"), counted("bounce_hard"), counted("forged")) == (1, 1, 0)
    # What the capture server accepted is in its outbox; refused recipients are not.
    captured = {rcpt for mail in background.capture.outbox.list() for rcpt in mail.rcpt_tos}
    assert captured == {f"{name}@{SIMULATOR}" for name in ("success", "complaint", "ooto", "bounce-async")}


async def test_one_process_of_a_home_runs_the_listener(
    services: Services, embedded: tuple[BackgroundServices, Metrics]
) -> None:
    first, _ = embedded
    second = BackgroundServices(services, Metrics(), run_worker=False, capture_smtp=False)
    await second.start()
    try:
        assert first.feedback is not None
        assert second.feedback is None  # feedback.lock is held by the first
    finally:
        await second.stop()
