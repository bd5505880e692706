"""Rules of capping (endpoint) configurations, the throttling API's predecessor (contract §3.8).

Per sandbox, any number of them. Unlike throttling, a deployed capping configuration changes at runtime only
when it is deployed again: a PUT edits the authoring copy (state ``updated``, ``hasBeenDeployed`` still true)
and ``deployedConfig`` keeps the snapshot taken at the last deploy, which is what the runtime enforces.
"""

from __future__ import annotations

from typing import Any

from clarion.db.uow import UnitOfWork
from clarion.kit.clock import utcnow
from clarion.kit.repository import require
from clarion.models.throttling import EndpointConfig
from clarion.throttling import errors, lifecycle
from clarion.throttling.lifecycle import Caller
from clarion.throttling.repository import CappingRepository, RevisionRepository
from clarion.throttling.validation import CappingFields, PayloadError, check_capping, decode, read_capping

COLLECTION = "endpointConfigs"
NO_CONNECTION_LIMIT = -1
"""Stored at deploy when ``maxHttpConnections`` is absent: the system default (no limit)."""


async def list_configs(uow: UnitOfWork, caller: Caller) -> dict[str, Any]:
    """``{"results": [...]}``: every capping configuration of the sandbox."""
    return {"results": [_view(config, caller) for config in await _repo(uow, caller).all()]}


async def create(uow: UnitOfWork, caller: Caller, body: bytes) -> dict[str, Any]:
    """Create a configuration; saved even when it cannot be deployed yet."""
    fields = _read(body, caller)
    principal = caller.principal
    config = EndpointConfig(org_id=principal.org_id, sandbox_id=principal.sandbox_id)
    _assign(config, fields)
    lifecycle.created(config, principal, utcnow())
    _repo(uow, caller).add(config)
    await _written(uow, caller)
    verdict = check_capping(fields).view()
    return lifecycle.response("created", _view(config, caller, brief=True), COLLECTION, verdict)


async def get(uow: UnitOfWork, caller: Caller, uid: str) -> dict[str, Any]:
    """``{"result": <configuration>}``."""
    return {"result": _view(await _get(uow, caller, uid), caller)}


async def update(uow: UnitOfWork, caller: Caller, uid: str, body: bytes) -> dict[str, Any]:
    """Overwrite every field of the authoring copy; the deployed snapshot is untouched until a deploy."""
    config = await _get(uow, caller, uid)
    fields = _read(body, caller)
    _assign(config, fields)
    lifecycle.updated(config, caller.principal, utcnow(), live=False)
    await _written(uow, caller)
    verdict = check_capping(fields).view()
    return lifecycle.response("updated", _view(config, caller), COLLECTION, verdict)


async def delete(uow: UnitOfWork, caller: Caller, uid: str, *, force: bool) -> dict[str, Any]:
    """Delete; a deployed configuration only with ``forceDelete`` (else the documented 1451)."""
    config = await _get(uow, caller, uid)
    if config.has_been_deployed and not force:
        principal = caller.principal
        raise errors.deployed_endpoint_config(
            f"{principal.ims_org_id}_{principal.sandbox_name}_journeyVersions"
        )
    await _repo(uow, caller).remove(config)
    await _written(uow, caller)
    return {}


async def can_deploy(uow: UnitOfWork, caller: Caller, uid: str) -> dict[str, Any]:
    """``{"canDeploy": …}`` for the stored configuration."""
    config = await _get(uow, caller, uid)
    return {"canDeploy": check_capping(_fields(config)).view()}


async def deploy(uow: UnitOfWork, caller: Caller, uid: str) -> None:
    """Snapshot the configuration into ``deployedConfig`` (a deployed one is redeployed with its edits)."""
    config = await _get(uow, caller, uid)
    verdict = check_capping(_fields(config))
    if not verdict.ok:
        raise errors.not_deployable(
            "deploy endpoint config", verdict, caller.schema(COLLECTION), context=errors.CAPPING_CONTEXT
        )
    lifecycle.deployed(config, caller.principal, utcnow(), _snapshot(config))
    await _written(uow, caller)


async def undeploy(uow: UnitOfWork, caller: Caller, uid: str) -> None:
    """Stop enforcing; a configuration that is not deployed is left as it is (204 either way)."""
    config = await _get(uow, caller, uid)
    if config.has_been_deployed:
        lifecycle.undeployed(config)
        config.deployed_config = None
        await _written(uow, caller)


def _repo(uow: UnitOfWork, caller: Caller) -> CappingRepository:
    principal = caller.principal
    return CappingRepository(uow.session, principal.org_id, principal.sandbox_id)


async def _get(uow: UnitOfWork, caller: Caller, uid: str) -> EndpointConfig:
    return require(await _repo(uow, caller).get(uid), errors.capping_not_found(caller.schema(COLLECTION)))


async def _written(uow: UnitOfWork, caller: Caller) -> None:
    await RevisionRepository(uow.session, caller.principal.org_id).bump()
    await uow.commit()


def _read(body: bytes, caller: Caller) -> CappingFields:
    try:
        return read_capping(decode(body))
    except PayloadError as exc:
        raise errors.invalid_capping_payload(
            exc.detail, caller.schema(COLLECTION), not_json=exc.not_json
        ) from exc


def _assign(config: EndpointConfig, fields: CappingFields) -> None:
    config.url = fields.url
    config.methods = None if fields.methods is None else list(fields.methods)
    config.services = fields.services


def _fields(config: EndpointConfig) -> CappingFields:
    methods = None if config.methods is None else tuple(config.methods)
    return CappingFields(config.url, methods, config.services)


def _snapshot(config: EndpointConfig) -> dict[str, Any]:
    """What the runtime enforces (read by ``service.capping_rules``)."""
    services = {
        name: {
            "maxHttpConnections": settings.get("maxHttpConnections", NO_CONNECTION_LIMIT),
            "rating": dict(settings["rating"]),
        }
        for name, settings in (config.services or {}).items()
    }
    return {"url": config.url, "methods": list(config.methods or ()), "services": services}


def _view(config: EndpointConfig, caller: Caller, *, brief: bool = False) -> dict[str, Any]:
    """The wire form; ``brief`` is the create answer's ``createdElement`` (no ``_id``)."""
    fields = (("url", config.url), ("methods", config.methods), ("services", config.services))
    view: dict[str, Any] = {key: value for key, value in fields if value is not None}
    view |= _identity(config, caller) | {
        "authoringFormatVersion": lifecycle.AUTHORING_FORMAT_VERSION,
        "metadata": lifecycle.metadata(config),
        "state": config.state,
        "hasBeenDeployed": config.has_been_deployed,
    }
    if not brief:
        view["_id"] = config.id
    if config.deployed_config is not None:
        view["deployedConfig"] = {"_id": config.id, **config.deployed_config, **_identity(config, caller)}
    return view


def _identity(config: EndpointConfig, caller: Caller) -> dict[str, str]:
    principal = caller.principal
    return {
        "orgId": principal.ims_org_id,
        "tenantId": principal.sandbox_name,
        "uid": config.id,
        "sandboxName": principal.sandbox_name,
        "sandboxId": config.sandbox_id,
    }
