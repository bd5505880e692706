"""The connection resources of Flow Service (base, source, target): create, read, list, patch, delete.

A base connection holds a destination's credentials: the secret ones sealed with the secret box, the
others in ``params``; reads show the secrets masked. A target connection names a base connection of
the same destination and the file format and location; a source connection is the Profile store.
"""

from __future__ import annotations

import json
from typing import Any

from clarion.activation import listing
from clarion.activation.errors import FlowInvalid, FlowResourceNotFound, VersionMismatch, catalogue, invalid
from clarion.activation.flowservice import parameter_rules, schemas, specs
from clarion.activation.flowservice.etags import CONCURRENT_CHANGE, require_current
from clarion.activation.flowservice.patch import apply as apply_patch
from clarion.activation.flowservice.repository import FlowServiceRepository
from clarion.activation.flowservice.views import connection_view, masked_auth_params
from clarion.db.uow import UnitOfWork
from clarion.kit.clock import utcnow
from clarion.kit.ids import new_id
from clarion.kit.repository import require
from clarion.kit.secretbox import SecretBox
from clarion.models.activation import FlowConnection
from clarion.tenancy.principal import Principal

RESOURCE_TYPES = {"base": "connections", "source": "sourceConnections", "target": "targetConnections"}
"""The ``report.type`` of a not-found answer, by connection kind (the resource's path name)."""
WRITABLE = {
    "base": ("name", "description", "auth"),
    "source": ("name", "description", "params", "data"),
    "target": ("name", "description", "params"),
}


def new_connection(principal: Principal, kind: str, name: str, description: str) -> FlowConnection:
    """A connection row with its tenancy and audit columns filled for ``principal``."""
    now = utcnow()
    return FlowConnection(
        id=new_id(),
        kind=kind,
        name=name,
        description=description,
        org_id=principal.org_id,
        sandbox_id=principal.sandbox_id,
        sandbox_name=principal.sandbox_name,
        **FlowConnection.authored(principal.technical_account, principal.client_id, now),
        params={},
        data={},
    )


def known_spec(spec_id: str, field: str = "connectionSpec.id") -> specs.ConnectionSpec:
    """The catalogue's connection spec, or Flow Service's 1413 answer."""
    spec = specs.connection_spec(spec_id)
    if spec is None:
        raise catalogue(
            "FLOW-1413",
            field,
            "unknown_spec",
            f"The spec ID provided is invalid ({spec_id!r}). Please provide a valid spec ID and try again.",
        )
    return spec


async def create(
    uow: UnitOfWork, principal: Principal, kind: str, body: Any, box: SecretBox
) -> FlowConnection:
    """Create a base (``kind`` base), source or target connection from a create request body."""
    repo = FlowServiceRepository.for_principal(uow, principal)
    if kind == "base":
        connection = _base(principal, schemas.read(schemas.ConnectionCreate, body), box)
    elif kind == "source":
        connection = await _source(repo, principal, schemas.read(schemas.SourceConnectionCreate, body))
    else:
        connection = await _target(repo, principal, schemas.read(schemas.TargetConnectionCreate, body))
    repo.add(connection)
    await uow.commit()
    return connection


def _base(principal: Principal, request: schemas.ConnectionCreate, box: SecretBox) -> FlowConnection:
    spec = known_spec(request.connection_spec.id)
    auth = parameter_rules.check_auth(spec, request.auth)
    connection = new_connection(principal, "base", request.name, request.description)
    connection.connection_spec_id = request.connection_spec.id
    connection.connection_spec_version = request.connection_spec.version
    _store_auth(connection, auth, box)
    return connection


async def _source(
    repo: FlowServiceRepository, principal: Principal, request: schemas.SourceConnectionCreate
) -> FlowConnection:
    spec = known_spec(request.connection_spec.id)
    if spec.kind != "profile":
        raise invalid(
            "connectionSpec.id",
            "source_spec",
            f"a source connection reads the Profile store ({specs.PROFILE_STORE_SPEC_ID})",
        )
    if request.base_connection_id is not None:
        await _base_of(repo, request.base_connection_id, spec)
    connection = new_connection(principal, "source", request.name, request.description)
    connection.connection_spec_id = request.connection_spec.id
    connection.connection_spec_version = request.connection_spec.version
    connection.base_connection_id = request.base_connection_id
    connection.params = request.params
    connection.data = request.data
    return connection


