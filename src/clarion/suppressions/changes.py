"""Tells this process's suppression caches that a sandbox's list changed here, once the change is committed.

A write in this process must be seen by the next message sent from it, not up to a refresh later: the
service registers the changed sandbox on the session and, after the commit, every live cache of the process
marks it stale (its next read waits for the delta). Another process sees it within its refresh bound.
"""

from __future__ import annotations

import weakref
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

_PENDING = "clarion.suppressions.changed"
_HOOKED = "clarion.suppressions.hooked"


class Listener(Protocol):
    """A cache that wants to hear about local changes."""

    def invalidate(self, org_id: str, sandbox_id: str) -> None:
        """The list of this sandbox changed (committed)."""
        ...


_listeners: weakref.WeakSet[Any] = weakref.WeakSet()


def listen(listener: Listener) -> None:
    """Call ``listener.invalidate`` after each committed local change (held weakly)."""
    _listeners.add(listener)


def changed(session: AsyncSession, org_id: str, sandbox_id: str) -> None:
    """Note that this transaction changes a sandbox's list; the caches hear of it after the commit."""
    sync: Session = session.sync_session
    if _HOOKED not in sync.info:
        sync.info[_HOOKED] = True
        event.listen(sync, "after_commit", _notify)
        event.listen(sync, "after_rollback", _forget)
    sync.info.setdefault(_PENDING, set()).add((org_id, sandbox_id))


def _notify(sync: Session) -> None:
    pending: set[tuple[str, str]] = sync.info.pop(_PENDING, set())
    for listener in list(_listeners):
        for org_id, sandbox_id in pending:
            listener.invalidate(org_id, sandbox_id)


def _forget(sync: Session) -> None:
    sync.info.pop(_PENDING, None)
