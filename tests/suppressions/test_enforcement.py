"""End to end over a real SMTP relay: the relay's refusals at RCPT/DATA classified and applied in the
ledger's transaction, and suppressed recipients never sent (ledger ``suppressed`` with the reason)."""

from __future__ import annotations

from typing import Any

from clarion.container import Container
from clarion.errors import NotFound
from clarion.runtime import BackgroundServices
from clarion.suppressions import service
from clarion.suppressions.schemas import NewSuppression
from tests.executions.conftest import Live
from tests.executions.test_delivery_flow import HT, eventually, final, messages, trigger
from tests.suppressions.conftest import Scope, prod_scope


def recipient(address: str) -> list[dict[str, object]]:
    return [{"type": "external", "userId": address, "namespace": "email"}]


async def events(live: Live, message_id: str) -> list[dict[str, Any]]:
    response = await live.api.call("GET", f"/v1/messages/{message_id}/events", expect=200)
    return list(response.json()["items"])


async def listed(container: Container, scope: Scope, address: str) -> list[tuple[str, str, str]]:
    async with container.unit_of_work() as uow:
        try:
            found = await service.entries_of(uow.session, *scope, address)
        except NotFound:
            return []
    return [(entry.reason, entry.source, entry.message_id) for entry in found]


async def send_to(live: Live, address: str, campaign: str | None = None) -> dict[str, Any]:
    """One message to ``address``, once it is final."""
    body = live.body(campaign=campaign, recipients=recipient(address))
    [row] = await final(live.api, await trigger(live, HT, body))
    return row


async def test_a_hard_bounce_is_bounced_suppressed_and_the_next_message_is_not_sent(
    live: Live, worker: BackgroundServices, container: Container
) -> None:
    scope = await prod_scope(container, live.api.tenant)
    live.smtp.rcpt_answers["Gone@Example.com"] = "550 5.1.1 <gone@example.com>: user unknown"
    row = await send_to(live, "Gone@Example.com")
    assert row["status"] == "bounced"
    assert row["response"] == "550 5.1.1 <gone@example.com>: user unknown"
    history = await events(live, row["id"])
    assert [event["kind"] for event in history] == ["accepted", "bounced"]
    assert history[1]["data"] == {
        "type": "hard",
        "status": "5.1.1",
        "diagnostic": "550 5.1.1 <gone@example.com>: user unknown",
        "source": "smtp",
    }
    # Suppressed in the ledger row's own transaction: visible as soon as the row is.
    assert await listed(container, scope, "gone@example.com") == [("hardBounce", "bounce", row["id"])]

    del live.smtp.rcpt_answers["Gone@Example.com"]  # the relay would take it now: the list must stop it
    again = await send_to(live, "gone@example.com")
    assert again["status"] == "suppressed"
    assert again["response"].startswith(
        "suppressed: hardBounce (550 5.1.1 <gone@example.com>: user unknown, on "
    )
    history = await events(live, again["id"])
    assert [event["kind"] for event in history] == ["accepted", "suppressed"]
    assert history[1]["data"] == {"reason": "hardBounce", "category": ""}
    assert all("gone@example.com" not in mail.rcpt_tos for mail in live.smtp.messages)
    assert await messages(live.api, status="suppressed") == [again]


async def test_soft_bounces_retry_and_three_bounced_messages_suppress(
    live: Live, worker: BackgroundServices, container: Container
) -> None:
    scope = await prod_scope(container, live.api.tenant)
    live.smtp.rcpt_answers["full@example.com"] = "452 4.2.2 mailbox full"
    first = await trigger(live, HT, live.body(recipients=recipient("full@example.com")))

    async def retried(execution: str) -> dict[str, Any] | None:
        rows = await messages(live.api, executionId=execution)
        return rows[0] if rows and rows[0]["attempts"] >= 2 else None

    row = await eventually(lambda: retried(first))
    assert row["status"] == "accepted"  # a deferral, retried as before
    retry = next(event for event in await events(live, row["id"]) if event["kind"] == "deferred")
    assert (retry["data"]["type"], retry["data"]["status"]) == ("soft", "4.2.2")
    # Its retries are one soft-bounced message, not several.
    assert await listed(container, scope, "full@example.com") == []

    executions = [first]
    for _ in range(2):
        executions.append(await trigger(live, HT, live.body(recipients=recipient("full@example.com"))))

    async def suppressed() -> list[tuple[str, str, str]]:
        return await listed(container, scope, "full@example.com")

    [(reason, source, _)] = await eventually(suppressed)
    assert (reason, source) == ("softBounce", "bounce")
    # The messages still retrying meet the list at their next attempt.
    for execution in executions:
        [row] = await final(live.api, execution)
        assert row["status"] == "suppressed"
        assert row["response"].startswith("suppressed: softBounce (3 soft-bounced messages in 7 days")


