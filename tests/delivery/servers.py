"""Real local servers for delivery tests, all on the test's own event loop and an ephemeral port.

- ``SmtpServer``: aiosmtpd with scripted answers (per recipient at RCPT, per message at DATA, a DATA that is
  never answered), optional implicit TLS / STARTTLS / AUTH, optional PIPELINING and CHUNKING (BDAT, added
  here: aiosmtpd has none); it records every message, the peer address of every connection, the count of
  NOOP/RSET/QUIT commands and, for every MAIL, what the client had sent after it before getting its reply
  (a pipelining client has sent its RCPTs already; any other must have waited).
- ``HttpServer``: a small HTTP/1.1 server (h11 over asyncio streams) that records every request.
- ``TwilioServer`` and ``FcmServer``: the two providers' send endpoints on top of it, answering (and failing)
  in the providers' own formats.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import json
import logging
import re
import secrets
import socket
import ssl
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import parse_qs

import h11
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOST = "127.0.0.1"


# --- TLS ---------------------------------------------------------------------------------------------------


def self_signed_tls(folder: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1, and a client one trusting it.

    The certificate names ``localhost`` and ``127.0.0.1``; the client context checks the hostname.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    return server, client


# --- SMTP --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMail:
    """One message as the SMTP server accepted it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    peer: tuple[str, int]
    tls: bool
    login: str | None


