"""The mail transactions of one SMTP connection, pipelined when the relay allows it.

aiosmtplib sets a connection up (connect, implicit TLS or STARTTLS, AUTH, EHLO) and is good at it; for the
transactions that follow it waits for each reply before the next command, parses every address with
``email.utils``, and runs the message through two regular expressions. That was most of a worker's CPU per
message (bench/delivery's profile: 29 % aiosmtplib, 13 % address parsing, four socket writes and four
wake-ups per message). So once the connection is greeted, its transport is handed to ``SmtpSession``,
a small ``asyncio.Protocol`` that speaks only what a sender needs — MAIL, RCPT, DATA/BDAT, RSET, NOOP, QUIT —
and batches what the relay lets it batch:

- PIPELINING (RFC 2920): MAIL, every RCPT and DATA in one write; their replies in one read; then the body.
- PIPELINING + CHUNKING (RFC 3030): MAIL, every RCPT and ``BDAT <size> LAST`` with the message itself in
  one write: one round trip per message, no dot stuffing.
- neither: one command at a time, as RFC 5321 has it.

Replies are paired with commands by count. A reply that arrives while nothing was asked (a relay's 421 on
an idle connection) makes the session unusable, so the pool replaces it instead of mis-pairing replies.
Addresses must already be checked (``smtp._invalid_envelope``): this module writes them as given.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

MAX_REPLY_BYTES = 64 * 1024  # a "reply" without an end this long is not SMTP: give up on the connection
_START_INPUT = 354
_CLOSING = 421


class SessionError(Exception):
    """The connection cannot carry on: lost, timed out, or the peer does not speak SMTP."""


class SessionTimeout(SessionError):
    """No (complete) reply within the session's timeout."""


class SessionStale(SessionError):
    """The connection failed before the relay answered MAIL (or it answered 421, closing): nothing of the
    transaction was accepted, so it may be tried at once over another connection."""


@dataclass(frozen=True, slots=True)
class Reply:
    """One SMTP reply; a multi-line reply's text has its lines joined by newlines."""

    code: int
    text: str

    @property
    def ok(self) -> bool:
        """A 2xx (or, after DATA, 3xx) reply: the command was accepted."""
        return 200 <= self.code < 400

    def __str__(self) -> str:
        """As the server wrote it: ``550 5.1.1 user unknown``."""
        return f"{self.code} {self.text}".rstrip()


@dataclass(frozen=True, slots=True)
class Transaction:
    """The replies of one mail transaction: MAIL, one per recipient, and the message's (None if not sent)."""

    mail: Reply
    recipients: tuple[Reply, ...]
    data: Reply | None

    @property
    def delivered(self) -> bool:
        """The relay took the message for at least one recipient."""
        return self.data is not None and 200 <= self.data.code < 300


