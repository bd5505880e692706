"""The channel port (``Channel``), what every channel answers, and the HTTP exchange the providers share.

A channel never raises for a delivery problem: it returns a ``SendResult`` whose ``outcome`` tells the worker
what to do (``retry`` = temporary, try again with backoff; ``failed`` = permanent, record and stop) and whose
``response`` is the server's final answer as it would be shown in the message ledger.

Each channel adapter (``email.channel.EmailChannel``, ``sms.SmsChannel``, ``push.PushChannel``) holds one
campaign version's compiled content and its provider client, and owns the rest of a message's journey: where
the recipient's address comes from, how the content is rendered, and how it is sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, Protocol

import httpx

from clarion.delivery.schemas import Recipient
from clarion.suppressions.bounces import Bounce
from clarion.suppressions.schemas import Hit

Outcome = Literal["sent", "retry", "failed"]

RESPONSE_LIMIT = 500
# A provider's answer is read up to this size: enough for any error document, and a misbehaving webhook
# endpoint streaming megabytes cannot make a worker buffer them.
MAX_BODY = 64 * 1024
# 408 Request Timeout and 429 Too Many Requests are the 4xx answers that promise a later attempt may succeed.
_RETRY_4XX = frozenset({408, 429})


@dataclass(frozen=True, slots=True)
class SendResult:
    """The outcome of one delivery attempt and the server's final answer (≤ 500 chars, no credentials).

    ``bounce``: a relay's refusal of the recipient classified by its enhanced status code (hard, soft,
    policy: ``suppressions.bounces``); None when the attempt was not refused for the recipient's sake.
    """

    outcome: Outcome
    response: str
    provider_id: str | None = None
    bounce: Bounce | None = None


class Attempt(NamedTuple):
    """One recipient's delivery attempt: the channel's answer, the address used ("" when none), the size of
    what was sent (for the ledger), and the email's ``Message-ID`` header ("" for other channels or when
    nothing was written): the message's history keeps it to find the captured copy. ``suppressed``: the
    suppression entry that stopped it before the channel was asked (nothing was sent)."""

    result: SendResult
    address: str
    size: int
    header_message_id: str = ""
    suppressed: Hit | None = None


class Channel(Protocol):
    """A campaign version on one channel: addresses, renders and sends one recipient's message."""

    async def send(self, recipient: Recipient, message_id: str = "") -> Attempt:
        """Send ``recipient`` their message; a delivery problem is a result, not an exception (a message that
        cannot be written at all, such as a header injection attempt, raises ``ValueError``).

        ``message_id`` is the ledger id (``<execution>:<index>``): what the message's signed tokens name
        (bounce address, unsubscribe and tracking links, ``delivery/tokens.py``); "" when there is none
        (a test send)."""
        ...


def template_variables(recipient: Recipient) -> dict[str, Any]:
    """The root of a recipient's personalization: ``context`` and ``profile`` (empty when absent)."""
    return {"context": recipient.context or {}, "profile": recipient.profile or {}}


def clip(text: str, limit: int = RESPONSE_LIMIT) -> str:
    """``text`` on one line (line breaks become spaces), cut to ``limit`` characters for the ledger."""
    one_line = text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every non-empty secret replaced by ``***`` (servers may echo what they were sent)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def http_outcome(status: int) -> Outcome:
    """2xx sent; 408, 429 and 5xx retry; any other status (4xx, an unfollowed 3xx) failed."""
    if 200 <= status < 300:
        return "sent"
    if status >= 500 or status in _RETRY_4XX:
        return "retry"
    return "failed"


@dataclass(frozen=True, slots=True)
class HttpReply:
    """A provider's answer: the status code and the first ``MAX_BODY`` bytes of the body."""

    status: int
    body: bytes

    def json_object(self) -> dict[str, Any] | None:
        """The body as a JSON object, or ``None`` if it is not one (an HTML error page from a proxy, say)."""
        try:
            document = json.loads(self.body)
        except ValueError:  # JSONDecodeError and UnicodeDecodeError both derive from it
            return None
        return document if isinstance(document, dict) else None

    def describe(self, detail: str | None = None) -> str:
        """``HTTP <status>: <detail or body>``, clipped for the ledger."""
        text = self.body.decode("utf-8", "replace").strip() if detail is None else detail
        return clip(f"HTTP {self.status}: {text}" if text else f"HTTP {self.status}")


async def http_exchange(
    client: httpx.AsyncClient,
    url: str,
    *,
    content: bytes,
    headers: Mapping[str, str],
    request_timeout: float,
    auth: tuple[str, str] | None = None,
    secrets: Iterable[str | None] = (),
) -> HttpReply | SendResult:
    """POST ``content``; a transport problem comes back as a ``SendResult``, never as an exception.

    ``secrets`` (tokens, passwords) are masked in everything returned, the body included, in case the
    server echoes them.

    The timeout is httpx's per-request one (connect, write, read, pool) rather than an overall deadline:
    the platform's throttling transport may hold a call in its queue before it goes out, and that wait must
    not count against the provider's answer time.
    """
    secrets = tuple(secrets)
    try:
        async with client.stream(
            "POST", url, content=content, headers=headers, auth=auth, timeout=request_timeout
        ) as response:
            body = await _read_capped(response)
    except httpx.TimeoutException:
        return SendResult("retry", f"timeout after {request_timeout:g} s")
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        # A malformed endpoint will not heal by waiting.
        return SendResult("failed", clip(redact(f"invalid URL: {exc}", secrets)))
    except httpx.RequestError as exc:
        return SendResult("retry", clip(redact(f"connection error: {type(exc).__name__}: {exc}", secrets)))
    for secret in secrets:
        if secret:
            body = body.replace(secret.encode(), b"***")
    return HttpReply(response.status_code, body)


async def _read_capped(response: httpx.Response) -> bytes:
    """At most ``MAX_BODY`` bytes of the body; the rest is dropped with the connection."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_BODY:
            break
    return b"".join(chunks)[:MAX_BODY]
