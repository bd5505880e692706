"""Destinations: where dataflows write files. A destination is a Flow Service target connection (folder,
file format) on a base connection (the account: server, credentials). The create form is drawn from the
connection spec the API serves, so its fields, rules and help text are the API's own; secrets are
write-only (password inputs, never filled in)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from clarion.console.api import ApiProblem, ConsoleApi
from clarion.console.pages.runs import FLOWSERVICE, PAGE_SIZE, next_token_of, when
from clarion.console.web import ApiDep, console_url, form_of, render

router = APIRouter()

Text = Annotated[str, Query(max_length=200)]
SKIPPED_PARAMS = frozenset({"csvOptions"})
"""Target params the form leaves to their documented defaults (an object of CSV options)."""


@dataclass(frozen=True, slots=True)
class SpecField:
    """One input of the create form, from a connection spec's JSON schema property."""

    name: str
    """The form name, which is also the API's field path (``auth.params.domain``, ``params.fileType``)."""
    label: str
    help: str
    required: bool
    secret: bool
    number: bool
    choices: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DestinationType:
    """A destination connection spec, with the fields of one of its authentication schemes."""

    id: str
    name: str
    description: str
    auth_names: tuple[str, ...]
    auth_name: str
    auth_fields: tuple[SpecField, ...]
    target_fields: tuple[SpecField, ...]


def _fields(prefix: str, schema: dict[str, Any]) -> tuple[SpecField, ...]:
    required = set(schema.get("required", []))
    return tuple(
        SpecField(
            name=f"{prefix}{name}",
            label=name,
            help=str(prop.get("description", "")),
            required=name in required,
            secret=prop.get("format") == "password",
            number=prop.get("type") == "integer",
            choices=tuple(prop.get("enum", ())),
        )
        for name, prop in schema.get("properties", {}).items()
        if name not in SKIPPED_PARAMS
    )


def destination_type(spec: dict[str, Any], auth_name: str = "") -> DestinationType:
    """The form of a connection spec (``GET /connectionSpecs/{id}``) for one of its auth schemes."""
    auth_specs = {item["name"]: item for item in spec.get("authSpec", [])}
    chosen = auth_name if auth_name in auth_specs else next(iter(auth_specs), "")
    attributes = spec.get("attributes") or {}
    return DestinationType(
        id=spec["id"],
        name=spec["name"],
        description=str(attributes.get("description", "")),
        auth_names=tuple(auth_specs),
        auth_name=chosen,
        auth_fields=_fields("auth.params.", auth_specs[chosen]["spec"]) if chosen else (),
        target_fields=_fields("params.", (spec.get("targetSpec") or {}).get("spec", {})),
    )


async def destination_specs(api: ConsoleApi) -> dict[str, dict[str, Any]]:
    """The destination connection specs by id (the Profile store is a source, not a destination)."""
    body = await api.read(f"{FLOWSERVICE}/connectionSpecs")
    return {
        item["id"]: item
        for item in body.get("items", [])
        if (item.get("attributes") or {}).get("isDestination")
    }


def param_values(fields: tuple[SpecField, ...], form: dict[str, str], prefix: str) -> dict[str, Any]:
    """The filled-in fields as API params (empty ones left out; ports as numbers when they are)."""
    values: dict[str, Any] = {}
    for field in fields:
        raw = form.get(field.name, "").strip() if not field.secret else form.get(field.name, "")
        if raw:
            values[field.name.removeprefix(prefix)] = int(raw) if field.number and raw.isdigit() else raw
    return values


def location_of(params: dict[str, Any]) -> str:
    """Where a target connection writes: bucket and folder, or the folder."""
    folder = str(params.get("remotePath") or params.get("path") or "")
    bucket = params.get("bucketName")
    return f"s3://{bucket}/{folder}" if bucket else folder or "(root)"


@router.get("/destinations")
async def destinations_page(request: Request, api: ApiDep, type: Text = "", page: Text = "") -> Response:
    """The destinations (target connections), newest change first, by destination type."""
    specs = await destination_specs(api)
    params: dict[str, Any] = {"limit": PAGE_SIZE}
    if type in specs:
        params["property"] = f"connectionSpec.id=={type}"
    if page:
        params["continuationToken"] = page
    body = await api.read(f"{FLOWSERVICE}/targetConnections", **params)
    return render(
        request,
        "activation/destinations.html",
        title="Destinations",
        destinations=body.get("items", []),
        next_token=next_token_of(body),
        specs=specs,
        type=type if type in specs else "",
        location_of=location_of,
        when=when,
    )