async def _target(
    repo: FlowServiceRepository, principal: Principal, request: schemas.TargetConnectionCreate
) -> FlowConnection:
    spec = known_spec(request.connection_spec.id)
    if spec.kind == "profile":
        raise invalid("connectionSpec.id", "target_spec", "the Profile store is a source, not a destination")
    await _base_of(repo, request.base_connection_id, spec)
    connection = new_connection(principal, "target", request.name, request.description)
    connection.connection_spec_id = request.connection_spec.id
    connection.connection_spec_version = request.connection_spec.version
    connection.base_connection_id = request.base_connection_id
    connection.params = parameter_rules.check_target_params(spec, request.params)
    connection.data = request.data
    return connection


async def _base_of(repo: FlowServiceRepository, base_id: str, spec: specs.ConnectionSpec) -> FlowConnection:
    base = require(
        await repo.connection(base_id, "base"),
        parameter_rules.not_in_sandbox("baseConnectionId", "base connection", base_id),
    )
    if specs.connection_spec(base.connection_spec_id) is not spec:
        raise invalid(
            "baseConnectionId",
            "spec_mismatch",
            f"base connection {base_id} is a {known_spec(base.connection_spec_id).name} connection, "
            f"not {spec.name}",
        )
    return base


async def get(uow: UnitOfWork, principal: Principal, kind: str, connection_id: str) -> FlowConnection:
    """One connection of this kind in the caller's sandbox, or the Flow Service 404."""
    connection = await FlowServiceRepository.for_principal(uow, principal).connection(connection_id, kind)
    return require(connection, FlowResourceNotFound(RESOURCE_TYPES[kind], connection_id))


async def item(uow: UnitOfWork, principal: Principal, kind: str, connection_id: str) -> dict[str, Any]:
    """``GET /<kind>/{id}``: ``{"items": [connection]}``."""
    connection = await get(uow, principal, kind, connection_id)
    bases = await FlowServiceRepository.for_principal(uow, principal).connections(
        [connection.base_connection_id or ""]
    )
    view = connection_view(
        connection, ims_org_id=principal.ims_org_id, base=bases.get(connection.base_connection_id or "")
    )
    return {"items": [view]}


async def search(
    uow: UnitOfWork, principal: Principal, kind: str, query: listing.ListQuery, path: str
) -> dict[str, Any]:
    """``GET /<kind>``: one page of connections (or ``{"count": n}``)."""
    repo = FlowServiceRepository.for_principal(uow, principal)
    found = await repo.find_connections(kind, query)
    bases = await repo.connections([row.base_connection_id for row in found.rows if row.base_connection_id])
    views = [
        connection_view(row, ims_org_id=principal.ims_org_id, base=bases.get(row.base_connection_id or ""))
        for row in found.rows
    ]
    return listing.answer(views, found.total, found.residual, query, path)


async def patch(
    uow: UnitOfWork,
    principal: Principal,
    kind: str,
    connection_id: str,
    *,
    if_match: str | None,
    operations: Any,
    box: SecretBox,
) -> FlowConnection:
    """Apply a JSON Patch to a connection whose etag the caller holds; returns it with a new etag."""
    repo = FlowServiceRepository.for_principal(uow, principal)
    connection = await get(uow, principal, kind, connection_id)
    require_current(if_match, connection.etag)
    if isinstance(operations, list) and any(
        isinstance(op, dict) and str(op.get("path", "")).startswith("/connectionSpec") for op in operations
    ):
        raise catalogue(
            "FLOW-1414",
            "connectionSpec",
            "read_only",
            "The connection spec of a connection cannot be updated.",
        )
    document = apply_patch(_writable(connection), operations, writable=WRITABLE[kind])
    values = _patched_values(connection, document, box)
    values |= {
        "etag": new_id(),
        "updated_at": utcnow(),
        "updated_by": principal.technical_account,
        "updated_client": principal.client_id,
    }
    if not await repo.update_if_current(connection, connection.etag, values):
        raise VersionMismatch(str(if_match).strip(), CONCURRENT_CHANGE)
    await uow.commit()
    return connection


