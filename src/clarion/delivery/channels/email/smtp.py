"""A pool of persistent SMTP connections for one IP pool: its relays and source addresses.

aiosmtplib opens each connection (TLS, AUTH, EHLO); ``session.SmtpSession`` then carries its mail
transactions, pipelined when the relay offers it. Every message still waits for at least one round trip,
so throughput comes from 8-16 connections used in parallel. The pool opens them lazily,
keeps idle ones on a LIFO stack (the warmest first), lends each to one ``send`` at a time and queues the
other sends for a free one. Connections are spread over every (relay, bind address) route, fewest
connections first, so a pool of 8 over 2 addresses holds 4 + 4.

Failure handling:
- a connection that died while idle is noticed when it is taken (closed transport, a reply nobody asked
  for such as a relay's 421, or a NOOP after ``noop_after_idle`` seconds) and replaced; one that turns out
  dead before answering MAIL FROM — nothing was accepted yet — is replaced once within the same send;
- a connection that failed mid-transaction (timeout, reset) is dropped and the send reported ``retry``;
- after any refused transaction (MAIL, every RCPT, or DATA refused) the connection gets RSET before it goes
  back on the stack, so the next message starts from a clean envelope;
- a route that cannot be connected is tried last for ``ROUTE_PAUSE`` seconds (the others take the load).

Problems setting up a connection (refused, TLS, AUTH 535) are ``retry``: they are the relay's or our
configuration's fault, not the message's, and the worker's retry limit bounds them. Only the server's
answers to the mail transaction itself can make a message ``failed``.

Refusals of the recipient (at RCPT, or at DATA for a one-recipient message) are classified by their RFC 3463
enhanced status code (``suppressions.bounces.classify``) and the ``Bounce`` travels on the ``SendResult``:
hard (5.1.1 …) is final and suppresses the address, soft (every 4.x.x, and 5.2.2 mailbox full: retried
although its basic code is permanent) is retried and counted, policy (5.7.x …) is final and reported only.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import product
from types import TracebackType
from typing import Literal

import aiosmtplib

from clarion.delivery.channels.base import SendResult, clip, redact
from clarion.delivery.channels.email.session import (
    Reply,
    SessionError,
    SessionStale,
    SessionTimeout,
    SmtpSession,
    Transaction,
)
from clarion.suppressions.bounces import Bounce, classify, enhanced_status

TlsMode = Literal["none", "starttls", "tls"]

NOOP_TIMEOUT = 5.0  # an idle connection that cannot answer NOOP this fast is replaced, not waited for
ROUTE_PAUSE = 5.0  # seconds a route that failed to connect is tried after the others
# Characters that would end or extend an SMTP command line; aiosmtplib refuses them too, but checking
# first fails the message without taking (and dirtying) a connection.
_UNSAFE_ADDRESS = re.compile(r'[\s<>"\x00-\x1f\x7f]')
_CLOSED = SendResult("retry", "SMTP pool closed")


@dataclass(frozen=True, slots=True)
class Relay:
    """An SMTP relay (smart host) and how to reach it; the password never appears in ``repr``.

    ``tls_context`` replaces the default (system CAs, hostname checked) — for a private CA, say.
    """

    host: str
    port: int
    tls: TlsMode = "none"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.tls not in ("none", "starttls", "tls"):
            raise ValueError(f"tls must be 'none', 'starttls' or 'tls', not {self.tls!r}")
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} is out of range")

    @property
    def name(self) -> str:
        """``host:port``, for messages."""
        return f"{self.host}:{self.port}"


class _Route:
    """One (relay, source address) pair and how many connections it has."""

    __slots__ = ("live", "paused_until", "relay", "source")

    def __init__(self, relay: Relay, source: str | None) -> None:
        self.relay = relay
        self.source = source
        self.live = 0
        self.paused_until = 0.0


class _Connection:
    """A connected session, its route, and when it was last given back."""

    __slots__ = ("idle_since", "route", "session")

    def __init__(self, route: _Route, session: SmtpSession) -> None:
        self.route = route
        self.session = session
        self.idle_since = time.monotonic()


class SmtpPool:
    """Persistent SMTP connections shared by concurrent ``send`` calls, at most ``max_connections``."""

    def __init__(
        self,
        relays: Sequence[Relay],
        *,
        bind_addresses: Sequence[str] = (),
        max_connections: int = 8,
        timeout: float = 30.0,
        helo_name: str | None = None,
        noop_after_idle: float = 10.0,
    ) -> None:
        if not relays:
            raise ValueError("an SMTP pool needs at least one relay")
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self._routes = [_Route(relay, source) for relay, source in product(relays, bind_addresses or (None,))]
        self._rotation = 0
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: list[_Connection] = []
        self._timeout = timeout
        self._helo_name = helo_name
        self._noop_after_idle = noop_after_idle
        self._closed = False

    @property
    def connection_count(self) -> int:
        """Connections open or being opened, idle and busy."""
        return sum(route.live for route in self._routes)

    async def send(self, mail_from: str, recipients: Sequence[str], message: bytes) -> SendResult:
        """Send ``message`` (CRLF line ends) to ``recipients``; waits for a free connection if all are busy.

        Some recipients refused and others accepted is ``sent``, with the refusals in ``response``.
        """
        if isinstance(recipients, str):  # a str is a Sequence[str] too: one letter per recipient
            raise TypeError("recipients must be a sequence of addresses, not one string")
        invalid = _invalid_envelope(mail_from, recipients)
        if invalid is not None:
            return SendResult("failed", invalid)
        async with self._slots:
            if self._closed:
                return _CLOSED
            return await self._send_holding_slot(mail_from, recipients, message)

    async def close(self) -> None:
        """QUIT the idle connections; busy ones close when their send ends, queued sends get ``retry``."""
        self._closed = True
        idle, self._idle = self._idle, []
        await asyncio.gather(*(self._quit(connection) for connection in idle))

    async def __aenter__(self) -> SmtpPool:
        """``async with SmtpPool(...) as pool`` closes the pool on exit."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the pool."""
        await self.close()

    # --- one send ------------------------------------------------------------------------------------------

    async def _send_holding_slot(
        self, mail_from: str, recipients: Sequence[str], message: bytes
    ) -> SendResult:
        """Send over an idle connection, or over a new one if there is none or the idle one was dead."""
        connection = await self._take_idle()
        if connection is not None:
            try:
                return await self._transact(connection, mail_from, recipients, message)
            except SessionStale:
                pass  # it died while idle; nothing was accepted, so a fresh connection may try at once
        opened = await self._open()
        if isinstance(opened, SendResult):
            return opened
        try:
            return await self._transact(opened, mail_from, recipients, message)
        except SessionStale as exc:
            return SendResult("retry", clip(str(exc)))

    async def _transact(
        self, connection: _Connection, mail_from: str, recipients: Sequence[str], message: bytes
    ) -> SendResult:
        """One mail transaction; then the connection goes back on the stack (reset first) or is dropped."""
        try:
            result, clean = await _deliver(connection.session, mail_from, recipients, message)
            if not clean:
                clean = await _reset(connection.session)
        except BaseException:  # stale, or cancelled mid-conversation: the connection's state is unknown
            self._discard(connection)
            raise
        if clean:
            self._give_back(connection)
        else:
            self._discard(connection)
        return result

    # --- connections ---------------------------------------------------------------------------------------

    async def _take_idle(self) -> _Connection | None:
        """The most recently used idle connection that is still alive, dropping dead ones on the way."""
        while self._idle:
            connection = self._idle.pop()
            if await self._alive(connection):
                return connection
            self._discard(connection)
        return None

    async def _alive(self, connection: _Connection) -> bool:
        """Connected, and if it sat idle a while (a relay may have dropped it silently), answers NOOP."""
        session = connection.session
        if not session.usable:
            return False
        if time.monotonic() - connection.idle_since < self._noop_after_idle:
            return True
        try:
            return (await session.command(b"NOOP", within=min(self._timeout, NOOP_TIMEOUT))).ok
        except SessionError:
            return False

    async def _open(self) -> _Connection | SendResult:
        """A new connection over the least-used route, trying the others in turn if it cannot connect."""
        failure: SendResult | None = None
        for route in self._route_order():
            route.live += 1  # counted while connecting, so that concurrent opens spread out too
            try:
                session = await self._connect(route)
            except (aiosmtplib.SMTPException, OSError) as exc:
                route.live -= 1
                route.paused_until = time.monotonic() + ROUTE_PAUSE
                failure = SendResult("retry", self._connect_failure(route.relay, exc))
                continue
            except BaseException:
                route.live -= 1
                raise
            return _Connection(route, session)
        assert failure is not None  # there is always at least one route
        return failure

    def _route_order(self) -> list[_Route]:
        """Routes to try: working before paused, fewest connections first, ties taken in rotation."""
        start = self._rotation
        self._rotation = (start + 1) % len(self._routes)
        rotated = self._routes[start:] + self._routes[:start]
        now = time.monotonic()
        return sorted(rotated, key=lambda route: (route.paused_until > now, route.live))

    async def _connect(self, route: _Route) -> SmtpSession:
        """Connect, TLS, AUTH and EHLO on ``route`` with aiosmtplib, then hand the connection to a session.

        Raises on any failure, leaving nothing open.
        """
        relay = route.relay
        smtp = aiosmtplib.SMTP(
            hostname=relay.host,
            port=relay.port,
            username=relay.username,
            password=relay.password,
            local_hostname=await self._local_hostname(),
            source_address=None if route.source is None else (route.source, 0),
            timeout=self._timeout,
            use_tls=relay.tls == "tls",
            # False, not None, for "none": aiosmtplib's None means "upgrade if the server offers it".
            start_tls=relay.tls == "starttls",
            tls_context=relay.tls_context,
        )
        await smtp.connect()
        try:
            # EHLO now, so that the first MAIL FROM already knows whether the relay takes SIZE.
            if smtp.is_ehlo_or_helo_needed:
                await _greet(smtp)
        except BaseException:
            smtp.close()
            raise
        assert smtp.transport is not None  # connected and greeted
        return SmtpSession.take_over(smtp.transport, smtp.esmtp_extensions, self._timeout)

    async def _local_hostname(self) -> str:
        """The EHLO name: ``helo_name``, or this host's FQDN looked up once (off the loop: it may do DNS)."""
        if self._helo_name is None:
            self._helo_name = await asyncio.to_thread(socket.getfqdn)
        return self._helo_name

    def _connect_failure(self, relay: Relay, exc: BaseException) -> str:
        """Why a connection could not be set up, for the ledger (the relay's password masked)."""
        if isinstance(exc, aiosmtplib.SMTPTimeoutError):
            text = f"timeout after {self._timeout:g} s connecting to {relay.name}"
        elif isinstance(exc, aiosmtplib.SMTPResponseException):
            text = f"{_reply_text(exc.code, exc.message)} (from {relay.name} while connecting)"
        else:
            text = f"cannot connect to {relay.name}: {exc}"
        return clip(redact(text, (relay.password,)))

    def _give_back(self, connection: _Connection) -> None:
        """Put a clean connection on top of the idle stack (or close it if the pool is closed)."""
        if self._closed or not connection.session.usable:
            self._discard(connection)
            return
        connection.idle_since = time.monotonic()
        self._idle.append(connection)

    def _discard(self, connection: _Connection) -> None:
        """Close a connection without a goodbye (it is broken or its state is unknown)."""
        connection.session.close()
        connection.route.live -= 1

    async def _quit(self, connection: _Connection) -> None:
        """Say QUIT politely, then close whatever the answer."""
        try:
            await connection.session.quit(within=NOOP_TIMEOUT)
        except SessionError:
            pass  # the connection is going away either way
        finally:
            self._discard(connection)


