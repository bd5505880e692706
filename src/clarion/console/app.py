"""``build_console``: the web console, a sub-application mounted at ``/console`` of the API app.

Server-rendered pages (Jinja2) made interactive with htmx; charts with uPlot. Both libraries come from npm
at set-up (``make console-assets``) into ``static/vendor``. The console calls the public API for everything
(``api.py``); its own state is only the sessions table.
"""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clarion.console.api import ApiFailure
from clarion.console.pages import ROUTERS
from clarion.console.web import HERE, Console, CsrfRefused, SignInRequired, redirect, render, sign_in_url

log = structlog.get_logger()

VENDOR = HERE / "static" / "vendor"
VENDOR_FILES = ("htmx.min.js", "uPlot.iife.min.js", "uPlot.min.css")

# No remote loads anywhere (a message's HTML in its sandboxed iframe inherits this policy: remote images
# stay blocked). Scripts only from the console's own files; inline styles allowed for e-mail HTML.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'; object-src 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
)


class SecurityHeaders:
    """Adds the console's security headers to every answer (static files keep their caching headers)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/") or "/static/" in scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name for name, _ in headers}
                for name, value in SECURITY_HEADERS:
                    if name not in names and not (static and name == b"cache-control"):
                        headers.append((name, value))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ErrorPage:
    """Answers an unexpected exception with the console's error page (the API's middleware would answer it
    in a JSON envelope), and logs it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as error:
            if started or scope["type"] != "http":
                raise
            request = Request(scope)
            log.exception("console_error", path=request.url.path, error=repr(error))
            message = "Something went wrong on the server; the log has the details."
            await render(request, "error.html", 500, title="Server error", message=message)(
                scope, receive, send
            )


def missing_assets() -> list[str]:
    """The vendored front-end files not installed yet (``make console-assets`` installs them)."""
    return [name for name in VENDOR_FILES if not (VENDOR / name).is_file()]


def build_console(console: Console) -> FastAPI:
    """The console application; ``console`` is what it shares with the API process."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.console = console
    for router in ROUTERS:
        app.include_router(router)
    VENDOR.mkdir(parents=True, exist_ok=True)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    _install_error_pages(app)
    app.add_middleware(GZipMiddleware, minimum_size=500)
    app.add_middleware(ErrorPage)
    app.add_middleware(SecurityHeaders)
    if missing := missing_assets():
        log.warning("console_assets_missing", files=missing, fix="make console-assets")
    return app


def _install_error_pages(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, _: Exception) -> Response:
        return redirect(request, sign_in_url(request))

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ())[1:]) or "request"
        message = f"{where}: {first.get('msg', 'is not valid')}"
        return render(request, "error.html", 400, title="Bad request", message=message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        title = _TITLES.get(error.status_code, "Error")
        message = "There is no such page in the console." if error.status_code == 404 else str(error.detail)
        return render(request, "error.html", error.status_code, title=title, message=message)

    @app.exception_handler(CsrfRefused)
    async def csrf(request: Request, _: Exception) -> Response:
        message = (
            "This change did not come from a console page (missing or wrong CSRF token): reload the page."
        )
        return render(request, "error.html", 403, title="Refused", message=message)

    @app.exception_handler(ApiFailure)
    async def api_failure(request: Request, error: Exception) -> Response:
        assert isinstance(error, ApiFailure)
        problem = error.problem
        if problem.status == 401:
            # The session's token expired or was revoked: the API no longer knows this user.
            return redirect(request, sign_in_url(request))
        headers = {"Retry-After": problem.retry_after} if problem.retry_after else None
        response = render(
            request,
            "error.html",
            problem.status,
            title=_TITLES.get(problem.status, "Error"),
            message=problem.message,
            problem=problem,
        )
        if headers:
            response.headers.update(headers)
        return response


_TITLES = {
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    429: "Too many requests",
    503: "Unavailable",
}
