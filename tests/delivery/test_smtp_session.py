"""SmtpSession against a relay that answers exactly as scripted, down to the bytes of its replies.

aiosmtpd always answers sensibly; these are the replies a relay in the wild may also give: multi-line and
bare-code replies, a 354 after every recipient was refused, a 421 and a hang-up, garbage.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from clarion.delivery.channels.base import SendResult
from clarion.delivery.channels.email.smtp import Relay, SmtpPool
from clarion.suppressions.bounces import Bounce
from tests.delivery.servers import HOST

MESSAGE = b"Subject: hi\r\n\r\nHello.\r\n"
Script = Callable[[bytes], bytes | None]
"""A command line (without CRLF) → the raw reply bytes, or None to hang up without a word. After a 421
reply the relay hangs up too, as RFC 5321 §3.8 has it."""


class RawRelay:
    """A TCP server speaking SMTP from a script; records every line and message body it received."""

    def __init__(self, script: Script, extensions: bytes = b"PIPELINING") -> None:
        self._script = script
        self._extensions = extensions
        self.lines: list[bytes] = []
        self.bodies: list[bytes] = []
        self.connections = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.write(b"220 raw.test ESMTP\r\n")
        try:
            while line := (await reader.readline()).rstrip(b"\r\n"):
                self.lines.append(line)
                if line.startswith(b"EHLO"):
                    reply: bytes | None = b"250-raw.test\r\n250 " + self._extensions + b"\r\n"
                else:
                    reply = self._script(line)
                if reply is None:
                    break
                writer.write(reply)
                if reply.startswith(b"421"):
                    break
                if line == b"DATA" and reply.startswith(b"354"):
                    self.bodies.append(await _body(reader))
                    writer.write(self._script(b".") or b"")
        finally:
            writer.close()


async def _body(reader: asyncio.StreamReader) -> bytes:
    """The DATA body up to (not including) the line with the final dot."""
    lines = []
    while (line := await reader.readline()) not in (b".\r\n", b""):
        lines.append(line)
    return b"".join(lines)


@asynccontextmanager
async def relay_pool(relay: RawRelay) -> AsyncIterator[SmtpPool]:
    """``relay`` listening on an ephemeral port and a one-connection pool pointing at it."""
    server = await asyncio.start_server(relay._serve, HOST, 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with SmtpPool([Relay(HOST, port, "none")], max_connections=1, timeout=2.0) as pool:
            yield pool
    finally:
        server.close()


def answers(**by_verb: bytes) -> Script:
    """A script answering by command verb (``MAIL=…``, ``RCPT=…``, ``DATA=…``, ``END=…`` after the dot)."""

    def answer(line: bytes) -> bytes:
        verb = "END" if line == b"." else line[:4].decode()
        return by_verb.get(verb, b"354 go ahead\r\n" if verb == "DATA" else b"250 ok\r\n")

    return answer


async def test_multi_line_and_bare_code_replies_are_read_whole() -> None:
    relay = RawRelay(answers(MAIL=b"250\r\n", END=b"250-2.0.0 Ok\r\n250-queued\r\n250 as Q7\r\n"))
    async with relay_pool(relay) as pool:
        first = await pool.send("shop@example.com", ["a@example.org"], MESSAGE)
        second = await pool.send("shop@example.com", ["b@example.org"], MESSAGE)

    assert first == second == SendResult("sent", "250 2.0.0 Ok queued as Q7")  # clip() puts lines on one
    assert relay.bodies == [MESSAGE, MESSAGE]
    assert relay.connections == 1  # every reply was paired with its command: the connection stayed in step


async def test_354_after_every_recipient_was_refused_sends_no_message() -> None:
    relay = RawRelay(answers(RCPT=b"550 5.1.1 user unknown\r\n", END=b"250 ok: empty message\r\n"))
    async with relay_pool(relay) as pool:
        result = await pool.send("shop@example.com", ["gone@example.org"], MESSAGE)
        after = await pool.send("shop@example.com", ["gone@example.org"], MESSAGE)

    assert result == after == SendResult("failed", "550 5.1.1 user unknown", bounce=Bounce("hard", "5.1.1"))
    assert relay.bodies == [b"", b""]  # only the final dot, as RFC 2920 asks
    assert relay.lines.count(b"RSET") == 2
    assert relay.connections == 1


async def test_421_then_hang_up_at_mail_is_tried_again_on_a_new_connection() -> None:
    closing = [False]

    def script(line: bytes) -> bytes | None:
        if line.startswith(b"MAIL") and closing[0]:
            closing[0] = False
            return b"421 4.3.2 shutting down\r\n"
        return answers()(line)

    relay = RawRelay(script)
    async with relay_pool(relay) as pool:
        await pool.send("shop@example.com", ["a@example.org"], MESSAGE)  # opens the connection
        closing[0] = True
        result = await pool.send("shop@example.com", ["b@example.org"], MESSAGE)

    assert result == SendResult("sent", "250 ok")
    assert relay.connections == 2
    assert relay.bodies == [MESSAGE, MESSAGE]


@pytest.mark.parametrize("garbage", [b"hello there\r\n", b"25O ok\r\n", b"2" * 70_000])
async def test_a_reply_that_is_not_smtp_drops_the_connection(garbage: bytes) -> None:
    relay = RawRelay(answers(MAIL=garbage))
    async with relay_pool(relay) as pool:
        result = await pool.send("shop@example.com", ["a@example.org"], MESSAGE)
        assert pool.connection_count == 0

    assert result.outcome == "retry"
    assert result.response.startswith(("not an SMTP reply", "reply too long"))
    assert relay.bodies == []