# --- the SMTP conversation ---------------------------------------------------------------------------------


async def _greet(smtp: aiosmtplib.SMTP) -> None:
    """EHLO, falling back to HELO for a relay that does not speak ESMTP."""
    try:
        await smtp.ehlo()
    except aiosmtplib.SMTPHeloError:
        await smtp.helo()


async def _deliver(
    session: SmtpSession, mail_from: str, recipients: Sequence[str], message: bytes
) -> tuple[SendResult, bool]:
    """One transaction; the result, and whether the envelope is surely closed (no RSET needed).

    ``SessionStale`` (nothing was accepted) propagates: the caller may try another connection.
    """
    try:
        transaction = await session.transact(mail_from, recipients, message)
    except SessionTimeout as exc:
        return SendResult("retry", str(exc)), False
    except SessionStale:
        raise
    except SessionError as exc:
        return SendResult("retry", clip(str(exc))), False
    return _result(transaction, recipients), transaction.delivered


def _result(transaction: Transaction, recipients: Sequence[str]) -> SendResult:
    """What the relay's replies mean for the message."""
    if not transaction.mail.ok:
        return _refused(transaction.mail, None)  # the sender was refused, not the recipient
    refused = {
        address: reply
        for address, reply in zip(recipients, transaction.recipients, strict=True)
        if not reply.ok
    }
    if len(refused) == len(recipients):
        return _all_refused(refused)
    data = transaction.data
    assert data is not None  # some recipient was accepted, so the message went (or DATA was refused)
    if not transaction.delivered:
        return _refused(data, _data_bounce(data) if len(recipients) == 1 else None)
    return _sent(data, refused)


