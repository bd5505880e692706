"""The outbound domain's public functions: reading the action-call ledger (the /v1/action-calls API)."""

from __future__ import annotations

from datetime import datetime

from clarion.db.uow import UnitOfWork
from clarion.models.actions import ActionCall
from clarion.outbound.errors import ActionCallNotFound, invalid_filter
from clarion.outbound.repository import ActionCallRepository
from clarion.tenancy.principal import Principal


async def list_calls(
    uow: UnitOfWork,
    principal: Principal,
    *,
    action_id: str | None,
    status: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[ActionCall], int]:
    """The sandbox's calls, newest first; ``since`` ≤ acceptedAt < ``until``."""
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise invalid_filter(name, "time_zone", "needs a time zone (e.g. 2026-01-01T00:00:00Z)")
    if since is not None and until is not None and until <= since:
        raise invalid_filter("until", "after_since", "must be after since")
    repo = ActionCallRepository(uow.session, principal.org_id, principal.sandbox_id)
    return await repo.search(
        action_id=action_id, status=status, since=since, until=until, limit=limit, offset=offset
    )


async def get_call(uow: UnitOfWork, principal: Principal, call_id: str) -> ActionCall:
    """One call of the caller's sandbox."""
    call = await ActionCallRepository(uow.session, principal.org_id, principal.sandbox_id).get(call_id)
    if call is None:
        raise ActionCallNotFound(f"Action call {call_id!r} does not exist")
    return call