async def test_mailbox_full_with_a_permanent_code_is_retried_not_failed(
    live: Live, worker: BackgroundServices
) -> None:
    live.smtp.rcpt_answers["fat@example.com"] = "552 5.2.2 mailbox full"
    execution = await trigger(live, HT, live.body(recipients=recipient("fat@example.com")))

    async def retried() -> dict[str, Any] | None:
        rows = await messages(live.api, executionId=execution)
        return rows[0] if rows and rows[0]["attempts"] >= 2 else None

    row = await eventually(retried)
    assert row["status"] == "accepted"
    del live.smtp.rcpt_answers["fat@example.com"]
    [row] = await final(live.api, execution)
    assert row["status"] == "sent"


async def test_a_policy_block_is_failed_and_reported_not_suppressed(
    live: Live, worker: BackgroundServices, container: Container
) -> None:
    scope = await prod_scope(container, live.api.tenant)
    live.smtp.data_answer = "554 5.7.1 message refused as spam"
    row = await send_to(live, "fine@example.com")
    assert row["status"] == "failed"
    [_, failed] = await events(live, row["id"])
    assert failed["data"] == {
        "type": "policy",
        "status": "5.7.1",
        "diagnostic": "554 5.7.1 message refused as spam",
        "source": "smtp",
    }
    assert await listed(container, scope, "fine@example.com") == []


async def test_a_server_closing_is_retried_and_not_counted_against_the_address(
    live: Live, worker: BackgroundServices, container: Container
) -> None:
    scope = await prod_scope(container, live.api.tenant)
    live.smtp.rcpt_answers["busy@example.com"] = "421 too busy, closing"
    execution = await trigger(live, HT, live.body(recipients=recipient("busy@example.com")))

    async def retried() -> dict[str, Any] | None:
        rows = await messages(live.api, executionId=execution)
        return rows[0] if rows and rows[0]["attempts"] >= 2 else None

    row = await eventually(retried)
    retry = next(event for event in await events(live, row["id"]) if event["kind"] == "deferred")
    assert retry["data"] is None
    del live.smtp.rcpt_answers["busy@example.com"]
    [row] = await final(live.api, execution)
    assert row["status"] == "sent"
    assert await listed(container, scope, "busy@example.com") == []


async def test_transactional_campaigns_ignore_unsubscribes_marketing_ones_do_not(
    live: Live, worker: BackgroundServices, container: Container
) -> None:
    scope = await prod_scope(container, live.api.tenant)
    api = live.api
    pool = await api.pool("mktpool", port=live.smtp.port)
    configuration = await api.configuration(pool["id"], name="mktmail", high_throughput=True)
    marketing = await api.campaign(
        configuration["id"],
        high_throughput=True,
        name="Sale",
        category="Marketing",
        content={"email": {"subject": "Sale", "html": "<p>Sale</p>"}},
    )
    await api.call("POST", f"/v1/campaigns/{marketing['id']}/activate", expect=200)
    async with container.unit_of_work() as uow:
        await service.suppress(
            uow.session, *scope, [NewSuppression("ann@example.com", "unsubscribe")], source="api"
        )
        await uow.commit()

    receipt = await send_to(live, "ann@example.com")
    assert receipt["status"] == "sent"
    sale = await send_to(live, "ANN@example.com", marketing["id"])
    assert sale["status"] == "suppressed"
    assert sale["response"].startswith("suppressed: unsubscribe from Marketing (added by api, on ")
    [_, event] = await events(live, sale["id"])
    assert event["data"] == {"reason": "unsubscribe", "category": "Marketing"}
