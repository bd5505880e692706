"""The suppression list's rules: adding entries (idempotent), removing them, the bounce policy, listing.

Every change bumps the sandbox's revision in the changing transaction and tells this process's caches after
the commit (``changes.py``), so the send path sees it at once here and within its refresh bound elsewhere.
Nothing here commits: callers' units of work do (a bounce's suppression commits with its ledger row).

Lock order: a transaction that changes several sandboxes' lists takes their revision counters' row locks
in the order it changes them; callers that batch (the ledger writer, the feedback listener) change them in
``(org_id, sandbox_id)`` order, so two such transactions never wait on each other in a cycle.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from clarion.db.uow import UnitOfWork
from clarion.errors import Invalid, NotFound
from clarion.kit.clock import utcnow
from clarion.models.suppressions import Suppression
from clarion.suppressions import changes
from clarion.suppressions.addresses import invalid, normalize
from clarion.suppressions.bounces import Bounce
from clarion.suppressions.repository import SuppressionRepository
from clarion.suppressions.schemas import MARKETING, ListFilters, NewSuppression, Reason

DETAIL_LIMIT = 1000
"""Characters of evidence kept per entry (a diagnostic, a note)."""
TOMBSTONE_DAYS = 1
"""Removed entries are kept this long for the caches (cache.py reloads a sandbox idle longer than that)."""


@dataclass(frozen=True, slots=True)
class SoftBouncePolicy:
    """``softBounce`` after ``limit`` soft-bounced messages to an address within ``days`` days."""

    limit: int = 3
    days: float = 7.0


_policy = SoftBouncePolicy()


def set_soft_bounce_policy(policy: SoftBouncePolicy) -> None:
    """The process's soft-bounce rule (``CLARION_SOFT_BOUNCE_LIMIT`` / ``_DAYS``; set by ``services.py``)."""
    global _policy
    _policy = policy


def soft_bounce_policy() -> SoftBouncePolicy:
    """The process's soft-bounce rule."""
    return _policy


async def suppress(
    session: AsyncSession,
    org_id: str,
    sandbox_id: str,
    entries: Sequence[NewSuppression],
    *,
    source: str,
) -> int:
    """Add ``entries`` to the sandbox's list (idempotent, nothing committed); the number newly in force.

    Addresses are matched lowercased; an ``unsubscribe`` without a category is Marketing's. An entry already
    in force is left as it was (its first evidence is kept); a removed one is revived with the new evidence.
    """
    rows = _rows(org_id, sandbox_id, entries, source)
    if not rows:
        return 0
    repo = SuppressionRepository(session, org_id, sandbox_id)
    addresses = sorted({row["address"] for row in rows})
    if not _missing(rows, await repo.live_keys(addresses)):
        return 0  # a bounce storm on addresses already suppressed writes nothing and locks nothing
    # The revision counter's lock orders this sandbox's writers: read again under it, so the count is
    # exact when another transaction added some of these meanwhile.
    revision = await repo.bump_revision()
    rows = _missing(rows, await repo.live_keys(addresses))
    if not rows:
        return 0
    for row in rows:
        row["revision"] = revision
    await repo.add(rows)
    changes.changed(session, org_id, sandbox_id)
    return len(rows)


