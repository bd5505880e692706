"""SmtpPool against real SMTP servers on 127.0.0.1: reuse, concurrency, answers, failures, TLS, binding."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import uvloop
from bench.smtp_sink import start_sink

from clarion.delivery.channels.base import SendResult
from clarion.delivery.channels.email.smtp import Relay, SmtpPool, TlsMode
from clarion.suppressions.bounces import Bounce
from tests.delivery.servers import HOST, SilentServer, SmtpServer, free_port, self_signed_tls

SENDER = "shop@example.com"


def mail(n: int = 0) -> bytes:
    """A small CRLF message, different for every ``n``."""
    return (
        f"From: Shop <{SENDER}>\r\nTo: user{n}@example.org\r\nSubject: Order {n}\r\n"
        f"Message-ID: <order-{n}@example.com>\r\n\r\nHello user {n}.\r\n"
    ).encode()


def pool_for(*servers: SmtpServer, **options: Any) -> SmtpPool:
    """A pool over plain-SMTP relays at ``servers``."""
    return SmtpPool([Relay(s.host, s.port, "none") for s in servers], helo_name="client.test", **options)


async def send_many(pool: SmtpPool, count: int) -> list[SendResult]:
    """``count`` concurrent sends, user{i} getting mail(i)."""
    return await asyncio.gather(*(pool.send(SENDER, [f"user{i}@example.org"], mail(i)) for i in range(count)))


# --- reuse and concurrency ---------------------------------------------------------------------------------


async def test_sequential_sends_reuse_one_persistent_connection(smtp_server: SmtpServer) -> None:
    async with pool_for(smtp_server, max_connections=4) as pool:
        results = [await pool.send(SENDER, [f"user{i}@example.org"], mail(i)) for i in range(20)]
        assert pool.connection_count == 1

    assert results[0] == SendResult("sent", "250 2.0.0 Ok: queued as Q1")
    assert [r.outcome for r in results] == ["sent"] * 20
    assert [m.data for m in smtp_server.messages] == [mail(i) for i in range(20)]
    assert len(smtp_server.peers) == 1
    assert smtp_server.commands["QUIT"] == 1  # close() says goodbye to the idle connection


@pytest.mark.parametrize(
    "body",
    [
        b".starts with a dot\r\n",
        b"a line\r\n.\r\n..two dots\r\nlast line without its CRLF",
        b"",
    ],
)
async def test_lines_starting_with_a_dot_arrive_unchanged(smtp_server: SmtpServer, body: bytes) -> None:
    """Our DATA does its own dot stuffing (``session.py``), BDAT none: the server gets back what was sent."""
    message = b"From: <shop@example.com>\r\nSubject: dots\r\n\r\n" + body
    async with pool_for(smtp_server) as pool:
        result = await pool.send(SENDER, ["user@example.org"], message)
    assert result.outcome == "sent"
    expected = message if message.endswith(b"\r\n") else message + b"\r\n"
    assert [m.data for m in smtp_server.messages] == [expected]


async def test_the_envelope_is_pipelined_only_when_the_relay_offers_it(smtp_server: SmtpServer) -> None:
    async with pool_for(smtp_server) as pool:
        result = await pool.send(SENDER, ["a@example.org", "b@example.org"], mail(1))

    assert result.outcome == "sent"
    rcpts = b"RCPT TO:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n"
    expected = {
        (): b"",  # without PIPELINING the client must wait for each reply
        ("PIPELINING",): rcpts + b"DATA\r\n",  # the body waits for 354
        ("PIPELINING", "CHUNKING"): rcpts + b"BDAT %d LAST\r\n" % len(mail(1)) + mail(1),
    }[smtp_server.extensions]
    assert smtp_server.sent_ahead_of_mail == [expected]
    assert [m.data for m in smtp_server.messages] == [mail(1)]


async def test_a_reply_nobody_asked_for_retires_the_idle_connection(smtp_server: SmtpServer) -> None:
    async with pool_for(smtp_server) as pool:
        await pool.send(SENDER, ["a@example.org"], mail(1))
        await smtp_server.announce("421 4.4.2 smtp.test Error: timeout exceeded")
        # Whether the 421 is read while the connection is idle or in place of the answer to the next
        # MAIL, the send goes over a new connection and is not reported as failed.
        result = await pool.send(SENDER, ["b@example.org"], mail(2))

    assert result.outcome == "sent"
    assert len(smtp_server.peers) == 2
    assert [m.rcpt_tos for m in smtp_server.messages] == [("a@example.org",), ("b@example.org",)]


async def test_200_concurrent_sends_share_a_bounded_pool(smtp_server: SmtpServer) -> None:
    async with pool_for(smtp_server, max_connections=8) as pool:
        results = await send_many(pool, 200)
        assert pool.connection_count == 8

    assert [r.outcome for r in results] == ["sent"] * 200
    assert len(smtp_server.peers) == 8
    received = {m.rcpt_tos: m.data for m in smtp_server.messages}
    assert received == {(f"user{i}@example.org",): mail(i) for i in range(200)}


async def test_sends_queue_for_a_single_connection(smtp_server: SmtpServer) -> None:
    async with pool_for(smtp_server, max_connections=1) as pool:
        results = await send_many(pool, 30)

    assert [r.outcome for r in results] == ["sent"] * 30
    assert len(smtp_server.messages) == 30
    assert len(smtp_server.peers) == 1


@pytest.mark.parametrize("extensions", [True, False], ids=["chunking", "one-by-one"])
async def test_pool_against_the_benchmark_sink(extensions: bool) -> None:
    sink = await start_sink(extensions=extensions)
    try:
        async with SmtpPool([Relay(HOST, sink.port, "none")], max_connections=4, helo_name="c.test") as pool:
            results = await send_many(pool, 100)
            empty = await pool.send(SENDER, ["a@example.org"], b"")
    finally:
        await sink.close()

    assert [r.outcome for r in results] == ["sent"] * 100
    assert empty.outcome == "sent"
    assert (sink.messages, sink.connections) == (101, 4)


async def test_one_string_of_recipients_is_refused(smtp_server: SmtpServer) -> None:
    async with pool_for(smtp_server) as pool:
        with pytest.raises(TypeError):
            await pool.send(SENDER, "a@example.org", mail())


async def test_idle_connection_is_checked_with_noop_before_reuse(smtp_server: SmtpServer) -> None:
    async with pool_for(smtp_server, noop_after_idle=0.0) as pool:
        await pool.send(SENDER, ["a@example.org"], mail(1))
        second = await pool.send(SENDER, ["b@example.org"], mail(2))

    assert second.outcome == "sent"
    assert smtp_server.commands["NOOP"] == 1
    assert len(smtp_server.peers) == 1


# --- the server's answers ----------------------------------------------------------------------------------


async def test_temporary_recipient_refusal_is_retry(smtp_server: SmtpServer) -> None:
    smtp_server.rcpt_answers["busy@example.org"] = "451 4.7.1 Try again later"
    async with pool_for(smtp_server) as pool:
        result = await pool.send(SENDER, ["busy@example.org"], mail())

    assert result == SendResult("retry", "451 4.7.1 Try again later", bounce=Bounce("soft", "4.7.1"))
    assert smtp_server.messages == []


async def test_permanent_refusal_is_failed_and_the_connection_is_reset_before_reuse(
    smtp_server: SmtpServer,
) -> None:
    smtp_server.rcpt_answers["gone@example.org"] = "550 5.1.1 <gone@example.org>: user unknown"
    async with pool_for(smtp_server) as pool:
        refused = await pool.send(SENDER, ["gone@example.org"], mail(1))
        # Without RSET the server would still hold the first MAIL FROM and answer "503 nested MAIL".
        accepted = await pool.send("other@example.com", ["user2@example.org"], mail(2))

    assert refused == SendResult(
        "failed", "550 5.1.1 <gone@example.org>: user unknown", bounce=Bounce("hard", "5.1.1")
    )
    assert accepted.outcome == "sent"
    assert smtp_server.commands["RSET"] == 1
    assert len(smtp_server.peers) == 1
    assert [(m.mail_from, m.rcpt_tos) for m in smtp_server.messages] == [
        ("other@example.com", ("user2@example.org",))
    ]


@pytest.mark.parametrize(
    ("answer", "outcome", "bounce"),
    [
        ("554 5.7.1 Message rejected as spam", "failed", Bounce("policy", "5.7.1")),
        ("451 4.3.0 Temporary local problem", "retry", Bounce("soft", "4.3.0")),
        ("552 5.2.2 Mailbox full", "retry", Bounce("soft", "5.2.2")),
        ("550 5.1.1 No such user (after queueing)", "failed", Bounce("hard", "5.1.1")),
        ("550 Message refused", "failed", Bounce("policy", "")),  # no enhanced code: not the mailbox
        ("421 Closing", "retry", None),
    ],
)
async def test_answer_to_the_message_data_decides(
    smtp_server: SmtpServer, answer: str, outcome: str, bounce: Bounce | None
) -> None:
    smtp_server.data_answer = answer
    async with pool_for(smtp_server) as pool:
        result = await pool.send(SENDER, ["a@example.org"], mail())
        smtp_server.data_answer = None
        after = await pool.send(SENDER, ["b@example.org"], mail())

    assert result == SendResult(outcome, answer, bounce=bounce)  # type: ignore[arg-type]
    assert after.outcome == "sent"
    assert len(smtp_server.peers) == 1


async def test_refused_sender_is_failed(smtp_server: SmtpServer) -> None:
    smtp_server.mail_answer = "553 5.7.1 <shop@example.com>: Sender address rejected"
    async with pool_for(smtp_server) as pool:
        result = await pool.send(SENDER, ["a@example.org"], mail())

    # The sender was refused, not the recipient: no bounce to hold against the address.
    assert result == SendResult("failed", "553 5.7.1 <shop@example.com>: Sender address rejected")


async def test_service_closing_at_mail_from_is_retry(smtp_server: SmtpServer) -> None:
    smtp_server.mail_answer = "421 4.3.2 Service shutting down"
    async with pool_for(smtp_server) as pool:
        result = await pool.send(SENDER, ["a@example.org"], mail())
        assert pool.connection_count == 0

    assert result == SendResult("retry", "421 4.3.2 Service shutting down")


async def test_some_recipients_refused_is_sent_with_the_refusals(smtp_server: SmtpServer) -> None:
    smtp_server.rcpt_answers["b@example.org"] = "550 5.1.1 user unknown"
    async with pool_for(smtp_server) as pool:
        result = await pool.send(SENDER, ["a@example.org", "b@example.org", "c@example.org"], mail())

    assert result == SendResult(
        "sent", "250 2.0.0 Ok: queued as Q1; refused: b@example.org: 550 5.1.1 user unknown"
    )
    assert smtp_server.messages[0].rcpt_tos == ("a@example.org", "c@example.org")


@pytest.mark.parametrize(
    ("answer_b", "outcome"),
    [("550 5.1.1 user unknown", "failed"), ("452 4.2.2 mailbox full", "retry"), ("552 5.2.2 full", "retry")],
)
async def test_every_recipient_refused(smtp_server: SmtpServer, answer_b: str, outcome: str) -> None:
    smtp_server.rcpt_answers["a@example.org"] = "550 5.1.1 user unknown"
    smtp_server.rcpt_answers["b@example.org"] = answer_b
    async with pool_for(smtp_server) as pool:
        result = await pool.send(SENDER, ["a@example.org", "b@example.org"], mail())

    assert result == SendResult(
        outcome,  # type: ignore[arg-type]
        f"a@example.org: 550 5.1.1 user unknown; b@example.org: {answer_b}",
    )
    assert smtp_server.messages == []


@pytest.mark.parametrize(
    ("answer", "outcome", "bounce"),
    [
        ("550 5.1.1 <x@example.org>: user unknown", "failed", Bounce("hard", "5.1.1")),
        ("550 5.1.10 null MX", "failed", Bounce("hard", "5.1.10")),
        ("452 4.2.2 mailbox full", "retry", Bounce("soft", "4.2.2")),
        ("552 5.2.2 mailbox full", "retry", Bounce("soft", "5.2.2")),  # permanent code, temporary meaning
        ("554 5.7.1 relay access denied", "failed", Bounce("policy", "5.7.1")),
        ("421 try later", "retry", None),  # the server closing the session, not the mailbox
        ("550 no such user", "failed", Bounce("hard", "")),
    ],
)
async def test_recipient_refusals_are_classified(
    smtp_server: SmtpServer, answer: str, outcome: str, bounce: Bounce | None
) -> None:
    smtp_server.rcpt_answers["x@example.org"] = answer
    async with pool_for(smtp_server) as pool:
        result = await pool.send(SENDER, ["x@example.org"], mail())

    assert result == SendResult(outcome, answer, bounce=bounce)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "address", ["two words@example.org", "a@example.org>\r\nRCPT TO:<b@example.org", "ü@example.org", ""]
)
async def test_unsendable_recipient_fails_without_a_connection(smtp_server: SmtpServer, address: str) -> None:
    async with pool_for(smtp_server) as pool:
        result = await pool.send(SENDER, [address], mail())

    assert result.outcome == "failed"
    assert result.response.startswith("invalid address")
    assert smtp_server.peers == []


# --- broken connections and timeouts -----------------------------------------------------------------------


async def test_server_restart_fails_one_send_as_retry_then_reconnects(smtp_server: SmtpServer) -> None:
    async with pool_for(smtp_server) as pool:
        first = await pool.send(SENDER, ["a@example.org"], mail(1))
        await smtp_server.stop()
        while_down = await pool.send(SENDER, ["b@example.org"], mail(2))
        await smtp_server.start()
        after = await pool.send(SENDER, ["c@example.org"], mail(3))

    assert (first.outcome, while_down.outcome, after.outcome) == ("sent", "retry", "sent")
    assert while_down.response.startswith(f"cannot connect to {HOST}:{smtp_server.port}")
    assert [m.rcpt_tos for m in smtp_server.messages] == [("a@example.org",), ("c@example.org",)]
    assert len(smtp_server.peers) == 2


async def test_dropped_idle_connection_is_replaced_within_the_send(smtp_server: SmtpServer) -> None:
    async with pool_for(smtp_server) as pool:
        await pool.send(SENDER, ["a@example.org"], mail(1))
        await smtp_server.drop_connections()
        result = await pool.send(SENDER, ["b@example.org"], mail(2))
        assert pool.connection_count == 1

    assert result.outcome == "sent"
    assert len(smtp_server.messages) == 2
    assert len(smtp_server.peers) == 2


async def test_unanswered_data_times_out_as_retry_and_the_connection_is_replaced(
    smtp_server: SmtpServer,
) -> None:
    smtp_server.hang_data = True
    async with pool_for(smtp_server, timeout=0.5) as pool:
        started = time.monotonic()
        result = await pool.send(SENDER, ["a@example.org"], mail())
        elapsed = time.monotonic() - started
        assert pool.connection_count == 0
        smtp_server.hang_data = False
        after = await pool.send(SENDER, ["b@example.org"], mail())

    assert result == SendResult("retry", "timeout after 0.5 s")
    assert 0.5 <= elapsed < 2.0
    assert after.outcome == "sent"
    assert len(smtp_server.peers) == 2


async def test_cancelled_send_drops_its_connection(smtp_server: SmtpServer) -> None:
    smtp_server.hang_data = True
    async with pool_for(smtp_server) as pool:
        sending = asyncio.create_task(pool.send(SENDER, ["a@example.org"], mail()))
        await asyncio.wait_for(smtp_server.hanging.wait(), 5)
        sending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sending
        assert pool.connection_count == 0
        smtp_server.hang_data = False
        after = await pool.send(SENDER, ["b@example.org"], mail())

    assert after.outcome == "sent"


async def test_silent_server_is_a_connect_timeout() -> None:
    async with SilentServer() as server:
        relay = Relay(server.host, server.port, "none")
        async with SmtpPool([relay], timeout=0.3, helo_name="client.test") as pool:
            result = await pool.send(SENDER, ["a@example.org"], mail())
            assert pool.connection_count == 0

    assert result == SendResult("retry", f"timeout after 0.3 s connecting to {HOST}:{relay.port}")


async def test_closed_pool_quits_idle_connections_and_refuses_sends(smtp_server: SmtpServer) -> None:
    pool = pool_for(smtp_server, max_connections=2)
    await send_many(pool, 2)
    await pool.close()

    assert smtp_server.commands["QUIT"] == 2
    assert pool.connection_count == 0
    assert await pool.send(SENDER, ["a@example.org"], mail()) == SendResult("retry", "SMTP pool closed")


# --- routes: relays and source addresses -------------------------------------------------------------------


async def test_source_address_is_bound(smtp_server: SmtpServer) -> None:
    async with pool_for(smtp_server, bind_addresses=["127.0.0.2"]) as pool:
        result = await pool.send(SENDER, ["a@example.org"], mail())

    assert result.outcome == "sent"
    assert smtp_server.peers[0][0] == "127.0.0.2"
    assert smtp_server.messages[0].peer[0] == "127.0.0.2"


async def test_connections_are_spread_over_source_addresses(smtp_server: SmtpServer) -> None:
    async with pool_for(smtp_server, bind_addresses=["127.0.0.1", "127.0.0.2"], max_connections=4) as pool:
        results = await send_many(pool, 40)

    assert [r.outcome for r in results] == ["sent"] * 40
    assert Counter(host for host, _ in smtp_server.peers) == {"127.0.0.1": 2, "127.0.0.2": 2}


async def test_connections_are_spread_over_relays() -> None:
    async with SmtpServer() as first, SmtpServer() as second:
        async with pool_for(first, second, max_connections=4) as pool:
            results = await send_many(pool, 40)

        assert [r.outcome for r in results] == ["sent"] * 40
        assert (len(first.peers), len(second.peers)) == (2, 2)
        assert len(first.messages) + len(second.messages) == 40


async def test_unreachable_relay_fails_over_to_the_next(smtp_server: SmtpServer) -> None:
    relays = [Relay(HOST, free_port(), "none"), Relay(smtp_server.host, smtp_server.port, "none")]
    async with SmtpPool(relays, helo_name="client.test") as pool:
        results = [await pool.send(SENDER, [f"user{i}@example.org"], mail(i)) for i in range(5)]
        assert pool.connection_count == 1

    assert [r.outcome for r in results] == ["sent"] * 5
    assert len(smtp_server.peers) == 1


async def test_refused_connection_is_retry() -> None:
    port = free_port()
    async with SmtpPool([Relay(HOST, port, "none")], helo_name="client.test") as pool:
        result = await pool.send(SENDER, ["a@example.org"], mail())

    assert result.outcome == "retry"
    assert result.response.startswith(f"cannot connect to {HOST}:{port}")


# --- TLS and AUTH (self-signed certificate made for the test) ----------------------------------------------


async def test_implicit_tls(tmp_path: Path) -> None:
    server_tls, client_tls = self_signed_tls(tmp_path)
    async with SmtpServer(tls_context=server_tls) as server:
        relay = Relay(server.host, server.port, "tls", tls_context=client_tls)
        async with SmtpPool([relay], helo_name="client.test") as pool:
            result = await pool.send(SENDER, ["a@example.org"], mail())

    assert result.outcome == "sent"
    assert server.messages[0].tls


@pytest.mark.parametrize("mode", ["tls", "starttls"])
async def test_untrusted_certificate_is_retry(tmp_path: Path, mode: TlsMode) -> None:
    server_tls, _ = self_signed_tls(tmp_path)
    implicit = mode == "tls"
    server = SmtpServer(
        tls_context=server_tls if implicit else None, starttls_context=None if implicit else server_tls
    )
    async with server:
        pool = SmtpPool([Relay(server.host, server.port, mode)], helo_name="client.test")
        async with pool:
            result = await pool.send(SENDER, ["a@example.org"], mail())

    assert result.outcome == "retry"
    assert "CERTIFICATE_VERIFY_FAILED" in result.response
    assert server.messages == []


@pytest.mark.parametrize("extensions", [(), ("PIPELINING", "CHUNKING")], ids=["one-by-one", "chunking"])
async def test_starttls_with_auth(tmp_path: Path, extensions: tuple[str, ...]) -> None:
    """aiosmtplib sets up TLS and AUTH, then the session takes the TLS transport over."""
    server_tls, client_tls = self_signed_tls(tmp_path)
    server = SmtpServer(starttls_context=server_tls, users={"mailer": "s3cret-pw"}, extensions=extensions)
    async with server:
        relay = Relay(server.host, server.port, "starttls", "mailer", "s3cret-pw", tls_context=client_tls)
        async with SmtpPool([relay], helo_name="client.test") as pool:
            results = [await pool.send(SENDER, ["a@example.org"], mail(i)) for i in range(3)]

    assert [r.outcome for r in results] == ["sent"] * 3
    assert [(m.tls, m.login) for m in server.messages] == [(True, "mailer")] * 3
    assert len(server.peers) == 1


def test_the_session_takes_over_tls_connections_on_uvloop(tmp_path: Path) -> None:
    """``clarion worker`` runs on uvloop: its TLS transports must hand over to the session like asyncio's."""
    server_tls, client_tls = self_signed_tls(tmp_path)

    async def send_over(mode: TlsMode) -> tuple[list[str], list[bytes]]:
        implicit = mode == "tls"
        server = SmtpServer(
            extensions=("PIPELINING", "CHUNKING"),
            tls_context=server_tls if implicit else None,
            starttls_context=None if implicit else server_tls,
        )
        async with server:
            relay = Relay(server.host, server.port, mode, tls_context=client_tls)
            async with SmtpPool([relay], helo_name="client.test") as pool:
                results = [await pool.send(SENDER, ["a@example.org"], mail(i)) for i in range(3)]
            return [r.outcome for r in results], [m.data for m in server.messages]

    async def both() -> list[tuple[list[str], list[bytes]]]:
        assert type(asyncio.get_running_loop()).__module__.startswith("uvloop")
        return [await send_over("tls"), await send_over("starttls")]

    for outcomes, received in uvloop.run(both()):
        assert outcomes == ["sent"] * 3
        assert received == [mail(i) for i in range(3)]


async def test_wrong_password_is_retry_and_never_shown(tmp_path: Path) -> None:
    server_tls, client_tls = self_signed_tls(tmp_path)
    async with SmtpServer(starttls_context=server_tls, users={"mailer": "s3cret-pw"}) as server:
        relay = Relay(server.host, server.port, "starttls", "mailer", "wrong-pw", tls_context=client_tls)
        async with SmtpPool([relay], helo_name="client.test") as pool:
            result = await pool.send(SENDER, ["a@example.org"], mail())

    assert result.outcome == "retry"
    assert result.response.startswith("535 ")
    assert "wrong-pw" not in result.response
    assert "wrong-pw" not in repr(relay)
    assert set(server.failed_logins) == {"mailer"}  # aiosmtplib tries PLAIN, then LOGIN
    assert server.messages == []


async def test_starttls_required_but_not_offered_is_retry(smtp_server: SmtpServer) -> None:
    relay = Relay(smtp_server.host, smtp_server.port, "starttls")
    async with SmtpPool([relay], helo_name="client.test") as pool:
        result = await pool.send(SENDER, ["a@example.org"], mail())

    assert result.outcome == "retry"
    assert "STARTTLS" in result.response
    assert smtp_server.messages == []