class SmtpServer:
    """aiosmtpd on 127.0.0.1 answering as scripted; ``stop()``/``start()`` restart it on the same port.

    Scripting (change any time, it applies to the next command):
    - ``rcpt_answers[address]``: the answer to ``RCPT TO:<address>`` (default ``250 OK``);
    - ``mail_answer``: the answer to every MAIL FROM (default ``250 OK``);
    - ``data_answer``: the answer after every message (default ``250 2.0.0 Ok: queued as <n>``);
    - ``hang_data``: never answer after the message data (the client has to time out).
    """

    def __init__(
        self,
        *,
        host: str = HOST,
        tls_context: ssl.SSLContext | None = None,
        starttls_context: ssl.SSLContext | None = None,
        users: Mapping[str, str] | None = None,
        extensions: tuple[str, ...] = (),
    ) -> None:
        unknown = set(extensions) - {"PIPELINING", "CHUNKING"}
        if unknown:
            raise ValueError(f"unsupported extensions {sorted(unknown)}")
        self.extensions = extensions
        self.host = host
        self._port = 0
        self._tls_context = tls_context
        self._starttls_context = starttls_context
        self._users = dict(users or {})
        self.rcpt_answers: dict[str, str] = {}
        self.mail_answer: str | None = None
        self.data_answer: str | None = None
        self.hang_data = False
        self.messages: list[ReceivedMail] = []
        self.peers: list[tuple[str, int]] = []
        self.commands: Counter[str] = Counter()
        self.failed_logins: list[str] = []
        self.sent_ahead_of_mail: list[bytes] = []
        self._server: asyncio.AbstractServer | None = None
        self._sessions: set[_SmtpSession] = set()
        self._message_arrived = asyncio.Event()
        self.hanging = asyncio.Event()  # set once a DATA is being held unanswered

    @property
    def port(self) -> int:
        """The bound port (kept across restarts)."""
        return self._port

    async def start(self) -> None:
        """Listen (again) on ``host`` and the port of the first start."""
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command at INFO
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _SmtpSession(self), self.host, self._port, ssl=self._tls_context
        )
        self._port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop listening and drop every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        await self.drop_connections()
        await server.wait_closed()

    async def drop_connections(self) -> None:
        """Abort every open connection (the listener stays up) and wait for the sessions to end."""
        sessions = list(self._sessions)
        for session in sessions:
            session.abort()
        await asyncio.gather(*(session.finished() for session in sessions), return_exceptions=True)
        self._sessions.difference_update(sessions)  # a session whose TLS handshake failed never unregisters

    async def announce(self, reply: str) -> None:
        """Send ``reply`` on every open connection unasked (as a relay timing out an idle session does)."""
        await asyncio.gather(*(session.push(reply) for session in self._sessions))

    async def wait_for_messages(self, count: int, timeout: float = 5.0) -> None:
        """Return once ``count`` messages have arrived; raise ``TimeoutError`` after ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            while len(self.messages) < count:
                self._message_arrived.clear()
                await self._message_arrived.wait()

    async def __aenter__(self) -> Self:
        """Start; stop on exit."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop."""
        await self.stop()

    # aiosmtpd handler hooks (the server object is its own handler).

    async def handle_MAIL(
        self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        """Accept the sender unless ``mail_answer`` says otherwise."""
        self.sent_ahead_of_mail.append(bytes(server._reader._buffer))  # type: ignore[attr-defined]
        if self.mail_answer is not None and not self.mail_answer.startswith("2"):
            return self.mail_answer
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        """Answer from ``rcpt_answers``; a 2xx answer adds the recipient."""
        answer = self.rcpt_answers.get(address, "250 OK")
        if answer.startswith("2"):
            envelope.rcpt_tos.append(address)
        return answer

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        """Record the message and answer ``data_answer`` (or hang)."""
        if self.hang_data:
            self.hanging.set()
            await asyncio.Event().wait()  # until the connection is dropped, which cancels this session
        answer = self.data_answer or f"250 2.0.0 Ok: queued as Q{len(self.messages) + 1}"
        if answer.startswith("2"):
            transport = cast(asyncio.BaseTransport, server.transport)
            self.messages.append(
                ReceivedMail(
                    mail_from=str(envelope.mail_from),
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    data=bytes(envelope.original_content),
                    peer=(session.peer[0], session.peer[1]),
                    tls=session.ssl is not None or transport.get_extra_info("ssl_object") is not None,
                    login=session.auth_data.login.decode() if session.authenticated else None,
                )
            )
            self._message_arrived.set()
        return answer

    async def handle_EHLO(
        self, server: SMTP, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        """Offer the configured extensions (before the last line, ``250 HELP``)."""
        session.host_name = hostname
        return [*responses[:-1], *(f"250-{name}" for name in self.extensions), responses[-1]]

    async def handle_NOOP(self, server: SMTP, session: Any, envelope: Any, arg: str) -> str:
        """Count, answer 250."""
        self.commands["NOOP"] += 1
        return "250 OK"

    async def handle_RSET(self, server: SMTP, session: Any, envelope: Any) -> str:
        """Count, answer 250."""
        self.commands["RSET"] += 1
        return "250 OK"

    async def handle_QUIT(self, server: SMTP, session: Any, envelope: Any) -> str:
        """Count, answer 221."""
        self.commands["QUIT"] += 1
        return "221 Bye"

    def _authenticate(
        self, server: SMTP, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        """Check a LOGIN/PLAIN user against ``users``."""
        if isinstance(auth_data, LoginPassword):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            if self._users.get(login) == password:
                return AuthResult(success=True, auth_data=auth_data)
            self.failed_logins.append(login)
        return AuthResult(success=False, handled=False)

    def _protocol_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of each session's aiosmtpd ``SMTP``."""
        kwargs: dict[str, Any] = {
            "hostname": "smtp.test",  # or aiosmtpd does a getfqdn() DNS lookup per connection
            "decode_data": False,
        }
        if self._starttls_context is not None:
            kwargs.update(tls_context=self._starttls_context, require_starttls=True)
        if self._users:
            kwargs.update(authenticator=self._authenticate, auth_required=True)
        return kwargs


class _SmtpSession(SMTP):
    """One connection: records its peer and registers itself so that it can be dropped; speaks BDAT."""

    def __init__(self, owner: SmtpServer) -> None:
        super().__init__(owner, **owner._protocol_kwargs())
        self._owner = owner
        self._counted = False
        self._chunks: list[bytes] = []

    async def smtp_BDAT(self, arg: str) -> None:
        """RFC 3030: ``BDAT <size> [LAST]`` then exactly ``size`` bytes; LAST hands the message over."""
        size, _, last = arg.partition(" ")
        if "CHUNKING" not in self._owner.extensions or not size.isdigit() or last.upper() not in ("", "LAST"):
            await self.push("501 Syntax: BDAT size [LAST]")
            return
        chunk = await self._reader.readexactly(int(size))  # read even when refusing: it is on the wire
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            self._chunks = []
            await self.push("554 5.5.1 No valid recipients")
            return
        self._chunks.append(chunk)
        if not last:
            await self.push(f"250 2.0.0 {len(chunk)} octets received")
            return
        self.envelope.original_content = self.envelope.content = b"".join(self._chunks)
        self._chunks = []
        status = await self._owner.handle_DATA(self, self.session, self.envelope)
        self._set_post_data_state()
        await self.push(status)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Record the peer once (STARTTLS calls this a second time for the TLS transport)."""
        super().connection_made(transport)
        if not self._counted:
            self._counted = True
            self._owner.peers.append(tuple(transport.get_extra_info("peername")[:2]))
            self._owner._sessions.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        """Unregister."""
        self._owner._sessions.discard(self)
        super().connection_lost(error)

    def abort(self) -> None:
        """Close the connection at once and end the session's task.

        After a failed STARTTLS handshake the TLS transport never reports the loss to the session, so the
        plain transport under it is aborted too and the task is cancelled rather than left waiting.
        """
        for transport in (self.transport, self._original_transport):
            if transport is not None:
                cast(asyncio.WriteTransport, transport).abort()
        self.finished().cancel()

    def finished(self) -> asyncio.Future[Any]:
        """A future done when the session's task has ended (aiosmtpd keeps it in ``_handler_coroutine``)."""
        task = getattr(self, "_handler_coroutine", None)
        if isinstance(task, asyncio.Future):
            return task
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class SilentServer:
    """Accepts connections and never says a word (no SMTP greeting, no HTTP answer)."""

    def __init__(self, host: str = HOST) -> None:
        self.host = host
        self._server: asyncio.Server | None = None
        self._held: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    @property
    def port(self) -> int:
        """The bound port."""
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def __aenter__(self) -> Self:
        """Listen on an ephemeral port."""
        self._server = await asyncio.start_server(self._hold, self.host, 0)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop listening, close every held connection and wait for their handlers to end."""
        if self._server is not None:
            self._server.close()
        for writer in self._held.values():
            writer.close()
        await asyncio.gather(*self._held, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read (and ignore) until the client gives up or the server stops."""
        task = asyncio.current_task()
        assert task is not None
        self._held[task] = writer
        try:
            await reader.read()
        finally:
            writer.close()
            del self._held[task]


def free_port(host: str = HOST) -> int:
    """A port nothing listens on (bound, read, closed): connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


# --- HTTP --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpRequest:
    """One request as received: header names lower-cased."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        """The body parsed as ``application/x-www-form-urlencoded``."""
        return parse_qs(self.body.decode(), keep_blank_values=True, strict_parsing=True)


@dataclass(frozen=True)
class HttpResponse:
    """What the server answers."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def json(cls, status: int, document: Any) -> HttpResponse:
        """A JSON answer."""
        return cls(status, json.dumps(document).encode(), (("content-type", "application/json"),))


Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]


class HttpServer:
    """A small HTTP/1.1 server on 127.0.0.1 (keep-alive, Content-Length bodies) answering with ``handler``.

    ``hang = True`` makes it read requests and never answer. Handler errors become 500s and are kept in
    ``errors`` so that a test can assert there were none.
    """

    def __init__(self, handler: Handler, *, host: str = HOST) -> None:
        self._handler = handler
        self.host = host
        self.hang = False
        self.requests: list[HttpRequest] = []
        self.errors: list[BaseException] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        if self._server is None:
            raise RuntimeError("not started")
        return f"http://{self.host}:{self._server.sockets[0].getsockname()[1]}"

    async def start(self) -> None:
        """Listen on an ephemeral port."""
        self._server = await asyncio.start_server(self._serve, self.host, 0)

    async def stop(self) -> None:
        """Stop listening and end every connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await server.wait_closed()

    async def __aenter__(self) -> Self:
        """Start; stop on exit."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop."""
        await self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer requests on one connection until either side closes it."""
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        connection = h11.Connection(h11.SERVER)
        try:
            while (request := await _read_request(connection, reader)) is not None:
                self.requests.append(request)
                if self.hang:
                    await asyncio.Event().wait()  # until stop() cancels this task
                writer.write(_encode_response(connection, await self._answer(request)))
                await writer.drain()
                if connection.our_state is h11.MUST_CLOSE:
                    break
                connection.start_next_cycle()
        except (ConnectionError, h11.ProtocolError):
            pass  # the client went away or spoke garbage: nothing to answer
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _answer(self, request: HttpRequest) -> HttpResponse:
        """The handler's answer; a 500 if it raised."""
        try:
            return await self._handler(request)
        except Exception as exc:
            self.errors.append(exc)
            return HttpResponse(500, b"handler error")


async def _read_request(connection: h11.Connection, reader: asyncio.StreamReader) -> HttpRequest | None:
    """The next complete request, or ``None`` once the client has closed the connection."""
    head: h11.Request | None = None
    body = bytearray()
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            connection.receive_data(await reader.read(65536))
        elif isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage) and head is not None:
            headers = {name.decode().lower(): value.decode() for name, value in head.headers}
            return HttpRequest(head.method.decode(), head.target.decode(), headers, bytes(body))
        elif isinstance(event, h11.ConnectionClosed):
            return None


def _encode_response(connection: h11.Connection, response: HttpResponse) -> bytes:
    """The wire bytes of ``response``."""
    headers = [("content-length", str(len(response.body))), *response.headers]
    parts = [
        connection.send(h11.Response(status_code=response.status, headers=headers)),
        connection.send(h11.Data(data=response.body)) if response.body else b"",
        connection.send(h11.EndOfMessage()),
    ]
    return b"".join(part or b"" for part in parts)


# --- providers ---------------------------------------------------------------------------------------------


def twilio_error(status: int, code: int, message: str) -> HttpResponse:
    """An error in Twilio's format."""
    return HttpResponse.json(
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
    )


class TwilioServer:
    """Twilio's Create Message endpoint, answering and failing in Twilio's format.

    ``POST /2010-04-01/Accounts/{sid}/Messages.json`` with basic auth and form fields To/From/Body gets 201
    with the message resource, or Twilio's error document. ``answer`` replaces the normal behaviour with a
    canned response (a 429, a 503 …).
    """

    E164 = re.compile(r"\+[1-9]\d{6,14}")

    def __init__(self, *, account_sid: str = "AC" + "0" * 32, auth_token: str = "tw-secret-token") -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.answer: HttpResponse | None = None
        self.http = HttpServer(self._handle)
        self.sids: list[str] = []

    async def _handle(self, request: HttpRequest) -> HttpResponse:
        """Validate like Twilio does, in the order it does: path, auth, fields."""
        if (
            request.method != "POST"
            or request.target != f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        ):
            return twilio_error(404, 20404, f"The requested resource {request.target} was not found")
        if request.headers.get("authorization") != _basic(self.account_sid, self.auth_token):
            return twilio_error(401, 20003, "Authenticate")
        if self.answer is not None:
            return self.answer
        form = {name: values[0] for name, values in request.form().items()}
        to = form.get("To", "")
        if not self.E164.fullmatch(to):
            return twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not form.get("Body"):
            return twilio_error(400, 21602, "Message body is required.")
        sid = "SM" + secrets.token_hex(16)
        self.sids.append(sid)
        return HttpResponse.json(201, _twilio_message(sid, self.account_sid, form))


def _twilio_message(sid: str, account_sid: str, form: Mapping[str, str]) -> dict[str, Any]:
    """The message resource Twilio returns on creation (the fields that matter)."""
    return {
        "sid": sid,
        "account_sid": account_sid,
        "to": form["To"],
        "from": form.get("From"),
        "body": form["Body"],
        "status": "queued",
        "num_segments": "1",
        "direction": "outbound-api",
        "api_version": "2010-04-01",
        "price": None,
        "error_code": None,
        "error_message": None,
        "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
    }


def fcm_error(status: int, state: str, message: str, error_code: str | None = None) -> HttpResponse:
    """An error in Google's API format, with an FcmError detail when ``error_code`` is given."""
    error: dict[str, Any] = {"code": status, "message": message, "status": state}
    if error_code is not None:
        error["details"] = [
            {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": error_code}
        ]
    return HttpResponse.json(status, {"error": error})


class FcmServer:
    """FCM HTTP v1 ``POST /v1/projects/{project}/messages:send`` with a bearer token.

    Tokens in ``registered`` get 200 ``{"name": "projects/{project}/messages/<id>"}``; other well-formed
    tokens 404 UNREGISTERED; malformed ones (shorter than 20 characters) 400 INVALID_ARGUMENT.
    ``answer`` replaces the normal behaviour with a canned response.
    """

    def __init__(
        self, *, project_id: str = "clarion-test", access_token: str = "ya29.test-access-token"
    ) -> None:
        self.project_id = project_id
        self.access_token = access_token
        self.registered: set[str] = set()
        self.answer: HttpResponse | None = None
        self.http = HttpServer(self._handle)
        self._next_id = 0

    async def _handle(self, request: HttpRequest) -> HttpResponse:
        """Validate path, bearer token and message, as FCM does."""
        if request.method != "POST" or request.target != f"/v1/projects/{self.project_id}/messages:send":
            return fcm_error(404, "NOT_FOUND", "Requested entity was not found.")
        if request.headers.get("authorization") != f"Bearer {self.access_token}":
            return fcm_error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
                "cookie or other valid authentication credential.",
            )
        if self.answer is not None:
            return self.answer
        return self._send(request.json().get("message", {}))

    def _send(self, message: dict[str, Any]) -> HttpResponse:
        """Deliver to a registered token, or refuse as FCM would."""
        token = message.get("token", "")
        data = message.get("data", {})
        if not all(isinstance(value, str) for value in data.values()):
            return fcm_error(400, "INVALID_ARGUMENT", "Invalid value at 'message.data'", "INVALID_ARGUMENT")
        if len(token) < 20:
            return fcm_error(
                400,
                "INVALID_ARGUMENT",
                "The registration token is not a valid FCM registration token",
                "INVALID_ARGUMENT",
            )
        if token not in self.registered:
            return fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
        self._next_id += 1
        return HttpResponse.json(200, {"name": f"projects/{self.project_id}/messages/0:{self._next_id}"})


def _basic(user: str, password: str) -> str:
    """An HTTP basic ``Authorization`` header value."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
