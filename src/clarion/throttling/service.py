"""Rules of the throttling configuration, and the rules the throttle runtime reads.

One configuration per organization (1465), managed from a production sandbox only (1463), applied to the
whole organization. Deploying activates it; a PUT on a deployed configuration takes effect at once (its
values become the deployed ones); an undeploy stops new calls from being throttled under it but the
runtime keeps draining what it queued for 24 h — also after a (forced) delete, which leaves a hidden
tombstone until then.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from clarion.db.uow import UnitOfWork
from clarion.errors import ClarionError
from clarion.kit.clock import utcnow
from clarion.kit.repository import require
from clarion.models.throttling import EndpointConfig, ThrottlingConfig
from clarion.throttling import errors, lifecycle
from clarion.throttling.lifecycle import Caller
from clarion.throttling.repository import (
    CappingRepository,
    RevisionRepository,
    ThrottlingRepository,
    in_force_everywhere,
)
from clarion.throttling.urlpattern import PatternError, UrlPattern, compile_pattern
from clarion.throttling.validation import (
    PayloadError,
    ThrottlingFields,
    check_throttling,
    decode,
    read_throttling,
)

log = structlog.get_logger()

COLLECTION = "throttlingConfigs"
DRAIN = timedelta(hours=24)
"""How long an undeployed configuration keeps pacing the calls it queued (contract §3.6)."""

P = ParamSpec("P")
R = TypeVar("R")


def _reported_as(operation: str) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Answer an unexpected failure with the operation's documented code (1457 to 1464), and log it."""

    def decorate(function: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(function)
        async def run(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return await function(*args, **kwargs)
            except ClarionError:
                raise
            except Exception as exc:
                log.exception("throttling_operation_failed", operation=operation)
                caller = next((arg for arg in args if isinstance(arg, Caller)), None)
                schema = caller.schema(COLLECTION) if caller else COLLECTION
                raise errors.throttling_unexpected(operation, schema) from exc

        return run

    return decorate


@_reported_as("get")
async def list_configs(uow: UnitOfWork, caller: Caller) -> dict[str, Any]:
    """``{"results": [...]}``: the organization's configuration, if any."""
    _require_production(caller)
    configs = await _repo(uow, caller).live()
    return {"results": [_view(config, caller) for config in configs]}


@_reported_as("create")
async def create(uow: UnitOfWork, caller: Caller, body: bytes) -> dict[str, Any]:
    """Create the organization's configuration; saved even when it cannot be deployed yet."""
    _require_production(caller)
    fields = _read(body, caller)
    repo = _repo(uow, caller)
    now = utcnow()
    await repo.purge_drained(undeployed_before=now - DRAIN)
    if await repo.live():
        raise errors.create_limit(caller.schema(COLLECTION))
    principal = caller.principal
    config = ThrottlingConfig(
        org_id=principal.org_id, sandbox_id=principal.sandbox_id, sandbox_name=principal.sandbox_name
    )
    _assign(config, fields)
    lifecycle.created(config, principal, now)
    if not await repo.insert(config):  # a concurrent create won the organization's slot
        raise errors.create_limit(caller.schema(COLLECTION))
    await _written(uow, caller)
    verdict = check_throttling(fields).view()
    return lifecycle.response("created", _view(config, caller, brief=True), COLLECTION, verdict)


@_reported_as("get")
async def get(uow: UnitOfWork, caller: Caller, uid: str) -> dict[str, Any]:
    """``{"result": <configuration>}``."""
    return {"result": _view(await _get(uow, caller, uid), caller)}


@_reported_as("update")
async def update(uow: UnitOfWork, caller: Caller, uid: str, body: bytes) -> dict[str, Any]:
    """Overwrite every field. A deployed configuration stays deployed with the new values at once, so
    values that would not deploy are refused rather than saved."""
    config = await _get(uow, caller, uid)
    fields = _read(body, caller)
    verdict = check_throttling(fields)
    if config.has_been_deployed and not verdict.ok:
        raise errors.not_deployable(
            "update a deployed throttling config",
            verdict,
            caller.schema(COLLECTION),
            context=errors.THROTTLING_CONTEXT,
        )
    _assign(config, fields)
    lifecycle.updated(config, caller.principal, utcnow(), live=True)
    if config.has_been_deployed:
        config.deployed_config = _snapshot(config)
    await _written(uow, caller)
    return lifecycle.response("updated", _view(config, caller), COLLECTION, verdict.view())


@_reported_as("delete")
async def delete(uow: UnitOfWork, caller: Caller, uid: str, *, force: bool) -> dict[str, Any]:
    """Delete; a deployed configuration only with ``forceDelete`` (undeploy + delete), else 1456."""
    config = await _get(uow, caller, uid)
    if config.has_been_deployed and not force:
        raise errors.delete_forbidden(caller.schema(COLLECTION))
    now = utcnow()
    if config.has_been_deployed:
        _undeploy(config, now)
    repo = _repo(uow, caller)
    if config.undeployed_at is not None and config.undeployed_at > now - DRAIN:
        repo.retire(config, now)
    else:
        await repo.remove(config)
    await _written(uow, caller)
    return {}


@_reported_as("get")
async def can_deploy(uow: UnitOfWork, caller: Caller, uid: str) -> dict[str, Any]:
    """``{"canDeploy": …}`` for the stored configuration."""
    config = await _get(uow, caller, uid)
    return {"canDeploy": check_throttling(_fields(config)).view()}


@_reported_as("deploy")
async def deploy(uow: UnitOfWork, caller: Caller, uid: str) -> None:
    """Activate the configuration (1466 when it already runs; refused while it does not validate)."""
    config = await _get(uow, caller, uid)
    if config.has_been_deployed:
        raise errors.already_deployed(caller.codes, caller.schema(COLLECTION))
    verdict = check_throttling(_fields(config))
    if not verdict.ok:
        raise errors.not_deployable(
            "deploy throttling config", verdict, caller.schema(COLLECTION), context=errors.THROTTLING_CONTEXT
        )
    lifecycle.deployed(config, caller.principal, utcnow(), _snapshot(config))
    config.undeployed_at = None
    await _written(uow, caller)


@_reported_as("undeploy")
async def undeploy(uow: UnitOfWork, caller: Caller, uid: str) -> None:
    """Deactivate; a configuration that is not deployed is left as it is (204 either way, per the spec)."""
    config = await _get(uow, caller, uid)
    if config.has_been_deployed:
        _undeploy(config, utcnow())
        await _written(uow, caller)


def _require_production(caller: Caller) -> None:
    if not caller.principal.is_production:
        raise errors.non_prod_sandbox(caller.schema(COLLECTION))


def _repo(uow: UnitOfWork, caller: Caller) -> ThrottlingRepository:
    return ThrottlingRepository(uow.session, caller.principal.org_id)


async def _get(uow: UnitOfWork, caller: Caller, uid: str) -> ThrottlingConfig:
    _require_production(caller)
    config = await _repo(uow, caller).get(uid)
    return require(config, errors.throttling_not_found(caller.codes, caller.schema(COLLECTION)))


async def _written(uow: UnitOfWork, caller: Caller) -> None:
    await RevisionRepository(uow.session, caller.principal.org_id).bump()
    await uow.commit()


def _read(body: bytes, caller: Caller) -> ThrottlingFields:
    try:
        return read_throttling(decode(body))
    except PayloadError as exc:
        raise errors.invalid_throttling_payload(exc.detail, caller.schema(COLLECTION)) from exc


def _assign(config: ThrottlingConfig, fields: ThrottlingFields) -> None:
    config.name = fields.name
    config.description = fields.description
    config.url_pattern = fields.url_pattern
    config.methods = None if fields.methods is None else list(fields.methods)
    config.max_throughput = fields.max_throughput


def _fields(config: ThrottlingConfig) -> ThrottlingFields:
    methods = None if config.methods is None else tuple(config.methods)
    return ThrottlingFields(
        config.name, config.description, config.url_pattern, methods, config.max_throughput
    )


def _snapshot(config: ThrottlingConfig) -> dict[str, Any]:
    """What the runtime runs: read by ``throttle_rules``."""
    return {
        "urlPattern": config.url_pattern,
        "methods": list(config.methods or ()),
        "maxThroughput": config.max_throughput,
    }


def _undeploy(config: ThrottlingConfig, now: datetime) -> None:
    # The snapshot stays: the runtime drains the calls it queued under it for another 24 h.
    lifecycle.undeployed(config)
    config.undeployed_at = now


def _view(config: ThrottlingConfig, caller: Caller, *, brief: bool = False) -> dict[str, Any]:
    """The wire form; ``brief`` is the create answer's ``createdElement`` (no ``_id``/``hasBeenDeployed``)."""
    fields = (
        ("name", config.name),
        ("description", config.description),
        ("urlPattern", config.url_pattern),
        ("methods", config.methods),
        ("maxThroughput", config.max_throughput),
    )
    view: dict[str, Any] = {key: value for key, value in fields if value is not None}
    view |= {
        "orgId": caller.principal.ims_org_id,
        "sandboxId": config.sandbox_id,
        "sandboxName": config.sandbox_name,
        "uid": config.id,
        "metadata": lifecycle.metadata(config),
        "state": config.state,
        "authoringFormatVersion": lifecycle.AUTHORING_FORMAT_VERSION,
    }
    if not brief:
        view["_id"] = f"{config.id}_{config.sandbox_id}"
        view["hasBeenDeployed"] = config.has_been_deployed
    if config.has_been_deployed:
        view["version"] = lifecycle.AUTHORING_FORMAT_VERSION
    return view


# The runtime's view ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThrottleRule:
    """Calls matching ``pattern`` and one of ``methods`` are paced at ``max_throughput`` per second."""

    config_uid: str
    org_id: str
    pattern: UrlPattern
    methods: frozenset[str]
    max_throughput: int
    draining_until: datetime | None
    """None while deployed; after an undeploy (or forced delete) the moment the draining ends."""
    name: str = ""
    """The configuration's name (for people: the live view)."""


@dataclass(frozen=True, slots=True)
class CappingRule:
    """Calls matching ``pattern`` and ``methods`` beyond ``max_calls`` per ``period_ms`` are rejected."""

    config_uid: str
    sandbox_id: str
    pattern: UrlPattern
    methods: frozenset[str]
    service: str
    max_calls: int
    period_ms: int
    max_http_connections: int | None


async def throttle_rules(source: UnitOfWork | AsyncSession, org_id: str) -> list[ThrottleRule]:
    """The organization's throttling rules: the deployed configuration and any undeployed < 24 h ago."""
    now = utcnow()
    repo = ThrottlingRepository(_session(source), org_id)
    configs = await repo.in_force(undeployed_since=now - DRAIN)
    return [rule for config in configs if (rule := _throttle_rule(config)) is not None]


async def all_throttle_rules(source: UnitOfWork | AsyncSession) -> list[ThrottleRule]:
    """Every organization's throttling rules in force (deployed, or draining): what the runtime serves."""
    configs = await in_force_everywhere(_session(source), undeployed_since=utcnow() - DRAIN)
    return [rule for config in configs if (rule := _throttle_rule(config)) is not None]


async def capping_rules(source: UnitOfWork | AsyncSession, org_id: str, sandbox_id: str) -> list[CappingRule]:
    """The sandbox's capping rules, from each deployed configuration's snapshot (``deployedConfig``)."""
    configs = await CappingRepository(_session(source), org_id, sandbox_id).deployed()
    return [rule for config in configs if (rule := _capping_rule(config)) is not None]


async def rules_revision(source: UnitOfWork | AsyncSession, org_id: str) -> int:
    """A number that moves whenever the organization's throttling or capping configurations change."""
    return await RevisionRepository(_session(source), org_id).current()


def _session(source: UnitOfWork | AsyncSession) -> AsyncSession:
    return source.session if isinstance(source, UnitOfWork) else source


def _throttle_rule(config: ThrottlingConfig) -> ThrottleRule | None:
    snapshot = config.deployed_config or {}
    pattern = _pattern(config.id, snapshot.get("urlPattern"))
    if pattern is None:
        return None
    draining_until = None
    if not config.has_been_deployed and config.undeployed_at is not None:
        draining_until = config.undeployed_at + DRAIN
    return ThrottleRule(
        config_uid=config.id,
        org_id=config.org_id,
        pattern=pattern,
        methods=frozenset(snapshot.get("methods") or ()),
        max_throughput=int(snapshot["maxThroughput"]),
        draining_until=draining_until,
        name=config.name or "",
    )


def _capping_rule(config: EndpointConfig) -> CappingRule | None:
    snapshot = config.deployed_config or {}
    pattern = _pattern(config.id, snapshot.get("url"))
    if pattern is None:
        return None
    ((service, settings),) = snapshot["services"].items()
    connections = int(settings.get("maxHttpConnections", -1))
    return CappingRule(
        config_uid=config.id,
        sandbox_id=config.sandbox_id,
        pattern=pattern,
        # Capping's method list spells OPTIONS "OPTION" (contract §3.8); the runtime sees real methods.
        methods=frozenset("OPTIONS" if method == "OPTION" else method for method in snapshot["methods"]),
        service=service,
        max_calls=int(settings["rating"]["maxCallsCount"]),
        period_ms=int(settings["rating"]["periodInMs"]),
        max_http_connections=None if connections < 0 else connections,
    )


def _pattern(uid: str, text: object) -> UrlPattern | None:
    try:
        return compile_pattern(str(text))
    except PatternError:
        # Deploy validated it: a stored snapshot that no longer compiles is a bug, not a reason to stop.
        log.error("throttling_rule_unusable", config_uid=uid, url_pattern=str(text))
        return None
