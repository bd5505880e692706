"""Pure-ASGI middleware: request ids, body size and content-type rules, errors in the right envelope, metrics.

Pure ASGI (not ``BaseHTTPMiddleware``) because it wraps every request, including the hot execution path.
The request id is set in ``kit.context.REQUEST_ID`` for the whole request, so every log line of the
request (error lines included) carries ``request_id``. An exception no handler answered is answered here, in
the route's envelope, while that binding holds: a 503 for an outage, a 500 for a bug (``api.errors``).
"""

from __future__ import annotations

import re
import time
from typing import Any, Protocol

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clarion.api.envelopes import family_for, new_request_id, render
from clarion.api.errors import unexpected_error_response
from clarion.errors import ClarionError, Invalid, PayloadTooLarge, UnsupportedMediaType
from clarion.kit.context import REQUEST_ID

log = structlog.get_logger()

_BODY_METHODS = frozenset({b"POST", b"PUT", b"PATCH"})
# A JSON \u0000 escape: preceded by an even number of backslashes (an odd one makes it the text "\u0000").
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


class RequestMetrics(Protocol):
    """Where answered requests are counted (``ops.metrics.Metrics``; api sits below ops)."""

    def record_request(self, method: str, route: str, status: int, elapsed: float) -> None:
        """Count one answered request and observe its latency."""


class _Exchange:
    """The response side of one request: remembers the status and drops output once we answered ourselves."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 500
        self.started = False
        self.closed = False

    async def send(self, message: Message) -> None:
        if self.closed:
            return
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.started = True
        await self._send(message)

    def close(self) -> None:
        self.closed = True


class GatewayMiddleware:
    """Rejects oversized or non-JSON bodies before any handler runs and records request metrics."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        metrics: RequestMetrics,
        own_rules: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        self.own_rules = own_rules
        """Path prefixes of mounted applications that are not the API (the console): passed through."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.own_rules):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = _headers(scope)
        request_id = headers.get("x-request-id") or new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        exchange = _Exchange(send)
        error = self._reject(scope, headers)
        bound = REQUEST_ID.set(request_id)
        try:
            if error is not None:
                await render(error, family_for(scope["path"]), request_id)(scope, receive, exchange.send)
            else:
                await self.app(scope, self._limited(scope, receive, exchange, request_id), exchange.send)
        except Exception as unexpected:
            if exchange.started:
                raise  # half a response is out: nothing better to do than let the server cut it
            response = unexpected_error_response(unexpected, scope["path"], scope["method"], request_id)
            await response(scope, receive, exchange.send)
        finally:
            REQUEST_ID.reset(bound)
            self._record(scope, exchange.status, time.perf_counter() - started)

    def _reject(self, scope: Scope, headers: dict[str, str]) -> ClarionError | None:
        if scope["method"].encode() not in _BODY_METHODS:
            return None
        length = headers.get("content-length")
        if length is not None and length.isascii() and length.isdigit() and int(length) > self.max_body_bytes:
            return PayloadTooLarge(
                f"Request body of {length} bytes exceeds the limit of {self.max_body_bytes} bytes"
            )
        has_body = (length is not None and length != "0") or "transfer-encoding" in headers
        if has_body and not _is_json(headers.get("content-type", "")):
            return UnsupportedMediaType("A valid content-type must be specified")
        return None

    def _limited(self, scope: Scope, receive: Receive, exchange: _Exchange, request_id: str) -> Receive:
        """Count body bytes as they arrive (chunked bodies have no Content-Length to check up front).

        Past the limit we answer 413 ourselves and tell the app the client left: frameworks turn any error
        raised from ``receive`` into their own 400, so raising would lose the 413.
        """
        received = 0
        nul = _NulEscapes()

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                error: ClarionError | None = None
                if received > self.max_body_bytes:
                    error = PayloadTooLarge(f"Request body exceeds the limit of {self.max_body_bytes} bytes")
                elif nul.found_in(chunk):
                    error = Invalid(
                        "body: NUL characters (\\u0000) are not accepted in any string or key",
                        context={"field": "body", "rule": "no_nul"},
                    )
                if error is not None:
                    await render(error, family_for(scope["path"]), request_id)(scope, receive, exchange.send)
                    exchange.close()
                    return {"type": "http.disconnect"}
            return message

        return limited_receive

    def _record(self, scope: Scope, status: int, elapsed: float) -> None:
        route: Any = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        self.metrics.record_request(scope["method"], template, status, elapsed)


class _NulEscapes:
    """Finds a JSON ``\\u0000`` escape in a body arriving in chunks.

    PostgreSQL stores no NUL in text or jsonb, so a body holding one would fail at the first write, after
    validation, as a 500; no field of any Clarion or Adobe contract needs one. Checked on the raw bytes, once
    for every route, the execution hot path included.
    """

    def __init__(self) -> None:
        self._tail = b""

    def found_in(self, chunk: bytes) -> bool:
        """Whether the body read so far, ending with ``chunk``, holds the escape."""
        data = self._tail + chunk
        # Every escape starts with a backslash, and most bodies hold none: a one-byte memchr (~0.3 µs for
        # 2.6 KB) spares them the substring search (~3-5 µs).
        if b"\\" in data and b"u0000" in data and _NUL_ESCAPE.search(data):
            return True
        # Keep what a match split across chunks could start with: the last 5 bytes and the backslashes before.
        start = max(len(data) - 5, 0)
        while start > 0 and data[start - 1] == 0x5C:
            start -= 1
        self._tail = data[start:]
        return False


def _headers(scope: Scope) -> dict[str, str]:
    return {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )
