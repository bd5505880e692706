"""The feedback listener over real SMTP: VERP, bounce domains, DSNs, complaints, forged mail, durability."""

from __future__ import annotations

import asyncio

import aiosmtplib
import pytest

from clarion.container import Container
from clarion.feedback.listener import FeedbackListener
from clarion.feedback.service import FeedbackIntake
from clarion.ops.metrics import Metrics
from clarion.suppressions.bounces import Bounce
from tests.builders import Api
from tests.feedback.conftest import Inbound, SuppressionCalls
from tests.feedback.reports import arf, auto_reply, dsn


async def test_each_message_goes_out_with_its_own_verp_envelope_sender(inbound: Inbound) -> None:
    first, second = await inbound.send("ada@example.net", "bob@example.net")
    for sent in (first, second):
        assert sent.mail_from.startswith("b-")
        assert sent.mail_from.endswith(f"@{inbound.domain}")
        assert len(sent.mail_from.partition("@")[0]) <= 64
        assert inbound.tokens.read_bounce_address(sent.mail_from) == sent.id
        assert inbound.tokens.read_bounce_address(sent.mail_from.upper()) == sent.id  # relays may fold case
    assert first.mail_from != second.mail_from


@pytest.mark.parametrize(
    ("given", "rule"),
    [
        ("localhost", "at least two labels"),
        ("bad_domain.example", "letters, digits or hyphens"),
        ("-bounces.example.com", "letters, digits or hyphens"),
        ("bounces.example.123", "all digits"),
        ("b-@bounces.example.com", "letters, digits or hyphens"),
    ],
)
async def test_a_bounce_domain_is_checked_at_save(api: Api, given: str, rule: str) -> None:
    pool = await api.pool()
    body = {
        "name": "mail",
        "channel": "email",
        "email": {"fromAddress": "news@shop.example", "ipPoolId": pool["id"], "bounceDomain": given},
    }
    response = await api.call("POST", "/v1/channel-configurations", body)
    assert response.status_code == 400, response.text
    assert "bounceDomain" in response.text
    assert rule in response.text


async def test_a_bounce_domain_is_stored_in_its_canonical_form(api: Api) -> None:
    pool = await api.pool()
    configuration = await api.configuration(pool["id"], bounceDomain="Bounces.Shop.EXAMPLE.")
    assert configuration["email"]["bounceDomain"] == "bounces.shop.example"


async def test_recipients_are_accepted_only_at_bounce_domains(inbound: Inbound) -> None:
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=inbound.listener.port, timeout=10) as client:
        await client.mail("")
        code, _ = await client.rcpt(f"anything@{inbound.domain.upper()}")
        assert code == 250
        with pytest.raises(aiosmtplib.SMTPRecipientRefused) as refused:
            await client.rcpt("postmaster@elsewhere.example")
    assert refused.value.code == 550
    assert refused.value.message.startswith("5.1.1")


async def test_a_hard_bounce_dsn_bounces_the_message_and_asks_the_suppression_list(
    inbound: Inbound, suppression_calls: SuppressionCalls
) -> None:
    (sent,) = await inbound.send("ada@example.net")
    diagnostic = "550 5.1.1 <ada@example.net>: Recipient address rejected: User unknown"
    raw = dsn(sent.mail_from, ("ada@example.net", "failed", "5.1.1", diagnostic))
    assert (await inbound.deliver([sent.mail_from], raw)).startswith("2.0.0")

    row = await inbound.message(sent.id)
    assert row["status"] == "bounced"
    bounced = [event for event in await inbound.events(sent.id) if event["kind"] == "bounced"]
    assert len(bounced) == 1
    assert bounced[0]["data"] == {
        "type": "hard",
        "status": "5.1.1",
        "diagnostic": diagnostic,
        "source": "dsn",
    }
    assert bounced[0]["response"] == diagnostic
    # A hard bounce suppresses at once: in the batch's one call per sandbox.
    ((org, _sandbox, entry, source),) = suppression_calls.suppressed
    assert (org, entry.address, entry.reason, entry.message_id, entry.detail, source) == (
        inbound.api.tenant.org_id,
        "ada@example.net",
        "hardBounce",
        sent.id,
        diagnostic,
        "bounce",
    )
    assert suppression_calls.bounces == []
    assert inbound.outcomes == {"bounce_hard": 1}

    # The same DSN again (the sender never saw our 250): not recorded twice.
    await inbound.deliver([sent.mail_from], raw)
    assert len([event for event in await inbound.events(sent.id) if event["kind"] == "bounced"]) == 1
    assert inbound.outcomes == {"bounce_hard": 1, "duplicate": 1}
    assert len(suppression_calls.suppressed) == 1


