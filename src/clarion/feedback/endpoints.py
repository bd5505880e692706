"""The public feedback routes, reached from inside a recipient's mail, without credentials.

- ``GET /t/o/{token}``: the open pixel (a 42-byte transparent GIF, never cached), ``opened`` recorded;
- ``GET /t/c/{token}``: ``302`` to the URL the token signs, ``clicked`` recorded. Only a token that
  verifies redirects, and only to an ``http(s)`` URL: a tampered token gets a 404, never a redirect;
- ``GET /u/{token}``: a confirmation page that changes nothing; ``POST /u/{token}``: unsubscribe
  (``unsubscribe.py``).

``FeedbackRoutes`` answers these paths itself, in front of the API's gateway middleware and FastAPI's
router (as ``api/hotpath.py`` does for the triggers): they take no credentials, the unsubscribe POST is a
form (RFC 8058), not JSON, and the tracking routes must take thousands of requests a second. ``HEAD`` gets
the same answer without a body and is never recorded (a person's mail client does not send it). Hits are
handed to the ``TrackingRecorder`` (no I/O on the request's path); an unsubscribe is written before the
answer. Pages carry a strict CSP (no script, no remote anything, the one inline style by hash),
``X-Frame-Options: DENY``, no referrer, no caching. ``openapi_paths`` documents the routes.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import time
from typing import Any
from urllib.parse import quote

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from clarion.db.uow import UnitOfWork
from clarion.delivery.tokens import MessageTokens
from clarion.feedback import unsubscribe
from clarion.feedback.tracking import Hit, TrackingRecorder
from clarion.kit.outages import outage_of

log = structlog.get_logger()

PREFIXES = ("/t/", "/u/")
OPEN_PATH, CLICK_PATH, UNSUBSCRIBE_PATH = "/t/o/", "/t/c/", "/u/"
MAX_TOKEN = 4096
"""Longer than any token of a URL a message can hold (URLs are cut at 2,048 by most clients)."""
MAX_FORM_BYTES = 4096
"""An unsubscribe POST carries ``List-Unsubscribe=One-Click`` (26 bytes); more is refused."""
_WEB = ("http://", "https://")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~-._"

GIF = base64.b64decode(b"R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
"""A 1x1 transparent GIF (42 bytes)."""

_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b}"
    "h1{font-size:1.4rem}button{font:inherit;padding:.6rem 1.2rem;border:0;border-radius:.3rem;"
    "background:#1d4ed8;color:#fff;cursor:pointer}button:focus{outline:3px solid #93c5fd}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
_PAGE_HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"),
    (
        b"content-security-policy",
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'".encode(),
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]
_NO_STORE = [(b"cache-control", b"no-store, max-age=0"), (b"referrer-policy", b"no-referrer")]
_GIF_HEADERS = [(b"content-type", b"image/gif"), (b"x-content-type-options", b"nosniff"), *_NO_STORE]


def _page(title: str, body: str) -> bytes:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    ).encode()


NOT_FOUND_PAGE = _page("Link not valid", "<p>This link is not valid or has expired. Nothing was changed.</p>")
UNAVAILABLE_PAGE = _page(
    "Try again shortly", "<p>The service is briefly unavailable. Nothing was changed.</p>"
)
ERROR_PAGE = _page("Something went wrong", "<p>The error was logged. Nothing was changed.</p>")
TOO_LARGE_PAGE = _page("Request too large", "<p>Nothing was changed.</p>")


def confirm_page(address: str) -> bytes:
    """The GET page: what a POST would do, and the button that does it (a form posting to this URL)."""
    shown = html.escape(unsubscribe.masked(address))
    return _page(
        "Unsubscribe from marketing mail?",
        f"<p>Stop sending marketing mail to <strong>{shown}</strong>? Service messages (receipts, "
        "password resets) are not affected.</p>"
        '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>',
    )


def done_page(address: str) -> bytes:
    """The POST answer."""
    shown = html.escape(unsubscribe.masked(address))
    return _page(
        "You are unsubscribed",
        f"<p><strong>{shown}</strong> will get no more marketing mail from this sender.</p>",
    )


class FeedbackRoutes:
    """Pure-ASGI dispatch of ``/t/…`` and ``/u/…`` ahead of the API (every other path goes on unchanged).

    The app's services (``app.state.services``: ``message_tokens``, ``tracking``, ``unit_of_work``) are
    looked up per request, as they exist only once the lifespan started."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(PREFIXES):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method: str = scope["method"]
        route, status = path, 404
        try:
            route, status = await self._dispatch(scope, receive, send, path, method)
        except Exception as error:
            outage = outage_of(error)
            if outage is not None:
                log.warning("dependency_unavailable", dependency=outage.dependency, path=route, method=method)
                status = 503
                headers = [*_PAGE_HEADERS, (b"retry-after", str(round(outage.retry_after or 1)).encode())]
                await _answer(send, 503, headers, UNAVAILABLE_PAGE, method)
            else:
                log.error("unhandled_error", path=route, method=method, exc_info=error)
                status = 500
                await _answer(send, 500, _PAGE_HEADERS, ERROR_PAGE, method)
        metrics = getattr(scope["app"].state, "metrics", None) if "app" in scope else None
        if metrics is not None:
            metrics.record_request(method, route, status, time.perf_counter() - started)

    async def _dispatch(
        self, scope: Scope, receive: Receive, send: Send, path: str, method: str
    ) -> tuple[str, int]:
        services: Any = scope["app"].state.services
        tokens: MessageTokens = services.message_tokens
        if path.startswith(OPEN_PATH):
            route, token = "/t/o/{token}", path[len(OPEN_PATH) :]
            if method not in ("GET", "HEAD"):
                return route, await _not_allowed(send, b"GET, HEAD", method)
            message_id = tokens.read_open(token) if _plausible(token) else None
            if message_id is None:
                return route, await _answer(send, 404, _NO_STORE_TEXT, b"Not found\n", method)
            if method == "GET":
                _track(services.tracking, scope, "opened", message_id)
            await _answer(send, 200, _GIF_HEADERS, GIF, method)
            return route, 200
        if path.startswith(CLICK_PATH):
            route, token = "/t/c/{token}", path[len(CLICK_PATH) :]
            if method not in ("GET", "HEAD"):
                return route, await _not_allowed(send, b"GET, HEAD", method)
            click = tokens.read_click(token) if _plausible(token) else None
            location = None if click is None else location_of(click.url)
            if click is None or location is None:
                return route, await _answer(send, 404, _NO_STORE_TEXT, b"Not found\n", method)
            if method == "GET":
                _track(services.tracking, scope, "clicked", click.message_id, click.url)
            await _answer(send, 302, [(b"location", location.encode("ascii")), *_NO_STORE_TEXT], b"", method)
            return route, 302
        if path.startswith(UNSUBSCRIBE_PATH):
            route, token = "/u/{token}", path[len(UNSUBSCRIBE_PATH) :]
            return route, await self._unsubscribe(scope, receive, send, services, token, method)
        return path, await _answer(send, 404, _NO_STORE_TEXT, b"Not found\n", method)

    async def _unsubscribe(
        self, scope: Scope, receive: Receive, send: Send, services: Any, token: str, method: str
    ) -> int:
        if method not in ("GET", "HEAD", "POST"):
            return await _not_allowed(send, b"GET, HEAD, POST", method)
        tokens: MessageTokens = services.message_tokens
        message_id = tokens.read_unsubscribe(token) if _plausible(token) else None
        if message_id is None:
            return await _answer(send, 404, _PAGE_HEADERS, NOT_FOUND_PAGE, method)
        uow: UnitOfWork
        if method != "POST":
            async with services.container.unit_of_work() as uow:
                address = await unsubscribe.recipient(uow, message_id)
            if address is None:
                return await _answer(send, 404, _PAGE_HEADERS, NOT_FOUND_PAGE, method)
            return await _answer(send, 200, _PAGE_HEADERS, confirm_page(address), method)
        form = await _read_body(receive, MAX_FORM_BYTES)
        if form is None:
            return await _answer(send, 413, _PAGE_HEADERS, TOO_LARGE_PAGE, method)
        # RFC 8058's body from a mailbox provider; anything else came from our page (or a person's client).
        one_click = b"List-Unsubscribe=One-Click" in form
        async with services.container.unit_of_work() as uow:
            done = await unsubscribe.unsubscribe(uow, message_id, "one-click" if one_click else "page")
        if done is None:
            return await _answer(send, 404, _PAGE_HEADERS, NOT_FOUND_PAGE, method)
        log.info("feedback.unsubscribed", message_id=message_id, new=done.new)
        return await _answer(send, 200, _PAGE_HEADERS, done_page(done.address), method)


