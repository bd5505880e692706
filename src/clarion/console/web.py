"""The console's request plumbing: the per-process ``Console``, the session and API dependencies, CSRF,
and ``render``. Pages import from here; nothing here knows a page."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import httpx
from fastapi import Depends, FastAPI, Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from clarion.console import sessions
from clarion.console.api import INTERNAL_BASE_URL, ConsoleApi
from clarion.console.nav import NAV
from clarion.container import Container
from clarion.db.uow import UnitOfWork
from clarion.kit.secretbox import SecretBox

HERE = Path(__file__).parent
COOKIE = "clarion_console"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf"

templates = Jinja2Templates(directory=HERE / "templates")


def merge_query(query: Any, **changes: Any) -> str:
    """The current query string with some parameters replaced (pagination links keep the filters)."""
    merged = {key: value for key, value in dict(query).items() if key not in changes}
    merged.update({key: value for key, value in changes.items() if value is not None})
    return urlencode(merged)


def epoch_iso(milliseconds: Any) -> str:
    """Unix milliseconds (Adobe's ``creationTime``, ``updateTime``) as ISO-8601 UTC; empty when absent."""
    if not isinstance(milliseconds, int | float):
        return ""
    return datetime.fromtimestamp(milliseconds / 1000, UTC).isoformat()


templates.env.filters["merge_query"] = merge_query
templates.env.filters["epoch_iso"] = epoch_iso


class SignInRequired(Exception):
    """No live session: the console answers with the sign-in page."""


class CsrfRefused(Exception):
    """A state change without the session's CSRF token, or from another site."""


@dataclass
class Console:
    """What the console holds per process: the API app it calls (whose container keeps the sessions table
    and the secret box), and one in-process HTTP client."""

    api_app: FastAPI
    secure_cookies: bool
    _client: httpx.AsyncClient | None = field(default=None, init=False)

    @property
    def container(self) -> Container:
        """The API process's backends (built by its lifespan, so read when a request needs them)."""
        container: Container = self.api_app.state.container
        return container

    def unit_of_work(self) -> UnitOfWork:
        """A unit of work on the process's database."""
        return self.container.unit_of_work()

    @property
    def box(self) -> SecretBox:
        """The secret box that seals the sessions' tokens."""
        return self.container.secrets

    @property
    def client(self) -> httpx.AsyncClient:
        """The in-process client of the public API (made on first use, closed with the app)."""
        if self._client is None:
            transport = httpx.ASGITransport(app=self.api_app, client=("127.0.0.1", 0))
            self._client = httpx.AsyncClient(transport=transport, base_url=INTERNAL_BASE_URL)
        return self._client

    async def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def api(self, credentials: sessions.Credentials) -> ConsoleApi:
        """The public API as these credentials see it."""
        return ConsoleApi(self.client, credentials)


def console_of(request: Request) -> Console:
    """The process's console."""
    console: Console = request.app.state.console
    return console


async def current_session(request: Request) -> sessions.Session:
    """The signed-in session (else ``SignInRequired``); state changes must carry its CSRF token."""
    console = console_of(request)
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        raise SignInRequired
    async with console.unit_of_work() as uow:
        session = await sessions.load(uow, console.box, cookie)
    if session is None:
        raise SignInRequired
    if request.method not in SAFE_METHODS:
        await check_csrf(request, session.csrf_token)
    request.state.session = session
    return session


SessionDep = Annotated[sessions.Session, Depends(current_session)]


async def console_api(request: Request, session: SessionDep) -> ConsoleApi:
    """The public API as the signed-in user sees it."""
    return console_of(request).api(session.credentials)


ApiDep = Annotated[ConsoleApi, Depends(console_api)]


async def check_csrf(request: Request, expected: str) -> None:
    """Refuse a state change from another site or without the expected token (header or form field)."""
    if not same_origin(request):
        raise CsrfRefused
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and _is_form(request):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, expected):
        raise CsrfRefused


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site (``Sec-Fetch-Site``, ``Origin``)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    # No Origin: not a browser's cross-site form (browsers send it on every POST). The policy
    # ``Referrer-Policy: same-origin`` keeps it meaningful (``no-referrer`` would make it "null").
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"


def _is_form(request: Request) -> bool:
    content_type = request.headers.get("content-type", "")
    return content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


async def form_of(request: Request) -> dict[str, str]:
    """The submitted form's text fields (files are read by the pages that take them)."""
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str) and key != CSRF_FIELD}


def is_htmx(request: Request) -> bool:
    """True for a request htmx made (it swaps a fragment, not a whole page)."""
    return request.headers.get("hx-request") == "true"


def redirect(request: Request, url: str) -> Response:
    """A 303 to ``url``; to htmx, ``HX-Redirect`` (it would swap the 303's page into a fragment)."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    """Render a page (or fragment) with the layout's context: session, CSRF token, navigation."""
    session: sessions.Session | None = getattr(request.state, "session", None)
    context.setdefault("title", "")
    return templates.TemplateResponse(
        request,
        name,
        {
            "session": session,
            "csrf_token": session.csrf_token if session else "",
            "nav": NAV,
            "path": request.url.path,
            **context,
        },
        status_code=status_code,
    )


def console_url(request: Request, path: str = "") -> str:
    """An absolute path inside the console (``/console`` + ``path``), wherever it is mounted."""
    return f"{request.scope.get('root_path', '')}{path}"


def sign_in_url(request: Request) -> str:
    """The sign-in page, coming back to the current page after."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return console_url(request, f"/login?next={quote(here, safe='')}")