async def add_batch(
    session: AsyncSession, org_id: str, sandbox_id: str, entries: Sequence[NewSuppression], *, source: str
) -> int:
    """``suppress`` for a caller's batch, all or nothing: every address must be valid (``Invalid`` names
    each bad ``entries[i].address``, up to ten, and nothing is added)."""
    problems = [
        (index, problem)
        for index, entry in enumerate(entries)
        if (problem := invalid(entry.address)) is not None
    ]
    if problems:
        index, rule = problems[0]
        detail = "; ".join(f"entries[{i}].address: {why}" for i, why in problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise Invalid(detail + more, context={"field": f"entries[{index}].address", "rule": rule})
    return await suppress(session, org_id, sandbox_id, entries, source=source)


def _missing(rows: list[dict[str, Any]], live: set[tuple[str, str, str]]) -> list[dict[str, Any]]:
    """The rows whose entry is not in force."""
    return [row for row in rows if (row["address"], row["reason"], row["category"]) not in live]


def _rows(
    org_id: str, sandbox_id: str, entries: Sequence[NewSuppression], source: str
) -> list[dict[str, Any]]:
    """One row per distinct (address, reason, category), the first evidence of each kept."""
    now = utcnow()
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for entry in entries:
        address = normalize(entry.address)
        if not address:
            continue
        category = entry.category or (MARKETING if entry.reason == "unsubscribe" else "")
        rows.setdefault(
            (address, entry.reason, category),
            {
                "org_id": org_id,
                "sandbox_id": sandbox_id,
                "address": address,
                "reason": entry.reason,
                "category": category,
                "source": source[:16],
                "message_id": entry.message_id[:80],
                "detail": entry.detail[:DETAIL_LIMIT],
                "created_at": now,
                "updated_at": now,
                "removed_at": None,
            },
        )
    return list(rows.values())


async def note_bounce(
    session: AsyncSession,
    org_id: str,
    sandbox_id: str,
    address: str,
    bounce: Bounce,
    *,
    message_id: str,
    at: datetime,
    detail: str,
) -> str | None:
    """Apply the bounce policy to one bounced message; the reason it suppressed with, or None.

    Hard: ``hardBounce`` at once. Soft: the message is counted (once, however many of its attempts
    bounced) and the address gets ``softBounce`` when ``limit`` messages to it soft-bounced within ``days``
    (``soft_bounce_policy``). Policy (5.7.x: the sender or the content was refused): nothing.
    """
    address = normalize(address)
    if not address or bounce.type == "policy":
        return None
    if bounce.type == "hard":
        entry = NewSuppression(address, "hardBounce", message_id=message_id, detail=detail)
        await suppress(session, org_id, sandbox_id, [entry], source="bounce")
        return "hardBounce"
    policy = _policy
    repo = SuppressionRepository(session, org_id, sandbox_id)
    since = at - timedelta(days=policy.days)
    # What is older than the window never counts again (an index range; usually nothing to delete).
    await repo.prune_soft_bounces(since)
    await repo.note_soft_bounce(address, message_id, at)
    count = await repo.soft_bounces_since(address, since)
    if count < policy.limit:
        return None
    evidence = f"{count} soft-bounced messages in {policy.days:g} days; last: {detail}"
    entry = NewSuppression(address, "softBounce", message_id=message_id, detail=evidence)
    await suppress(session, org_id, sandbox_id, [entry], source="bounce")
    # Start over: if the entry is removed, the address gets ``limit`` new chances, not one.
    await repo.prune_soft_bounces(at, address=address)
    return "softBounce"


async def remove(
    session: AsyncSession,
    org_id: str,
    sandbox_id: str,
    address: str,
    *,
    reason: Reason | None = None,
    category: str | None = None,
) -> int:
    """Take an address off the list (only ``reason`` / ``category`` entries when given); how many were.

    Raises ``NotFound`` when nothing matched. The rows become tombstones the caches read as removals.
    """
    repo = SuppressionRepository(session, org_id, sandbox_id)
    address = normalize(address)
    revision = await repo.bump_revision()
    now = utcnow()
    removed = await repo.remove(address, reason=reason, category=category, revision=revision, at=now)
    if not removed:
        raise NotFound(f"address: {address!r} has no suppression" + _which(reason, category))
    await repo.purge_tombstones(now - timedelta(days=TOMBSTONE_DAYS))
    changes.changed(session, org_id, sandbox_id)
    return removed


async def delete_sandbox_suppressions(uow: UnitOfWork, org_id: str, sandbox_id: str) -> None:
    """A sandbox is being deleted: its counter and soft-bounce tally go too (entries by foreign key)."""
    await SuppressionRepository(uow.session, org_id, sandbox_id).remove_all()


def _which(reason: str | None, category: str | None) -> str:
    parts = [f"reason {reason!r}" if reason else "", f"category {category!r}" if category is not None else ""]
    named = " and ".join(part for part in parts if part)
    return f" with {named}" if named else ""


async def entries_of(session: AsyncSession, org_id: str, sandbox_id: str, address: str) -> list[Suppression]:
    """Every entry in force of one address (``NotFound`` when none)."""
    found = await SuppressionRepository(session, org_id, sandbox_id).entries_of(normalize(address))
    if not found:
        raise NotFound(f"address: {normalize(address)!r} is not suppressed")
    return found


async def evidence(
    session: AsyncSession, org_id: str, sandbox_id: str, addresses: Sequence[str]
) -> dict[tuple[str, str, str], str]:
    """What each entry in force of these addresses rests on, by (address, reason, category): its evidence
    and the day it was added (``550 5.1.1 user unknown, on 2026-12-07``), for the ledger's answers."""
    wanted = sorted({normalize(address) for address in addresses})
    found = await SuppressionRepository(session, org_id, sandbox_id).details(wanted)
    return {(entry.address, entry.reason, entry.category): describe(entry) for entry in found}


def describe(entry: Suppression) -> str:
    """One line about an entry: its detail (or source) and its day."""
    evidence = entry.detail or f"added by {entry.source or 'hand'}"
    return f"{evidence}, on {entry.created_at:%Y-%m-%d}"


@dataclass(frozen=True, slots=True)
class Listing:
    """One page of the list and the cursor of the next ("" at the end)."""

    items: list[Suppression]
    next_cursor: str


async def listing(
    session: AsyncSession,
    org_id: str,
    sandbox_id: str,
    filters: ListFilters,
    *,
    cursor: str | None,
    limit: int,
) -> Listing:
    """Entries in force, newest first, from ``cursor`` (opaque; from the previous page's ``next``)."""
    if filters.since is not None and filters.until is not None and filters.until <= filters.since:
        raise Invalid("until: must be after since")
    for name, moment in (("since", filters.since), ("until", filters.until)):
        if moment is not None and moment.tzinfo is None:
            raise Invalid(f"{name}: needs a time zone (e.g. 2026-01-01T00:00:00Z)")
    before = read_cursor(cursor) if cursor else None
    repo = SuppressionRepository(session, org_id, sandbox_id)
    rows = await repo.search(filters, before_id=before, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return Listing(rows, make_cursor(rows[-1].id) if more and rows else "")


async def export(
    session: AsyncSession, org_id: str, sandbox_id: str, filters: ListFilters
) -> AsyncIterator[Sequence[Suppression]]:
    """Every entry in force matching ``filters``, oldest first, in partitions (memory stays flat)."""
    async for partition in SuppressionRepository(session, org_id, sandbox_id).stream(filters):
        yield partition


_CURSOR_PREFIX = "s1."


def make_cursor(last_id: int) -> str:
    """The opaque cursor that continues after the entry ``last_id`` (newest-first order)."""
    return _CURSOR_PREFIX + base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def read_cursor(cursor: str) -> int:
    """The entry id a cursor continues after; ``Invalid`` (naming ``cursor``) when it is not one of ours."""
    if cursor.startswith(_CURSOR_PREFIX):
        body = cursor[len(_CURSOR_PREFIX) :]
        try:
            text = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("ascii")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            text = ""
        if text.isdigit() and len(text) <= 19 and 0 < int(text) < 2**63:
            return int(text)
    raise Invalid("cursor: not a cursor of this list (use the 'next' value of the previous page)")