class SmtpSession(asyncio.Protocol):
    """Mail transactions over an already greeted connection (see the module docstring)."""

    def __init__(self, extensions: Mapping[str, str], timeout: float) -> None:
        names = {name.lower() for name in extensions}
        self.pipelining = "pipelining" in names
        self.chunking = self.pipelining and "chunking" in names
        self.announces_size = "size" in names
        self._timeout = timeout
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.WriteTransport | None = None
        self._buffer = bytearray()
        self._lines: list[bytes] = []  # the lines so far of a multi-line reply
        self._replies: list[Reply] = []  # parsed, not yet taken
        self._expected = 0  # replies owed by commands already written
        self._answered = 0  # replies received, ever
        self._waiter: asyncio.Future[None] | None = None
        self._wanted = 0
        self._failure: SessionError | None = None

    @classmethod
    def take_over(
        cls, transport: asyncio.BaseTransport, extensions: Mapping[str, str], timeout: float
    ) -> SmtpSession:
        """Make a session the protocol of ``transport`` (greeted by aiosmtplib, nothing outstanding)."""
        session = cls(extensions, timeout)
        transport.set_protocol(session)
        session.connection_made(transport)
        return session

    @property
    def usable(self) -> bool:
        """Connected, in step with the relay, and nothing failed."""
        transport = self._transport
        return self._failure is None and transport is not None and not transport.is_closing()

    async def transact(self, mail_from: str, recipients: Sequence[str], message: bytes) -> Transaction:
        """One mail transaction for ``message`` (CRLF line ends); raises ``SessionError`` if the link fails.

        Refusals are not errors: they are in the returned replies. After any transaction that was not
        ``delivered`` the envelope may still be open: RSET before the next one.
        """
        answered = self._answered
        try:
            transaction = await self._transact(mail_from, recipients, message)
        except SessionTimeout:
            raise
        except SessionError as error:
            if self._answered == answered:
                raise SessionStale(str(error)) from error
            if self.pipelining and self._replies and self._replies[0].code == _CLOSING:
                raise SessionStale(str(self._replies[0])) from error  # 421 to MAIL, then the relay hung up
            raise
        if transaction.mail.code == _CLOSING:
            raise SessionStale(str(transaction.mail))
        return transaction

    async def _transact(self, mail_from: str, recipients: Sequence[str], message: bytes) -> Transaction:
        """``transact`` without the classification of failures."""
        if not message.endswith(b"\r\n"):
            message += b"\r\n"  # what DATA's final dot needs anyway; the same bytes whichever way they go
        size = f" SIZE={len(message)}" if self.announces_size else ""
        commands = [f"MAIL FROM:<{mail_from}>{size}", *(f"RCPT TO:<{recipient}>" for recipient in recipients)]
        if not self.pipelining:
            return await self._one_by_one([command.encode("ascii") for command in commands], message)
        envelope = ("\r\n".join(commands) + "\r\n").encode("ascii")
        if self.chunking:
            self._send(envelope + b"BDAT %d LAST\r\n" % len(message) + message, 2 + len(recipients))
            first, *rcpt_replies, data = await self._read(2 + len(recipients))
            return Transaction(first, tuple(rcpt_replies), data)
        self._send(envelope + b"DATA\r\n", 2 + len(recipients))
        first, *rcpt_replies, go_ahead = await self._read(2 + len(recipients))
        return Transaction(first, tuple(rcpt_replies), await self._body(go_ahead, message, rcpt_replies))

    async def _one_by_one(self, commands: list[bytes], message: bytes) -> Transaction:
        """MAIL, then each RCPT, then DATA, waiting for every reply (a relay without PIPELINING)."""
        first = await self.command(commands[0])
        if not first.ok:
            return Transaction(first, (), None)
        rcpt_replies = [await self.command(command) for command in commands[1:]]
        if not any(reply.ok for reply in rcpt_replies):
            return Transaction(first, tuple(rcpt_replies), None)
        go_ahead = await self.command(b"DATA")
        return Transaction(first, tuple(rcpt_replies), await self._body(go_ahead, message, rcpt_replies))

    async def _body(self, go_ahead: Reply, message: bytes, rcpt_replies: Sequence[Reply]) -> Reply | None:
        """After DATA: the message and its reply; DATA's own reply if it was refused."""
        if go_ahead.code != _START_INPUT:
            return go_ahead
        if not any(reply.ok for reply in rcpt_replies):
            # A relay that says 354 with no recipient: end the empty message (RFC 2920 §3.1), send nothing.
            self._send(b".\r\n", 1)
            await self._read(1)
            return None
        self._send(dot_stuffed(message), 1)
        (reply,) = await self._read(1)
        return reply

    async def command(self, line: bytes, *, within: float | None = None) -> Reply:
        """Send one command line (without CRLF) and return its reply (waiting ``within`` seconds at most)."""
        self._send(line + b"\r\n", 1)
        (reply,) = await self._read(1, within)
        return reply

    async def quit(self, *, within: float | None = None) -> None:
        """QUIT, wait for the goodbye (or an error), close."""
        try:
            await self.command(b"QUIT", within=within)
        finally:
            self.close()

    def close(self) -> None:
        """Close the connection at once."""
        if self._transport is not None:
            self._transport.close()

    # --- asyncio.Protocol ----------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport (``take_over`` calls this; the connection was made long before)."""
        self._transport = cast(asyncio.WriteTransport, transport)

    def data_received(self, data: bytes) -> None:
        """Parse every complete reply; wake the reader when it has what it waits for."""
        if self._failure is not None:
            return  # out of step with the relay: nothing it says can be paired with a command any more
        self._buffer += data
        while self._failure is None:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > MAX_REPLY_BYTES:
                    self._fail(SessionError("reply too long"))
                break
            line = bytes(self._buffer[: end + 1])
            del self._buffer[: end + 1]
            self._line(line)
        waiter = self._waiter
        if waiter is not None and not waiter.done() and len(self._replies) >= self._wanted:
            waiter.set_result(None)

    def eof_received(self) -> bool:
        """The relay hung up: fail whoever waits, and close."""
        self._fail(SessionError("connection closed by the server"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        """Fail whoever waits."""
        self._transport = None
        self._fail(SessionError(f"connection lost: {exc}" if exc else "connection lost"))

    # --- internals -----------------------------------------------------------------------------------------

    def _line(self, line: bytes) -> None:
        """One reply line: part of a multi-line reply (``250-``) or its last line (``250 ``)."""
        line = line.rstrip(b"\r\n")
        code, separator = line[:3], line[3:4]
        if not code.isdigit() or separator not in (b"", b" ", b"-"):  # a bare "250" is a whole reply too
            self._fail(SessionError(f"not an SMTP reply: {line[:80]!r}"))
            return
        self._lines.append(line[4:].strip())
        if separator == b"-":
            return
        text = b"\n".join(self._lines).decode("utf-8", "replace")
        self._lines = []
        if self._expected == 0:
            self._fail(SessionError(f"unexpected reply: {int(code)} {text}"))
            return
        self._expected -= 1
        self._answered += 1
        self._replies.append(Reply(int(code), text))

    def _send(self, data: bytes, replies: int) -> None:
        """Write ``data``, which asks for ``replies`` replies."""
        if not self.usable:
            raise self._failure or SessionError("connection lost")
        assert self._transport is not None
        self._expected += replies
        self._transport.write(data)

    async def _read(self, count: int, within: float | None = None) -> list[Reply]:
        """The next ``count`` replies, waiting at most ``within`` (default: the session's timeout) seconds."""
        if len(self._replies) < count:
            if self._failure is not None:
                raise self._failure
            self._wanted = count
            self._waiter = self._loop.create_future()
            seconds = within or self._timeout
            timer = self._loop.call_later(seconds, self._time_out, seconds)
            try:
                await self._waiter
            finally:
                timer.cancel()
                self._waiter = None
        replies, self._replies = self._replies[:count], self._replies[count:]
        return replies

    def _time_out(self, seconds: float) -> None:
        self._fail(SessionTimeout(f"timeout after {seconds:g} s"))
        self.close()

    def _fail(self, failure: SessionError) -> None:
        """Record the first failure and hand it to the reader, if one waits; ignore what comes after."""
        if self._failure is None:
            self._failure = failure
        self._buffer.clear()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(self._failure)


def dot_stuffed(message: bytes) -> bytes:
    """``message`` with a dot doubled at the start of every line (RFC 5321 §4.5.2), then the final dot."""
    stuffed = message.replace(b"\r\n.", b"\r\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed + b".\r\n"
