"""Channel configurations: list, create, edit, delete (``/v1/channel-configurations``).

The naming rule and the high-throughput rules are shown before saving; provider secrets are write-only
(empty on edit keeps them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from clarion.console.api import ApiProblem
from clarion.console.web import ApiDep, console_url, current_session, form_of, render
from clarion.kit.params import Id

router = APIRouter(
    prefix="/channel-configurations", dependencies=[Depends(current_session)]
)  # every page: signed in

CHANNELS = ("email", "sms", "push")
PAGE_SIZE = 50
MAX_OPTIONS = 500
"""Choices a select offers (the API's largest page): more pools or configurations than that are not listed."""
EMAIL_FIELDS = (
    "fromAddress",
    "fromName",
    "replyTo",
    "errorAddress",
    "bounceDomain",
    "ipPoolId",
    "listUnsubscribe",
)
OPTIONAL_EMAIL_FIELDS = frozenset({"replyTo", "errorAddress", "bounceDomain", "listUnsubscribe"})
PROVIDER_FIELDS = {
    "sms": ("baseUrl", "accountSid", "authToken", "fromNumber"),
    "push": ("baseUrl", "projectId", "accessToken"),
}
SECRET_FIELDS = frozenset({"authToken", "accessToken"})
"""Write-only: omitted when left empty, so the API keeps the stored secret."""
DKIM_SLOTS = 2
"""DKIM keys a configuration holds (the API's limit): the form has this many slots."""
DKIM_ALGORITHMS = ("ed25519-sha256", "rsa-sha256")


@router.get("")
async def list_configurations(request: Request, api: ApiDep, offset: int = 0) -> Response:
    """The sandbox's channel configurations."""
    page = await api.read("/v1/channel-configurations", limit=PAGE_SIZE, offset=max(offset, 0))
    return render(
        request,
        "campaigns/configurations.html",
        title="Channel configurations",
        page=page,
        saved=request.query_params.get("saved"),
    )


@router.get("/new")
async def new_configuration(request: Request, api: ApiDep) -> Response:
    """An empty configuration form (email by default)."""
    return await _form(request, api, {"channel": "email", "email": {}})


@router.post("/new")
async def create_configuration(request: Request, api: ApiDep) -> Response:
    """Create the configuration; the API's refusal is shown next to its field."""
    form = await form_of(request)
    answer = await api.send("POST", "/v1/channel-configurations", configuration_body(form))
    if answer.problem is not None:
        return await _form(request, api, configuration_body(form, echo=True), problem=answer.problem)
    return _saved(request, answer.body["name"])


@router.get("/{configuration_id}")
async def edit_configuration(request: Request, api: ApiDep, configuration_id: Id) -> Response:
    """The configuration's form (secrets stay empty)."""
    configuration = await api.read(f"/v1/channel-configurations/{configuration_id}")
    return await _form(request, api, configuration, configuration_id=configuration_id)


@router.post("/{configuration_id}")
async def replace_configuration(request: Request, api: ApiDep, configuration_id: Id) -> Response:
    """Replace the configuration."""
    form = await form_of(request)
    path = f"/v1/channel-configurations/{configuration_id}"
    answer = await api.send("PUT", path, configuration_body(form))
    if answer.problem is not None:
        echo = configuration_body(form, echo=True)
        return await _form(request, api, echo, configuration_id=configuration_id, problem=answer.problem)
    return _saved(request, answer.body["name"])


@router.post("/{configuration_id}/delete")
async def delete_configuration(request: Request, api: ApiDep, configuration_id: Id) -> Response:
    """Delete the configuration (the API refuses while a campaign uses it)."""
    path = f"/v1/channel-configurations/{configuration_id}"
    answer = await api.send("DELETE", path)
    if answer.problem is not None:
        configuration = await api.read(path)
        return await _form(
            request, api, configuration, configuration_id=configuration_id, problem=answer.problem
        )
    return RedirectResponse(console_url(request, "/channel-configurations"), status_code=303)


def configuration_body(form: Mapping[str, str], *, echo: bool = False) -> dict[str, Any]:
    """The API body of a configuration form: only the chosen channel's block; empty secrets omitted.

    With ``echo`` (to show the form again) secrets are never carried back.
    """
    channel = form.get("channel", "email")
    body: dict[str, Any] = {
        "name": form.get("name", "").strip(),
        "description": form.get("description", ""),
        "channel": channel,
        "highThroughput": form.get("highThroughput") == "true",
    }
    if channel == "email":
        block = {name: form.get(f"email.{name}", "").strip() for name in EMAIL_FIELDS}
        body["email"] = {
            name: value for name, value in block.items() if value or name not in OPTIONAL_EMAIL_FIELDS
        }
        body["email"]["dkim"] = dkim_keys(form, echo=echo)
    elif channel in PROVIDER_FIELDS:
        block = {name: form.get(f"{channel}.{name}", "").strip() for name in PROVIDER_FIELDS[channel]}
        body[channel] = {
            name: value for name, value in block.items() if name not in SECRET_FIELDS or (value and not echo)
        }
    return body


def dkim_keys(form: Mapping[str, str], *, echo: bool = False) -> list[dict[str, Any]]:
    """The DKIM slots of the form: a slot without a domain, or marked for removal, is no key; an empty
    private key keeps the stored one (write-only); with ``echo`` a typed key is never carried back."""
    keys: list[dict[str, Any]] = []
    for slot in range(DKIM_SLOTS):
        field = f"email.dkim[{slot}]"
        domain = form.get(f"{field}.domain", "").strip()
        if not domain or form.get(f"{field}.remove") == "true":
            continue
        key: dict[str, Any] = {
            "domain": domain,
            "selector": form.get(f"{field}.selector", "").strip(),
            "algorithm": form.get(f"{field}.algorithm", DKIM_ALGORITHMS[0]),
        }
        private_key = form.get(f"{field}.privateKey", "").strip()
        if private_key and not echo:
            key["privateKey"] = private_key
        headers = [name.strip() for name in form.get(f"{field}.headers", "").split(",") if name.strip()]
        if headers:
            key["headers"] = headers
        keys.append(key)
    return keys


async def _form(
    request: Request,
    api: ApiDep,
    configuration: Mapping[str, Any],
    *,
    configuration_id: str | None = None,
    problem: ApiProblem | None = None,
) -> Response:
    pools = await api.read("/v1/ip-pools", limit=MAX_OPTIONS)
    name = configuration.get("name", "")
    return render(
        request,
        "campaigns/configuration_form.html",
        problem.status if problem else 200,
        title=f"Channel configuration {name}" if configuration_id else "New channel configuration",
        configuration=configuration,
        configuration_id=configuration_id,
        channels=CHANNELS,
        dkim_slots=DKIM_SLOTS,
        dkim_algorithms=DKIM_ALGORITHMS,
        pools=[(pool["id"], pool["name"]) for pool in pools["items"]],
        problem=problem,
    )


def _saved(request: Request, name: str) -> Response:
    return RedirectResponse(
        console_url(request, f"/channel-configurations?saved={quote(name)}"), status_code=303
    )
