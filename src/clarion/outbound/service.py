"""The outbound domain's public functions: ``ActionCalls`` queues calls of a custom action for other domains,
``calls_for`` paces their own HTTP calls, ``list_calls``/``get_call`` read the ledger (/v1/action-calls)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from clarion.actions.service import ActionSpec
from clarion.db.uow import UnitOfWork
from clarion.kit.repository import require
from clarion.models.actions import ActionCall
from clarion.outbound.errors import ActionCallNotFound, invalid_filter
from clarion.outbound.intake import queued_call, store_calls
from clarion.outbound.queues import QUEUED_LIFETIME
from clarion.outbound.repository import ActionCallRepository
from clarion.outbound.rules import RuleBook
from clarion.outbound.schemas import NewCall
from clarion.outbound.transport import calls_for
from clarion.queue.port import JobQueue
from clarion.tenancy.principal import Principal

__all__ = ["ActionCalls", "ActionLoader", "calls_for", "get_call", "list_calls"]

ActionLoader = Callable[[str, str, str], Awaitable[ActionSpec | None]]
"""(org, sandbox, action id) → the action ready to call, or None when it was deleted."""


class ActionCalls:
    """Queues calls of a custom action for other domains (a campaign's action, once per sent message)."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        queue: JobQueue,
        rules: RuleBook,
        actions: ActionLoader,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._queue = queue
        self._rules = rules
        self._actions = actions

    async def queue(
        self,
        org_id: str,
        sandbox_id: str,
        action_id: str,
        calls: Sequence[NewCall],
        *,
        request_id: str | None,
    ) -> bool:
        """Durably queue one call of the action per item (job and ``queued`` ledger record); False, queueing
        nothing, when the action no longer exists.

        Each call goes to the queue its throttling rule says. Its id is the caller's: queueing an id again
        while the first call may still wait (``QUEUED_LIFETIME``) is a no-op, so a retried job calls once.
        """
        if not calls:
            return True
        spec = await self._actions(org_id, sandbox_id, action_id)
        if spec is None:
            return False
        accepted_at = time.time()
        queued = [
            await queued_call(
                self._rules,
                org_id,
                sandbox_id,
                spec,
                call.context,
                call=call.id,
                accepted_at=accepted_at,
                request_id=request_id,
                unique_for=QUEUED_LIFETIME,
            )
            for call in calls
        ]
        await store_calls(self._unit_of_work, self._queue, queued)
        return True


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
    return require(call, ActionCallNotFound(f"Action call {call_id!r} does not exist"))