async def test_soft_policy_and_delayed_reports_are_told_apart(
    inbound: Inbound, suppression_calls: SuppressionCalls
) -> None:
    full, blocked, late, vague = await inbound.send(
        "full@example.net", "blocked@example.net", "late@example.net", "vague@example.net"
    )
    await inbound.deliver([full.mail_from], dsn(full.mail_from, (full.recipient, "failed", "5.2.2", "")))
    await inbound.deliver(
        [blocked.mail_from], dsn(blocked.mail_from, (blocked.recipient, "failed", "5.7.1", "550 5.7.1 spam"))
    )
    await inbound.deliver([late.mail_from], dsn(late.mail_from, (late.recipient, "delayed", "4.4.1", "")))
    # "5.0.0" says only "permanent": the remote reply quoted in the diagnostic is more precise.
    await inbound.deliver(
        [vague.mail_from],
        dsn(vague.mail_from, (vague.recipient, "failed", "5.0.0", "550 5.1.1 no such user")),
    )

    assert inbound.outcomes == {"bounce_soft": 1, "bounce_policy": 1, "delayed": 1, "bounce_hard": 1}
    assert [(call[2], call[3]) for call in suppression_calls.bounces] == [
        (full.recipient, Bounce("soft", "5.2.2")),  # counted against the soft-bounce rule
        (blocked.recipient, Bounce("policy", "5.7.1")),
    ]
    assert [(call[2].address, call[2].reason) for call in suppression_calls.suppressed] == [
        (vague.recipient, "hardBounce")
    ]
    assert (await inbound.message(late.id))["status"] == "sent"
    assert [event["kind"] for event in await inbound.events(late.id)] == ["accepted", "sent"]


async def test_an_abuse_complaint_is_recorded_and_suppresses_the_address(
    inbound: Inbound, suppression_calls: SuppressionCalls
) -> None:
    first, second = await inbound.send("ada@example.net", "bob@example.net")
    # To the bounce address itself, and to a fixed feedback-loop address naming it in Original-Mail-From.
    await inbound.deliver([first.mail_from], arf(first.mail_from, user_agent="YahooFBL/1"))
    await inbound.deliver(
        [f"fbl@{inbound.domain}"], arf(f"fbl@{inbound.domain}", original_mail_from=second.mail_from)
    )

    for sent in (first, second):
        (complained,) = [event for event in await inbound.events(sent.id) if event["kind"] == "complained"]
        assert complained["data"]["feedbackType"] == "abuse"
        assert (await inbound.message(sent.id))["status"] == "sent"  # a complaint is no bounce
    assert [
        (call[2].address, call[2].reason, call[2].message_id, call[3])
        for call in suppression_calls.suppressed
    ] == [
        ("ada@example.net", "complaint", first.id, "complaint"),
        ("bob@example.net", "complaint", second.id, "complaint"),
    ]
    assert "YahooFBL/1" in suppression_calls.suppressed[0][2].detail
    assert inbound.outcomes == {"complaint": 2}

    await inbound.deliver([first.mail_from], arf(first.mail_from, feedback_type="not-spam"))
    assert inbound.outcomes["feedback_other"] == 1
    assert len(suppression_calls.suppressed) == 2


async def test_forged_auto_replies_and_unreadable_mail_are_dropped_unknown_messages_deferred(
    inbound: Inbound, suppression_calls: SuppressionCalls
) -> None:
    (sent,) = await inbound.send("ada@example.net")
    local, _, domain = sent.mail_from.partition("@")
    flipped = local[:-1] + ("a" if local[-1] != "a" else "b")
    forged = f"{flipped}@{domain}"
    purged = inbound.tokens.bounce_address("0a6f2f8e-5a5c-4c39-9b0c-2f3f5b0f0e11:0", inbound.domain)
    report = ("ada@example.net", "failed", "5.1.1", "550 5.1.1 unknown")

    assert (await inbound.deliver([forged], dsn(forged, report))).startswith("2.0.0")
    assert (await inbound.deliver([f"nobody@{inbound.domain}"], dsn("x", report))).startswith("2.0.0")
    with pytest.raises(aiosmtplib.SMTPDataError) as not_yet:  # not in the ledger (yet): try again later
        await inbound.deliver([purged], dsn(purged, report))
    assert (not_yet.value.code, not_yet.value.message[:5]) == (451, "4.3.0")
    await inbound.deliver([sent.mail_from], auto_reply(sent.mail_from, Auto_Submitted="auto-replied"))
    await inbound.deliver([sent.mail_from], b"Subject: thanks!\r\n\r\nA human answer.\r\n")

    assert inbound.outcomes == {
        "forged": 2,
        "unknown_message": 1,
        "auto_reply": 1,
        "unparsed": 1,
    }
    assert (await inbound.message(sent.id))["status"] == "sent"
    assert suppression_calls.bounces == []
    assert suppression_calls.suppressed == []