@router.get("/destinations/new")
async def new_destination_page(request: Request, api: ApiDep, type: Text = "", auth: Text = "") -> Response:
    """Step 1: the destination types; step 2 (``type`` chosen): the form of that type."""
    specs = await destination_specs(api)
    if type not in specs:
        return render(request, "activation/destination_types.html", title="New destination", specs=specs)
    form_type = destination_type(specs[type], auth)
    return render(
        request, "activation/destination_form.html", title="New destination", kind=form_type, form={}
    )


@router.post("/destinations/new")
async def create_destination(request: Request, api: ApiDep) -> Response:
    """Create the account (base connection) then the destination (target connection); on a refusal of
    the second, the first is deleted again so nothing half-made stays."""
    form = await form_of(request)
    specs = await destination_specs(api)
    spec = specs.get(form.get("type", ""))
    if spec is None:
        return render(request, "activation/destination_types.html", 400, title="New destination", specs=specs)
    kind = destination_type(spec, form.get("authSpec", ""))
    name = form.get("name", "").strip()
    base: dict[str, Any] = {"name": name, "connectionSpec": {"id": kind.id, "version": "1.0"}}
    if kind.auth_name:
        auth_params = param_values(kind.auth_fields, form, "auth.params.")
        base["auth"] = {"specName": kind.auth_name, "params": auth_params}
    created = await api.send("POST", f"{FLOWSERVICE}/connections", base)
    if created.problem is not None:
        return _refused(request, kind, form, created.problem)
    base_id = created.body["id"]
    target = {
        "name": name,
        "baseConnectionId": base_id,
        "connectionSpec": {"id": kind.id, "version": "1.0"},
        "params": param_values(kind.target_fields, form, "params."),
    }
    answer = await api.send("POST", f"{FLOWSERVICE}/targetConnections", target)
    if answer.problem is not None:
        await api.send("DELETE", f"{FLOWSERVICE}/connections/{base_id}")
        return _refused(request, kind, form, answer.problem)
    return RedirectResponse(console_url(request, f"/destinations/{answer.body['id']}"), status_code=303)


def _refused(request: Request, kind: DestinationType, form: dict[str, str], problem: ApiProblem) -> Response:
    # Secrets are not sent back: the user types them again.
    secrets = {field.name for field in kind.auth_fields if field.secret}
    kept = {key: value for key, value in form.items() if key not in secrets}
    inputs = {field.name for field in (*kind.auth_fields, *kind.target_fields)} | {"name"}
    return render(
        request,
        "activation/destination_form.html",
        problem.status if 400 <= problem.status < 500 else 400,
        title="New destination",
        kind=kind,
        form=kept,
        problem=problem,
        problem_inline=problem.field in inputs,
    )


@dataclass(frozen=True, slots=True)
class Destination:
    """A destination as the API shows it: the target connection, its account, and its type's form."""

    target: dict[str, Any]
    base: dict[str, Any] | None
    spec_name: str
    kind: DestinationType | None

    @property
    def secret_names(self) -> frozenset[str]:
        """The account's write-only parameters."""
        fields = self.kind.auth_fields if self.kind else ()
        return frozenset(field.label for field in fields if field.secret)

    def form(self) -> dict[str, str]:
        """The edit form's values: name and every parameter, secrets left out."""
        values = {"name": str(self.target.get("name", ""))}
        auth = (self.base or {}).get("auth") or {}
        for name, value in (auth.get("params") or {}).items():
            if name not in self.secret_names:
                values[f"auth.params.{name}"] = str(value)
        for name, value in (self.target.get("params") or {}).items():
            values[f"params.{name}"] = str(value)
        return values


async def load_destination(api: ConsoleApi, target_id: str) -> Destination:
    """Read a destination, its account and its connection spec."""
    target = (await api.read(f"{FLOWSERVICE}/targetConnections/{target_id}"))["items"][0]
    base_id = target.get("baseConnectionId")
    base = (await api.read(f"{FLOWSERVICE}/connections/{base_id}"))["items"][0] if base_id else None
    spec = (await destination_specs(api)).get(target["connectionSpec"]["id"])
    auth_name = str(((base or {}).get("auth") or {}).get("specName", ""))
    kind = destination_type(spec, auth_name) if spec else None
    return Destination(target, base, spec["name"] if spec else target["connectionSpec"]["id"], kind)


