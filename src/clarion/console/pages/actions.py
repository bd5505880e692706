"""Custom actions (list, create, edit, delete; secrets write-only) and their call ledger (filters, a call)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from clarion.console.api import ApiProblem
from clarion.console.web import ApiDep, SessionDep, console_url, form_of, render

router = APIRouter()

ACTIONS = "/v1/custom-actions"
CALLS = "/v1/action-calls"
PAGE = 50
STATUSES = ("queued", "sent", "failed", "expired")
AUTH_TYPES = (("none", "None"), ("basic", "Basic"), ("bearer", "Bearer token"), ("apiKey", "API key header"))
SECRET_OF = {"basic": "password", "bearer": "token", "apiKey": "apiKey"}
"""The write-only field of each authentication type (the API shows only ``has<Name>``)."""
RULES = {
    "name": "Letters, digits and _; at most 30. Events name the action by it (POST /v1/events).",
    "url": "An absolute http:// or https:// URL on the scheme's default port, without credentials or #.",
    "headers": "One 'Name: value' per line; the HTTP client owns Host, Content-Length and the hop-by-hop "
    "headers. At most 50.",
    "queryParameters": 'JSON: [{"name": "id", "value": "42"}, {"name": "user", "fromContext": "userId"}] '
    "(exactly one of value or fromContext each).",
    "secret": "Write-only: never shown again. Empty on edit keeps the stored one.",
    "body": 'A template of the event\'s context, e.g. {"user": "{{context.userId}}"}; empty: no body.',
    "timeoutSeconds": "From 1 to 30 seconds, retries included.",
}


@router.get("/custom-actions")
async def actions(request: Request, api: ApiDep) -> Response:
    """The sandbox's custom actions, by name."""
    offset = _offset(request)
    page = await api.read(ACTIONS, limit=PAGE, offset=offset)
    return render(request, "actions/list.html", title="Custom actions", page=page, offset=offset, limit=PAGE)


@router.get("/custom-actions/new")
async def new_action(request: Request, _: SessionDep) -> Response:
    """An empty custom action form."""
    return _form(request, {"method": "POST", "timeoutSeconds": 30, "authentication": {"type": "none"}})


@router.post("/custom-actions/new")
async def create_action(request: Request, api: ApiDep) -> Response:
    """Create the action; back to the form with the API's refusal otherwise."""
    form = await form_of(request)
    answer = await api.send("POST", ACTIONS, action_body(form))
    if answer.problem:
        return _form(request, _shown(form), problem=answer.problem)
    return RedirectResponse(console_url(request, f"/custom-actions/{answer.body['id']}?saved=1"), 303)


@router.get("/custom-actions/calls")
async def calls(request: Request, api: ApiDep) -> Response:
    """The call ledger, newest first, filtered by action, status and acceptance time (UTC)."""
    query = request.query_params
    filters = {key: query.get(key, "") for key in ("actionId", "status", "since", "until")}
    offset = _offset(request)
    params = {**filters, "since": _instant(filters["since"]), "until": _instant(filters["until"])}
    answer = await api.call("GET", CALLS, params={**params, "limit": PAGE, "offset": offset})
    choices = await api.read(ACTIONS, limit=200)
    return render(
        request,
        "actions/calls.html",
        title="Call ledger",
        page=answer.body if answer.ok else {"items": [], "total": 0},
        problem=answer.problem,
        filters=filters,
        offset=offset,
        limit=PAGE,
        action_choices=[("", "Any")] + [(item["id"], item["name"]) for item in choices["items"]],
        status_choices=[("", "Any")] + [(status, status) for status in STATUSES],
    )


@router.get("/custom-actions/calls/{call_id}")
async def call(request: Request, call_id: str, api: ApiDep) -> Response:
    """One call: status, attempts, the answer it got, latency, throttling."""
    found = await api.read(f"{CALLS}/{call_id}")
    return render(request, "actions/call.html", title=f"Call {call_id[:13]}…", call=found)


@router.get("/custom-actions/{action_id}")
async def action(request: Request, action_id: str, api: ApiDep) -> Response:
    """One action in its edit form (secrets stay empty)."""
    found = await api.read(f"{ACTIONS}/{action_id}")
    saved = bool(request.query_params.get("saved"))
    return _form(request, found, action=found, saved=saved)