async def test_one_report_to_several_bounce_addresses_reaches_each_message(inbound: Inbound) -> None:
    first, second = await inbound.send("ada@example.net", "bob@example.net")
    raw = dsn(first.mail_from, ("someone@example.net", "failed", "5.1.1", "550 5.1.1 gone"))
    await inbound.deliver([first.mail_from, second.mail_from], raw)
    assert {(await inbound.message(sent.id))["status"] for sent in (first, second)} == {"bounced"}
    assert inbound.outcomes == {"bounce_hard": 2}


async def test_mail_over_10_mb_is_refused_at_data(inbound: Inbound) -> None:
    big = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * (10 * 1024 * 1024 // 1000 + 10)
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=inbound.listener.port, timeout=30) as client:
        await client.mail("")
        await client.rcpt(f"b-x@{inbound.domain}")
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await client.data(big)
        assert (refused.value.code, refused.value.message) == (552, "5.3.4 Message too big for this system")
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as declared:
            await client.mail("", options=[f"SIZE={11 * 1024 * 1024}"])
        assert declared.value.code == 552
        assert declared.value.message.startswith("5.3.4")
    assert inbound.outcomes == {}


async def test_the_250_waits_until_the_batch_is_committed(
    inbound: Inbound, suppression_calls: SuppressionCalls
) -> None:
    (sent,) = await inbound.send("ada@example.net")
    suppression_calls.gate = asyncio.Event()
    raw = dsn(sent.mail_from, ("ada@example.net", "failed", "5.1.1", "550 5.1.1 unknown"))
    delivery = asyncio.create_task(inbound.deliver([sent.mail_from], raw))
    await asyncio.wait_for(suppression_calls.entered.wait(), 10)

    assert not delivery.done()  # the transaction is open: no answer yet
    assert (await inbound.message(sent.id))["status"] == "sent"  # nor anything visible

    suppression_calls.gate.set()
    assert (await asyncio.wait_for(delivery, 10)).startswith("2.0.0")
    assert (await inbound.message(sent.id))["status"] == "bounced"


async def test_a_report_that_cannot_be_stored_is_refused_with_451_and_nothing_is_kept(
    inbound: Inbound, suppression_calls: SuppressionCalls
) -> None:
    (sent,) = await inbound.send("ada@example.net")
    suppression_calls.fail = ConnectionRefusedError("database restarting")
    raw = dsn(sent.mail_from, ("ada@example.net", "failed", "5.1.1", "550 5.1.1 unknown"))
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await inbound.deliver([sent.mail_from], raw)
    assert (refused.value.code, refused.value.message[:5]) == (451, "4.3.0")
    assert (await inbound.message(sent.id))["status"] == "sent"
    assert [event["kind"] for event in await inbound.events(sent.id)] == ["accepted", "sent"]
    assert inbound.outcomes == {}

    suppression_calls.fail = None  # the sender tries again later: now it is stored
    assert (await inbound.deliver([sent.mail_from], raw)).startswith("2.0.0")
    assert (await inbound.message(sent.id))["status"] == "bounced"


async def test_outcomes_are_prometheus_counters(
    inbound: Inbound, container: Container, suppression_calls: SuppressionCalls
) -> None:
    (sent,) = await inbound.send("ada@example.net")
    metrics = Metrics()
    intake = FeedbackIntake(container.unit_of_work, inbound.tokens, on_outcome=metrics.record_feedback)
    async with FeedbackListener(intake, port=0) as listener:
        inbound.listener = listener
        await inbound.deliver([sent.mail_from], dsn(sent.mail_from, (sent.recipient, "failed", "5.1.1", "")))
        await inbound.deliver([sent.mail_from], b"Subject: hi\r\n\r\nhello\r\n")
    text = metrics.exposition().decode()
    assert 'clarion_feedback_reports_total{outcome="bounce_hard"} 1.0' in text
    assert 'clarion_feedback_reports_total{outcome="unparsed"} 1.0' in text
