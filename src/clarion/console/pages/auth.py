"""Sign-in (API key and token, or a one-time link from ``clarion console login``), sign-out, sandboxes."""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from clarion.console import sessions
from clarion.console.web import (
    COOKIE,
    ApiDep,
    SessionDep,
    console_of,
    console_url,
    form_of,
    redirect,
    render,
    same_origin,
)
from clarion.kit.ids import new_secret

router = APIRouter()

LOGIN_COOKIE = "clarion_console_login"
"""Double-submit token of the sign-in forms: a page of another site cannot sign a browser into its account."""


@router.get("/login")
async def login_page(request: Request, next: str = "", code: str = "") -> Response:
    """The sign-in form; with ``code``, the confirmation of a sign-in link."""
    if code:
        async with console_of(request).unit_of_work() as uow:
            pending = await sessions.pending(uow, code)
        if pending is None:
            return _login_form(request, next, error="This sign-in link was already used or has expired.")
        return _with_login_token(request, "auth/confirm.html", code=code, pending=pending)
    return _login_form(request, next)


@router.post("/login")
async def login(
    request: Request,
    org: Annotated[str, Form()] = "",
    api_key: Annotated[str, Form()] = "",
    token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    """Check the credentials with the API itself, then open a session."""
    if not _login_token_ok(request, await form_of(request)):
        return _login_form(request, next, error="The sign-in form expired: please try again.", status=403)
    credentials = sessions.Credentials(org.strip(), api_key.strip(), token.strip(), "prod")
    if not (credentials.ims_org_id and credentials.client_id and credentials.token):
        return _login_form(
            request, next, error="Organization, API key and token are all required.", status=400
        )
    console = console_of(request)
    answer = await console.api(credentials).call("GET", "/v1/organization")
    if answer.problem is not None:
        return _login_form(request, next, error=answer.problem.message, status=answer.status)
    async with console.unit_of_work() as uow:
        cookie = await sessions.start(uow, console.box, credentials)
    return _signed_in(request, cookie, next)


@router.post("/login/code")
async def login_with_code(request: Request, code: Annotated[str, Form()] = "") -> Response:
    """Redeem a sign-in link (once)."""
    if not _login_token_ok(request, await form_of(request)):
        return _login_form(request, "", error="The sign-in form expired: please try again.", status=403)
    async with console_of(request).unit_of_work() as uow:
        cookie = await sessions.redeem(uow, code)
    if cookie is None:
        return _login_form(
            request, "", error="This sign-in link was already used or has expired.", status=400
        )
    return _signed_in(request, cookie, "")


@router.post("/logout")
async def logout(request: Request, session: SessionDep, api: ApiDep) -> Response:
    """End the session (and revoke the token a sign-in link issued for it)."""
    if session.issued_token_id is not None:
        # Needs the admin role; a weaker key's token simply expires with the session.
        await api.send(
            "DELETE", f"/v1/credentials/{session.credentials.client_id}/tokens/{session.issued_token_id}"
        )
    console = console_of(request)
    async with console.unit_of_work() as uow:
        await sessions.end(uow, session)
    response = redirect(request, console_url(request, "/login"))
    response.delete_cookie(COOKIE, path=console_url(request, "/") or "/")
    return response


@router.post("/sandbox")
async def switch_sandbox(
    request: Request, session: SessionDep, api: ApiDep, sandbox: Annotated[str, Form()] = ""
) -> Response:
    """Work in another sandbox of the organization (it must exist: the API says)."""
    answer = await api.send("GET", f"/v1/sandboxes/{quote(sandbox, safe='')}") if sandbox else None
    if answer is None or answer.problem is not None:
        message = answer.problem.message if answer and answer.problem else "Choose a sandbox."
        return render(request, "error.html", 400, title="Sandbox", message=message)
    async with console_of(request).unit_of_work() as uow:
        await sessions.switch_sandbox(uow, session, sandbox)
    back = request.headers.get("referer", "")
    target = back if _is_console_path(request, _path_of(back)) else console_url(request, "/")
    return redirect(request, _path_of(target) or console_url(request, "/"))


@router.get("/sandboxes")
async def sandboxes(request: Request, api: ApiDep) -> Response:
    """The sandbox switcher's options (a fragment)."""
    page = await api.read("/v1/sandboxes", limit=100)
    names = [item.get("name", "") for item in page.get("sandboxes", page.get("items", []))]
    return render(request, "auth/sandboxes.html", names=names)


def _login_form(request: Request, next_path: str, *, error: str = "", status: int = 200) -> Response:
    return _with_login_token(request, "auth/login.html", status=status, next=next_path, error=error)


def _with_login_token(request: Request, template: str, *, status: int = 200, **context: object) -> Response:
    token = new_secret(16)
    response = render(request, template, status, title="Sign in", login_token=token, **context)
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=900,
        httponly=True,
        samesite="strict",
        secure=console_of(request).secure_cookies,
        path=console_url(request, "/login") or "/",
    )
    return response


def _login_token_ok(request: Request, form: dict[str, str]) -> bool:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    sent = form.get("login_token", "")
    return same_origin(request) and bool(expected) and hmac.compare_digest(expected, sent)


def _signed_in(request: Request, cookie: str, next_path: str) -> Response:
    target = next_path if _is_console_path(request, next_path) else console_url(request, "/")
    response = redirect(request, target)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int(sessions.SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=console_of(request).secure_cookies,
        path=console_url(request, "/") or "/",
    )
    response.delete_cookie(LOGIN_COOKIE, path=console_url(request, "/login") or "/")
    return response


def _is_console_path(request: Request, path: str) -> bool:
    """Only a path of this console may be a redirect target (no open redirect: no scheme, no host)."""
    root = console_url(request, "/")
    return path.startswith(root) and not path.startswith("//") and "\\" not in path


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")