@router.post("/custom-actions/{action_id}")
async def update_action(request: Request, action_id: str, api: ApiDep) -> Response:
    """Replace the action (an empty secret keeps the stored one)."""
    form = await form_of(request)
    answer = await api.send("PUT", f"{ACTIONS}/{action_id}", action_body(form))
    if answer.problem:
        found = await api.read(f"{ACTIONS}/{action_id}")
        return _form(request, _shown(form), action=found, problem=answer.problem)
    return RedirectResponse(console_url(request, f"/custom-actions/{action_id}?saved=1"), 303)


@router.post("/custom-actions/{action_id}/delete")
async def delete_action(request: Request, action_id: str, api: ApiDep) -> Response:
    """Delete the action (its calls stay in the ledger)."""
    answer = await api.send("DELETE", f"{ACTIONS}/{action_id}")
    if answer.problem:
        found = await api.read(f"{ACTIONS}/{action_id}")
        return _form(request, found, action=found, problem=answer.problem)
    return RedirectResponse(console_url(request, "/custom-actions"), 303)


def _form(
    request: Request,
    values: dict[str, Any],
    *,
    action: dict[str, Any] | None = None,
    problem: ApiProblem | None = None,
    saved: bool = False,
) -> Response:
    title = f"Custom action {action['name']}" if action else "New custom action"
    return render(
        request,
        "actions/form.html",
        400 if problem else 200,
        title=title,
        values=_editable(values),
        action=action,
        problem=problem,
        saved=saved,
        rules=RULES,
        auth_types=AUTH_TYPES,
    )


def action_body(form: dict[str, str]) -> dict[str, Any]:
    """The API body of the action form; text the API must judge (a bad number, bad JSON) goes as is."""
    return {
        "name": form.get("name", "").strip(),
        "description": form.get("description", ""),
        "url": form.get("url", "").strip(),
        "method": form.get("method", "POST"),
        "headers": _headers(form.get("headers", "")),
        "queryParameters": _json_or_text(form.get("queryParameters", "")),
        "authentication": _authentication(form),
        "body": form.get("body") or None,
        "timeoutSeconds": _number_or_text(form.get("timeoutSeconds", "30")),
    }


def _authentication(form: dict[str, str]) -> dict[str, Any]:
    kind = form.get("authType", "none")
    given: dict[str, Any] = {"type": kind}
    if kind == "basic":
        given["username"] = form.get("username", "")
    if kind == "apiKey":
        given["headerName"] = form.get("headerName", "")
    secret = form.get("secret", "")
    if kind in SECRET_OF and secret:
        given[SECRET_OF[kind]] = secret
    return given


def _headers(text: str) -> dict[str, str]:
    pairs = (line.partition(":") for line in text.splitlines() if line.strip())
    return {name.strip(): value.strip() for name, _, value in pairs}


def _json_or_text(text: str) -> Any:
    if not text.strip():
        return []
    try:
        return json.loads(text)
    except ValueError:
        return text


def _number_or_text(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def _offset(request: Request) -> int:
    """The page's ``offset`` (a bad one is the first page; the API bounds the rest)."""
    text = request.query_params.get("offset", "")
    return int(text) if text.isdigit() else 0


def _instant(value: str) -> str:
    """A ``datetime-local`` value (no zone) read as UTC, as the API wants a zone."""
    return f"{value}:00Z" if len(value) == 16 else value


def _shown(form: dict[str, str]) -> dict[str, Any]:
    """The submitted form as the page shows it again: the secret is never sent back to the browser."""
    return {**form, "secret": ""}


def _editable(values: dict[str, Any]) -> dict[str, Any]:
    """Form values from an action read from the API (or a submitted form, already flat)."""
    if "authType" in values:
        return values
    auth = values.get("authentication") or {}
    headers = values.get("headers") or {}
    params = values.get("queryParameters") or []
    return {
        **values,
        "headers": "\n".join(f"{name}: {value}" for name, value in headers.items()),
        "queryParameters": json.dumps(params) if params else "",
        "authType": auth.get("type", "none"),
        "username": auth.get("username", ""),
        "headerName": auth.get("headerName", ""),
        "secret": "",
        "hasSecret": any(key.startswith("has") and value for key, value in auth.items()),
    }