async def _reset(session: SmtpSession) -> bool:
    """RSET after a refused transaction; ``False`` if the connection cannot be trusted any more."""
    if not session.usable:
        return False
    try:
        return (await session.command(b"RSET", within=NOOP_TIMEOUT)).ok
    except SessionError:
        return False


# --- results -----------------------------------------------------------------------------------------------


def _outcome(code: int) -> Literal["retry", "failed"]:
    """5xx is permanent; 4xx and anything unexpected (a garbled reply is aiosmtplib's code -1) is not."""
    return "failed" if 500 <= code < 600 else "retry"


def _bounce_outcome(code: int, bounce: Bounce | None) -> Literal["retry", "failed"]:
    """A soft bounce is worth another attempt even when its basic code is 5xx (552 5.2.2 mailbox full)."""
    if bounce is not None and bounce.type == "soft":
        return "retry"
    return _outcome(code)


def _recipient_bounce(reply: Reply) -> Bounce | None:
    """A RCPT refusal classified (RFC 3463). A bare 421 is the server closing the session, not an answer
    about the mailbox: retried, not counted as a bounce."""
    if reply.code == 421 and not enhanced_status(reply.text):
        return None
    return classify(reply.code, reply.text)


def _data_bounce(reply: Reply) -> Bounce | None:
    """A refusal at DATA classified. Only an enhanced code names the mailbox there: without one a 5xx is
    the content or the sender refused (policy), and 552 (storage) and 4xx are soft."""
    if enhanced_status(reply.text):
        return classify(reply.code, reply.text)
    if reply.code == 421:
        return None
    if 400 <= reply.code < 500 or reply.code == 552:
        return Bounce("soft", "")
    return Bounce("policy", "") if 500 <= reply.code < 600 else None