_NO_STORE_TEXT = [(b"content-type", b"text/plain; charset=utf-8"), *_NO_STORE]


def location_of(url: str) -> str | None:
    """The ``Location`` of a signed URL: only ``http(s)``, non-ASCII and spaces percent-encoded, no
    control characters (a header line cannot hold them); None when the URL cannot be redirected to."""
    if not url[:8].lower().startswith(_WEB) or _CONTROL.search(url):
        return None
    return url if url.isascii() and " " not in url else quote(url, safe=_URL_SAFE)


def _plausible(token: str) -> bool:
    return 0 < len(token) <= MAX_TOKEN and "/" not in token


def _track(recorder: TrackingRecorder, scope: Scope, kind: Any, message_id: str, url: str = "") -> None:
    user_agent = ""
    for name, value in scope["headers"]:
        if name == b"user-agent":
            user_agent = value.decode("latin-1")
            break
    client = scope.get("client")
    recorder.hit(Hit(kind, message_id, time.time(), user_agent, client[0] if client else "", url))


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or None once it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _not_allowed(send: Send, allow: bytes, method: str) -> int:
    return await _answer(send, 405, [*_NO_STORE_TEXT, (b"allow", allow)], b"Method not allowed\n", method)


async def _answer(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes, method: str
) -> int:
    headers = [*headers, (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
    return status


# OpenAPI ------------------------------------------------------------------------------------------------

_TOKEN = {
    "name": "token",
    "in": "path",
    "required": True,
    "description": "The signed token of the link (opaque)",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_TOKEN},
}
_STRING = {"type": "string"}
_TEXT = {"text/plain": {"schema": _STRING}}
_HTML = {"text/html": {"schema": _STRING}}
_GONE = "The token does not verify, or the message is gone"


def openapi_paths() -> tuple[dict[str, Any], dict[str, Any]]:
    """OpenAPI path items of the public feedback routes (no credentials; HTML, GIF and redirects)."""
    unavailable = {
        "description": "The database is unavailable: retry later",
        "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}, "required": True}},
        "content": _HTML,
    }
    tracking_errors = {
        "404": {"description": "The token does not verify", "content": _TEXT},
        "500": {"description": "A bug, logged", "content": _HTML},
    }
    own = {"x-clarion-own-responses": True, "security": [], "tags": ["feedback"], "parameters": [_TOKEN]}
    form = {
        "type": "object",
        "properties": {"List-Unsubscribe": {"type": "string", "enum": ["One-Click"]}},
    }
    paths = {
        "/t/o/{token}": {
            "get": {
                **own,
                "summary": "Open pixel: a 1x1 transparent GIF; records an `opened` event",
                "operationId": "trackOpen",
                "responses": {
                    "200": {"description": "The pixel", "content": {"image/gif": {"schema": _STRING}}},
                    **tracking_errors,
                },
            }
        },
        "/t/c/{token}": {
            "get": {
                **own,
                "summary": "Tracked link: 302 to the URL the token signs; records a `clicked` event",
                "operationId": "trackClick",
                "responses": {
                    "302": {
                        "description": "To the link's original URL",
                        "headers": {"Location": {"schema": {"type": "string"}, "required": True}},
                    },
                    **tracking_errors,
                },
            }
        },
        "/u/{token}": {
            "get": {
                **own,
                "summary": "Unsubscribe confirmation page (changes nothing)",
                "operationId": "unsubscribePage",
                "responses": {
                    "200": {"description": "The page, with its button", "content": _HTML},
                    "404": {"description": _GONE, "content": _HTML},
                    "500": {"description": "A bug, logged", "content": _HTML},
                    "503": unavailable,
                },
            },
            "post": {
                **own,
                "summary": "One-click unsubscribe (RFC 8058): suppresses the recipient for Marketing mail",
                "operationId": "unsubscribe",
                "requestBody": {
                    "required": False,
                    "content": {"application/x-www-form-urlencoded": {"schema": form}},
                },
                "responses": {
                    "200": {"description": "Unsubscribed (again: nothing changes)", "content": _HTML},
                    "404": {"description": _GONE, "content": _HTML},
                    "413": {"description": "A body over 4 KB", "content": _HTML},
                    "500": {"description": "A bug, logged", "content": _HTML},
                    "503": unavailable,
                },
            },
        },
    }
    return paths, {}