@router.get("/destinations/{target_id}")
async def destination_page(request: Request, api: ApiDep, target_id: str) -> Response:
    """One destination: its location and format, its account (secrets never shown), its dataflows."""
    destination = await load_destination(api, target_id)
    flows = await api.read(f"{FLOWSERVICE}/flows", property=f"targetConnectionIds=={target_id}")
    return render(
        request,
        "activation/destination.html",
        title=destination.target["name"],
        destination=destination,
        target=destination.target,
        base=destination.base,
        flows=flows.get("items", []),
        location=location_of(destination.target.get("params") or {}),
    )


def _edit_form(
    request: Request, destination: Destination, form: dict[str, str], problem: ApiProblem | None = None
) -> Response:
    kind = destination.kind
    inputs = {field.name for field in (*kind.auth_fields, *kind.target_fields)} if kind else set()
    return render(
        request,
        "activation/destination_form.html",
        200 if problem is None else (problem.status if 400 <= problem.status < 500 else 400),
        title=f"Edit {destination.target['name']}",
        kind=kind,
        form=form,
        destination=destination,
        editing=True,
        problem=problem,
        problem_inline=problem is not None and problem.field in inputs | {"name"},
    )


@router.get("/destinations/{target_id}/edit")
async def edit_destination_page(request: Request, api: ApiDep, target_id: str) -> Response:
    """The destination's form, filled in; secrets empty (left empty, they stay as stored)."""
    destination = await load_destination(api, target_id)
    return _edit_form(request, destination, destination.form())


@router.post("/destinations/{target_id}/edit")
async def edit_destination(request: Request, api: ApiDep, target_id: str) -> Response:
    """JSON Patch the account, then the destination, each under the etag the form was read with."""
    form = await form_of(request)
    destination = await load_destination(api, target_id)
    if destination.kind is None:
        return _edit_form(request, destination, form)
    for path, etag, operations in patches_of(destination, destination.kind, form):
        answer = await api.call("PATCH", path, json_body=operations, headers={"If-Match": etag})
        if answer.problem is not None:
            return _edit_form(request, await load_destination(api, target_id), form, answer.problem)
    return RedirectResponse(console_url(request, f"/destinations/{target_id}"), status_code=303)


def patches_of(
    destination: Destination, kind: DestinationType, form: dict[str, str]
) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(path, etag read, JSON Patch) of the account and of the destination."""
    name = form.get("name", "").strip()
    patches: list[tuple[str, str, list[dict[str, Any]]]] = []
    base = destination.base
    if base is not None:
        operations: list[dict[str, Any]] = [{"op": "replace", "path": "/name", "value": name}]
        if kind.auth_name:
            params = param_values(kind.auth_fields, form, "auth.params.")
            stored = (base.get("auth") or {}).get("params") or {}
            # An empty secret keeps the stored one: the API keeps a secret sent back as the mask it shows.
            kept = {
                key: stored[key] for key in destination.secret_names if key in stored and key not in params
            }
            operations.append({"op": "replace", "path": "/auth/params", "value": {**params, **kept}})
        etag = form.get("baseEtag") or str(base.get("etag", ""))
        patches.append((f"{FLOWSERVICE}/connections/{base['id']}", etag, operations))
    target = destination.target
    params = param_values(kind.target_fields, form, "params.")
    if "csvOptions" in (target.get("params") or {}):  # not on the form: kept as they are
        params["csvOptions"] = target["params"]["csvOptions"]
    operations = [
        {"op": "replace", "path": "/name", "value": name},
        {"op": "replace", "path": "/params", "value": params},
    ]
    etag = form.get("targetEtag") or str(target.get("etag", ""))
    patches.append((f"{FLOWSERVICE}/targetConnections/{target['id']}", etag, operations))
    return patches


@router.post("/destinations/{target_id}/delete")
async def delete_destination(request: Request, api: ApiDep, target_id: str) -> Response:
    """Delete a destination no dataflow uses, then its account when nothing else is built on it."""
    target = (await api.read(f"{FLOWSERVICE}/targetConnections/{target_id}"))["items"][0]
    answer = await api.send("DELETE", f"{FLOWSERVICE}/targetConnections/{target_id}")
    if answer.problem is not None:
        return render(
            request, "error.html", answer.status, title="Not deleted", message=answer.problem.message
        )
    if base_id := target.get("baseConnectionId"):
        # Refused while other destinations share the account: then it simply stays.
        await api.send("DELETE", f"{FLOWSERVICE}/connections/{base_id}")
    return RedirectResponse(console_url(request, "/destinations"), status_code=303)