def _reply_text(code: int, message: str) -> str:
    """An SMTP reply as the server wrote it: ``550 5.1.1 user unknown``."""
    return clip(f"{code} {message}")


def _refused(reply: Reply, bounce: Bounce | None) -> SendResult:
    """The sender, the recipient or the message refused: the reply (and its bounce type) decides between
    failed and retry."""
    return SendResult(_bounce_outcome(reply.code, bounce), clip(str(reply)), bounce=bounce)


def _sent(reply: Reply, refused: dict[str, Reply]) -> SendResult:
    """Accepted: the message's reply, followed by any recipients that were refused."""
    text = clip(str(reply))
    if refused:
        text = clip(f"{text}; refused: {_refusals(refused)}")
    return SendResult("sent", text)


def _all_refused(refused: dict[str, Reply]) -> SendResult:
    """Every recipient refused: failed if every refusal was permanent, otherwise worth a retry. One
    recipient (every message the email channel sends): its refusal's bounce type travels with the result."""
    bounces = {address: _recipient_bounce(reply) for address, reply in refused.items()}
    permanent = all(
        _bounce_outcome(reply.code, bounces[address]) == "failed" for address, reply in refused.items()
    )
    outcome: Literal["retry", "failed"] = "failed" if permanent else "retry"
    if len(refused) == 1:
        ((address, reply),) = refused.items()
        return SendResult(outcome, clip(str(reply)), bounce=bounces[address])
    return SendResult(outcome, clip(_refusals(refused)))


def _refusals(refused: dict[str, Reply]) -> str:
    """``a@x: 550 5.1.1 user unknown; b@y: 451 4.7.1 try later``."""
    return "; ".join(f"{address}: {reply}" for address, reply in refused.items())


def _invalid_envelope(mail_from: str, recipients: Sequence[str]) -> str | None:
    """Why the envelope cannot be sent at all (no recipient, unsafe or non-ASCII address), or ``None``."""
    if not recipients:
        return "no recipients"
    for address in (mail_from, *recipients):
        if _UNSAFE_ADDRESS.search(address) or not address.isascii():
            return clip(f"invalid address {address!r} (SMTPUTF8 and quoting are not supported)")
    for recipient in recipients:
        if not recipient:
            return "invalid address '' (only the sender may be empty)"
    return None
