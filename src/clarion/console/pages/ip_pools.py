"""IP pools: list, create, edit, delete (``/v1/ip-pools``). Relay passwords are write-only: never shown, and
an empty password field on edit keeps the stored one (the API's rule)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from clarion.console.api import ApiProblem
from clarion.console.web import ApiDep, console_url, current_session, form_of, render
from clarion.kit.params import Id

router = APIRouter(prefix="/ip-pools", dependencies=[Depends(current_session)])  # every page: signed in

RELAY_ROWS = 3
"""Relay rows a form offers (the pool's relays, then empty rows up to this)."""
TLS_MODES = ("none", "starttls", "tls")
PAGE_SIZE = 50


@router.get("")
async def list_pools(request: Request, api: ApiDep, offset: int = 0) -> Response:
    """The organization's IP pools."""
    page = await api.read("/v1/ip-pools", limit=PAGE_SIZE, offset=max(offset, 0))
    return render(
        request,
        "campaigns/ip_pools.html",
        title="IP pools",
        page=page,
        saved=request.query_params.get("saved"),
    )


@router.get("/new")
async def new_pool(request: Request) -> Response:
    """An empty pool form."""
    return _form(request, {"relays": [], "maxConnections": 16})


@router.post("/new")
async def create_pool(request: Request, api: ApiDep) -> Response:
    """Create the pool; the API's refusal is shown next to its field."""
    form = await form_of(request)
    answer = await api.send("POST", "/v1/ip-pools", pool_body(form))
    if answer.problem is not None:
        return _form(request, pool_echo(form), problem=answer.problem)
    return _saved(request, answer.body["name"])


@router.get("/{pool_id}")
async def edit_pool(request: Request, api: ApiDep, pool_id: Id) -> Response:
    """The pool's form (its name is fixed; passwords stay empty)."""
    return _form(request, await api.read(f"/v1/ip-pools/{pool_id}"), pool_id=pool_id)


@router.post("/{pool_id}")
async def replace_pool(request: Request, api: ApiDep, pool_id: Id) -> Response:
    """Replace the pool's relays and settings."""
    form = await form_of(request)
    answer = await api.send("PUT", f"/v1/ip-pools/{pool_id}", pool_body(form))
    if answer.problem is not None:
        return _form(request, pool_echo(form), pool_id=pool_id, problem=answer.problem)
    return _saved(request, answer.body["name"])


@router.post("/{pool_id}/delete")
async def delete_pool(request: Request, api: ApiDep, pool_id: Id) -> Response:
    """Delete the pool (the API refuses while a channel configuration uses it)."""
    answer = await api.send("DELETE", f"/v1/ip-pools/{pool_id}")
    if answer.problem is not None:
        pool = await api.read(f"/v1/ip-pools/{pool_id}")
        return _form(request, pool, pool_id=pool_id, problem=answer.problem)
    return RedirectResponse(console_url(request, "/ip-pools"), status_code=303)


def pool_body(form: Mapping[str, str]) -> dict[str, Any]:
    """The API body of a pool form; a relay row without a host is left out, an empty password omitted."""
    relays: list[dict[str, Any]] = []
    for index in range(RELAY_ROWS):
        host = form.get(f"relay-{index}-host", "").strip()
        if not host:
            continue
        relay: dict[str, Any] = {"host": host, "port": _number(form.get(f"relay-{index}-port"), 25)}
        relay["tls"] = form.get(f"relay-{index}-tls") or "none"
        if username := form.get(f"relay-{index}-username", "").strip():
            relay["username"] = username
        if password := form.get(f"relay-{index}-password", ""):
            relay["password"] = password
        relays.append(relay)
    addresses = [part.strip() for part in form.get("bindAddresses", "").replace(",", " ").split()]
    return {
        "name": form.get("name", "").strip(),
        "description": form.get("description", ""),
        "relays": relays,
        "bindAddresses": [address for address in addresses if address],
        "maxConnections": _number(form.get("maxConnections"), 16),
    }


def pool_echo(form: Mapping[str, str]) -> dict[str, Any]:
    """What the user typed, shaped like the API's pool, to show the form again (passwords dropped)."""
    body = pool_body(form)
    for relay in body["relays"]:
        relay["hasPassword"] = bool(relay.pop("password", None))
    return body


def _number(value: str | None, default: Any) -> Any:
    """An integer field: the number, or the text itself so the API names what is wrong with it."""
    text = (value or "").strip()
    if not text:
        return default
    return int(text) if text.isdigit() else text


def _form(
    request: Request,
    pool: Mapping[str, Any],
    *,
    pool_id: str | None = None,
    problem: ApiProblem | None = None,
) -> Response:
    relays = list(pool.get("relays") or [])
    relays += [{} for _ in range(RELAY_ROWS - len(relays))]
    title = f"IP pool {pool.get('name', '')}" if pool_id else "New IP pool"
    return render(
        request,
        "campaigns/ip_pool_form.html",
        problem.status if problem else 200,
        title=title,
        pool=pool,
        pool_id=pool_id,
        relays=relays[:RELAY_ROWS],
        tls_modes=TLS_MODES,
        problem=problem,
    )


def _saved(request: Request, name: str) -> Response:
    return RedirectResponse(console_url(request, f"/ip-pools?saved={quote(name)}"), status_code=303)