def _writable(connection: FlowConnection) -> dict[str, Any]:
    document: dict[str, Any] = {"name": connection.name, "description": connection.description}
    if connection.kind == "base":
        if connection.auth_spec_name is not None:
            document["auth"] = {
                "specName": connection.auth_spec_name,
                "params": masked_auth_params(connection),
            }
    else:
        document["params"] = connection.params
        if connection.kind == "source":
            document["data"] = connection.data
    return document


def _patched_values(connection: FlowConnection, document: dict[str, Any], box: SecretBox) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": text_field(document.get("name"), "name", 512, required=True),
        "description": text_field(document.get("description", ""), "description", 4000, required=False),
    }
    spec = known_spec(connection.connection_spec_id)
    if connection.kind == "base":
        auth = document.get("auth")
        try:
            body = None if auth is None else schemas.AuthBody.model_validate(auth)
        except ValueError:
            raise invalid("auth", "type", "must be {specName, params}") from None
        checked = parameter_rules.check_auth(spec, body, kept_secrets=_opened(connection, box))
        values |= _auth_columns(checked, box)
    elif connection.kind == "target":
        params = document.get("params")
        if not isinstance(params, dict):
            raise invalid("params", "type", "must be an object")
        values["params"] = parameter_rules.check_target_params(spec, params)
    else:
        for key in ("params", "data"):
            if not isinstance(document.get(key, {}), dict):
                raise invalid(key, "type", "must be an object")
            values[key] = document.get(key, {})
    return values


def text_field(value: Any, field: str, limit: int, *, required: bool) -> str:
    """A string field of at most ``limit`` characters (non-blank when ``required``), or the 1100 answer."""
    if not isinstance(value, str) or len(value) > limit or (required and not value.strip()):
        raise FlowInvalid(
            field, "type", f"must be a {'non-empty ' if required else ''}string of at most {limit} characters"
        )
    return value


def _store_auth(connection: FlowConnection, auth: parameter_rules.CheckedAuth, box: SecretBox) -> None:
    for column, value in _auth_columns(auth, box).items():
        setattr(connection, column, value)


def _auth_columns(auth: parameter_rules.CheckedAuth, box: SecretBox) -> dict[str, Any]:
    sealed = box.seal(json.dumps(auth.secrets)) if auth.secrets else None
    return {"auth_spec_name": auth.spec_name, "params": auth.public, "auth_sealed": sealed}


def _opened(connection: FlowConnection, box: SecretBox) -> dict[str, str]:
    """The stored secrets of a base connection, in clear."""
    if not connection.auth_sealed:
        return {}
    opened: dict[str, str] = json.loads(box.open(connection.auth_sealed))
    return opened


def opened_auth(connection: FlowConnection, box: SecretBox) -> dict[str, Any]:
    """A base connection's full auth params, secrets in clear (for the exporter only, never a response)."""
    return {**connection.params, **_opened(connection, box)}


async def delete(uow: UnitOfWork, principal: Principal, kind: str, connection_id: str) -> None:
    """Delete a connection nothing uses (no target connection on a base one, no flow on the others)."""
    repo = FlowServiceRepository.for_principal(uow, principal)
    connection = await get(uow, principal, kind, connection_id)
    if kind == "base":
        users = await repo.targets_of_base(connection_id)
        if users:
            raise catalogue(
                "FLOW-1418",
                "id",
                "in_use",
                f"The base connection with the ID {connection_id} cannot be deleted because the base "
                f"connection is being used in one or more connections ({', '.join(users)}). Please ensure "
                "that corresponding connections are deleted before deleting a base connection.",
            )
    else:
        flows = await repo.flows_using(connection_id)
        if flows:
            raise catalogue(
                "FLOW-1447",
                "id",
                "in_use",
                f"Found active flows containing id {connection_id}: {', '.join(flows)}.",
            )
    await repo.remove(connection)
    await uow.commit()
