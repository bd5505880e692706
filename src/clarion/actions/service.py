"""Rules of custom actions (write-only secrets, versions) and the runtime's way in (``ActionSpec``)."""

from __future__ import annotations

from typing import Any

from clarion.actions import validation
from clarion.actions.errors import ActionNameTaken, CustomActionNotFound
from clarion.actions.repository import CustomActionRepository
from clarion.actions.request import ActionSpec, OutboundRequest, QueryParameter, action_spec
from clarion.actions.schemas import Authentication, CustomActionWrite
from clarion.db.uow import UnitOfWork
from clarion.kit.clock import utcnow
from clarion.kit.repository import require
from clarion.kit.secretbox import SecretBox
from clarion.models.actions import CustomAction
from clarion.tenancy.principal import Principal

__all__ = [
    "ActionSpec",
    "OutboundRequest",
    "QueryParameter",
    "action_exists",
    "find_action",
    "load_action",
]

SECRET_FIELDS = {"basic": "password", "bearer": "token", "apiKey": "apiKey"}
"""The write-only secret of each authentication type (stored sealed as ``<name>Sealed``)."""


# Custom actions ---------------------------------------------------------------------------------------


async def create_action(
    uow: UnitOfWork, principal: Principal, body: CustomActionWrite, box: SecretBox, *, any_port: bool = False
) -> CustomAction:
    """Create a custom action in the caller's sandbox."""
    repo = _actions(uow, principal)
    if await repo.by_name(body.name) is not None:
        raise ActionNameTaken(f"name: a custom action named {body.name!r} already exists")
    action = CustomAction(org_id=principal.org_id, sandbox_id=principal.sandbox_id)
    _apply(action, body, box, any_port=any_port)
    repo.add(action)
    await uow.commit()
    return action


async def get_action(uow: UnitOfWork, principal: Principal, action_id: str) -> CustomAction:
    """One custom action of the caller's sandbox."""
    action = await _actions(uow, principal).get(action_id)
    return require(action, CustomActionNotFound(f"Custom action {action_id!r} does not exist"))


async def list_actions(
    uow: UnitOfWork, principal: Principal, *, limit: int, offset: int
) -> tuple[list[CustomAction], int]:
    """The sandbox's custom actions by name."""
    return await _actions(uow, principal).page(
        CustomAction, limit=limit, offset=offset, order_by=CustomAction.name
    )


async def replace_action(
    uow: UnitOfWork,
    principal: Principal,
    action_id: str,
    body: CustomActionWrite,
    box: SecretBox,
    *,
    any_port: bool = False,
) -> CustomAction:
    """Replace an action (a new version); omitted secrets keep their stored value."""
    action = await get_action(uow, principal, action_id)
    if body.name != action.name and await _actions(uow, principal).by_name(body.name) is not None:
        raise ActionNameTaken(f"name: a custom action named {body.name!r} already exists")
    _apply(action, body, box, any_port=any_port)
    action.version += 1
    action.updated_at = utcnow()
    await uow.commit()
    return action


async def delete_action(uow: UnitOfWork, principal: Principal, action_id: str) -> None:
    """Delete an action; its recorded calls stay in the ledger."""
    action = await get_action(uow, principal, action_id)
    await _actions(uow, principal).remove(action)
    await uow.commit()


def _actions(uow: UnitOfWork, principal: Principal) -> CustomActionRepository:
    return CustomActionRepository(uow.session, principal.org_id, principal.sandbox_id)


def _apply(action: CustomAction, body: CustomActionWrite, box: SecretBox, *, any_port: bool) -> None:
    validation.check_url(body.url, any_port=any_port)
    headers = validation.check_headers(body.headers, method=body.method)
    validation.check_authentication(body.authentication, body.headers)
    validation.check_body(body.body, method=body.method)
    action.authentication = _authentication(body.authentication, action.authentication or {}, box)
    action.name = body.name
    action.description = body.description
    action.url = body.url
    action.method = body.method
    action.headers = headers
    action.query_parameters = [
        item.model_dump(by_alias=True, exclude_none=True) for item in body.query_parameters
    ]
    action.body = body.body
    action.timeout_seconds = body.timeout_seconds


def _authentication(given: Authentication, previous: dict[str, Any], box: SecretBox) -> dict[str, Any]:
    """The stored form: the secret sealed, or the previous one kept when omitted and still meant for it."""
    stored: dict[str, Any] = given.model_dump(by_alias=True, exclude_none=True)
    secret_name = SECRET_FIELDS.get(given.type)
    if secret_name is None:
        return stored
    secret = stored.pop(secret_name, None)
    sealed = box.seal(secret) if secret is not None else _kept_secret(stored, previous)
    if sealed is None:
        raise validation.invalid(
            f"authentication.{secret_name}",
            "secret_required",
            f"required for {given.type} authentication (there is no stored one to keep)",
        )
    stored[f"{secret_name}Sealed"] = sealed
    return stored


def _kept_secret(stored: dict[str, Any], previous: dict[str, Any]) -> str | None:
    """The previous secret, if it belonged to the same type (and, for basic, the same user name)."""
    if previous.get("type") != stored["type"]:
        return None
    if stored["type"] == "basic" and previous.get("username") != stored["username"]:
        return None
    secret_name = SECRET_FIELDS[stored["type"]]
    kept: str | None = previous.get(f"{secret_name}Sealed")
    return kept


def action_view(action: CustomAction) -> dict[str, Any]:
    """The API view of an action: sealed secrets appear as ``has<Name>``."""
    authentication = {
        key: value for key, value in action.authentication.items() if not key.endswith("Sealed")
    }
    for key, value in action.authentication.items():
        if key.endswith("Sealed"):
            name = key.removesuffix("Sealed")
            authentication[f"has{name[0].upper()}{name[1:]}"] = bool(value)
    return {
        "id": action.id,
        "name": action.name,
        "description": action.description,
        "url": action.url,
        "method": action.method,
        "headers": action.headers,
        "query_parameters": action.query_parameters,
        "authentication": authentication or {"type": "none"},
        "body": action.body,
        "timeout_seconds": action.timeout_seconds,
        "version": action.version,
        "created_at": action.created_at,
        "updated_at": action.updated_at,
    }


# The runtime's way in ---------------------------------------------------------------------------------


async def find_action(
    uow: UnitOfWork, principal: Principal, name_or_id: str, *, box: SecretBox
) -> ActionSpec:
    """The caller's action by id or name, ready to call; 404 naming it when the sandbox has none."""
    action = require(
        await _actions(uow, principal).by_name_or_id(name_or_id),
        CustomActionNotFound(f"Custom action {name_or_id!r} does not exist in this sandbox"),
    )
    return action_spec(action, box)


async def action_exists(uow: UnitOfWork, principal: Principal, action_id: str) -> bool:
    """Whether the caller's sandbox has a custom action with this id (how other domains check one)."""
    return await _actions(uow, principal).get(action_id) is not None


async def load_action(
    uow: UnitOfWork, org_id: str, sandbox_id: str, action_id: str, *, box: SecretBox
) -> ActionSpec | None:
    """The action of a queued call (workers know ids, not a caller); None if it was deleted since."""
    action = await CustomActionRepository(uow.session, org_id, sandbox_id).get(action_id)
    return None if action is None else action_spec(action, box)
