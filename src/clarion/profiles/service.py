"""Rules of the profile store: upsert by identity, batches, reads, delete, and ``resolve`` for executions."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from clarion.db.uow import UnitOfWork
from clarion.errors import Conflict
from clarion.kit.clock import utcnow
from clarion.kit.repository import require
from clarion.models.audiences import SegmentMembership
from clarion.models.profiles import Profile
from clarion.profiles import bulk_postgres
from clarion.profiles.documents import (
    Identity,
    ProfileInput,
    check_namespace,
    identity,
    normalize_value,
    parse_identities,
    parse_item,
    profile_input,
)
from clarion.profiles.errors import IdentityTaken, InvalidProfile, ProfileNotFound
from clarion.profiles.plan import Outcome, Plan, Planned, StoredProfile, apply_all
from clarion.profiles.repository import ProfileRepository
from clarion.profiles.schemas import ProfileWrite
from clarion.tenancy.principal import Principal

ATTEMPTS = 3
"""Tries of a write whose reads a concurrent writer made stale (an identity taken meanwhile)."""


# Writes -----------------------------------------------------------------------------------------------


async def write(
    uow: UnitOfWork,
    principal: Principal,
    writes: Sequence[ProfileInput],
    *,
    bulk: bool = False,
    presumed: Planned | None = None,
) -> list[Outcome]:
    """Apply ``writes`` in order in one transaction and commit; one outcome per write.

    A write that loses a race (another transaction took one of its identities between our read and our
    insert) makes the unique index refuse the transaction: it is rolled back and the whole batch is
    planned again from fresh reads. ``bulk`` picks the PostgreSQL COPY path (the import).

    ``presumed`` is ``plan_presuming_new(writes)``, made ahead without reads by a caller betting that no
    identity of the batch is stored yet (an import into an empty sandbox). It is stored as it is, and the
    unique index still checks every identity: a batch that held a stored one fails there and is planned
    again from reads, as a lost race is. Same outcomes either way.
    """
    planned = presumed
    for _ in range(ATTEMPTS + (presumed is not None)):
        try:
            outcomes = await _write_once(uow, principal, writes, bulk=bulk, planned=planned)
            await uow.commit()
            return outcomes
        except (DBAPIError, bulk_postgres.LostRace) as error:
            if not _lost_race(error):
                raise
            await uow.rollback()
            planned = None
    raise Conflict("Concurrent writes kept changing the same identities; retry the request")


def _lost_race(error: Exception) -> bool:
    """Whether a failed write may succeed when planned again from fresh reads."""
    if isinstance(error, IntegrityError | OperationalError | bulk_postgres.LostRace):
        return True  # a unique key taken meanwhile; SQLite: the writer lock not granted in time
    return getattr(getattr(error, "orig", None), "sqlstate", None) in bulk_postgres.RACE_STATES


async def _write_once(
    uow: UnitOfWork,
    principal: Principal,
    writes: Sequence[ProfileInput],
    *,
    bulk: bool,
    planned: Planned | None,
) -> list[Outcome]:
    store = _plan_store(uow, principal, bulk=bulk)
    await _repo(uow, principal).claim_writer()
    if planned is None:
        owners, profiles = await _read(store, writes)
        # An owner deleted between the two reads took its identities with it.
        planned = apply_all(
            Plan({key: owner for key, owner in owners.items() if owner in profiles}, profiles), writes
        )
    await store.store(planned.plan, now=utcnow())
    return planned.outcomes


class _PlanStore(Protocol):
    """Where a write plan is read and stored: ``ProfileRepository`` or ``BulkPostgresStore``."""

    async def owners(self, identities: Collection[Identity]) -> dict[Identity, str]: ...
    async def load(self, profile_ids: Collection[str]) -> dict[str, StoredProfile]: ...
    async def store(self, plan: Plan, *, now: datetime) -> None: ...


def _plan_store(uow: UnitOfWork, principal: Principal, *, bulk: bool) -> _PlanStore:
    """The one choice of a dialect-specific path in profiles: a bulk import on PostgreSQL reads by arrays and
    writes with COPY (``bulk_postgres``); everything else, and SQLite (no COPY; its single writer already
    inserts a batch in one transaction), goes through the portable repository."""
    if bulk and uow.dialect.name == "postgresql":
        return bulk_postgres.BulkPostgresStore(uow.session, principal.org_id, principal.sandbox_id)
    return _repo(uow, principal)


async def _read(
    store: _PlanStore, writes: Sequence[ProfileInput]
) -> tuple[dict[Identity, str], dict[str, StoredProfile]]:
    """The owners of every identity of ``writes`` and the profiles they point to (locked)."""
    wanted = {item for write in writes for item in write.identities}
    owners = await store.owners(wanted)
    return owners, await store.load(set(owners.values()))


async def has_identities(uow: UnitOfWork, principal: Principal) -> bool:
    """Whether the sandbox holds any profile identity (an import into an empty one presumes all new)."""
    return await _repo(uow, principal).has_identities()


async def refresh_statistics(uow: UnitOfWork, *, created: int) -> None:
    """After a bulk import on PostgreSQL: fresh planner statistics if the profile tables grew a lot.

    Autovacuum would get there eventually (or never, where it is off); until then the planner may take a
    million-row table for an empty one and pick plans that make segment queries crawl.
    """
    if uow.dialect.name == "postgresql":  # only PostgreSQL took the COPY path (``_plan_store``)
        await bulk_postgres.analyze_if_grown(uow.session, created)
        await uow.commit()


async def upsert(
    uow: UnitOfWork, principal: Principal, namespace: str, value: str, body: ProfileWrite
) -> tuple[dict[str, Any], bool]:
    """Upsert the profile owning ``(namespace, value)``; returns its view and whether it was created."""
    primary = identity(namespace, value)
    extras = parse_identities(body.identities)
    (outcome,) = await write(uow, principal, [profile_input([primary, *extras], body.attributes)])
    if outcome.status == 409:
        raise IdentityTaken(outcome.error or "identity taken")
    if outcome.profile_id is None:
        raise InvalidProfile(outcome.error or "invalid profile")
    return await _view_of(uow, principal, outcome.profile_id), outcome.status == 201


async def write_batch(uow: UnitOfWork, principal: Principal, items: Sequence[Any]) -> list[dict[str, Any]]:
    """``POST /v1/profiles:batch``: every valid item in one transaction; per-item results in order."""
    results: list[dict[str, Any] | None] = []
    valid: list[tuple[int, ProfileInput]] = []
    for index, item in enumerate(items):
        try:
            valid.append((index, parse_item(item)))
            results.append(None)
        except InvalidProfile as refused:
            results.append({"index": index, "status": 400, "error": refused.detail})
    if valid:
        outcomes = await write(uow, principal, [write for _, write in valid])
        for (index, _), outcome in zip(valid, outcomes, strict=True):
            results[index] = _result(index, outcome)
    return [result for result in results if result is not None]


def _result(index: int, outcome: Outcome) -> dict[str, Any]:
    result: dict[str, Any] = {"index": index, "status": outcome.status}
    if outcome.profile_id is not None:
        result["id"] = outcome.profile_id
    if outcome.error is not None:
        result["error"] = outcome.error
    return result


# Reads and delete -------------------------------------------------------------------------------------


async def get(uow: UnitOfWork, principal: Principal, namespace: str, value: str) -> dict[str, Any]:
    """The view of the profile owning ``(namespace, value)``."""
    profile = await _owner(uow, principal, namespace, value)
    memberships = await _repo(uow, principal).memberships([profile.id])
    return profile_view(profile, memberships.get(profile.id, []))


async def list_profiles(
    uow: UnitOfWork, principal: Principal, *, namespace: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of profile views (oldest first), optionally only those with a ``namespace`` identity."""
    if namespace is not None:
        check_namespace(namespace)
    repo = _repo(uow, principal)
    profiles, total = await repo.search(namespace=namespace, limit=limit, offset=offset)
    memberships = await repo.memberships([profile.id for profile in profiles])
    return [profile_view(profile, memberships.get(profile.id, [])) for profile in profiles], total


async def delete(uow: UnitOfWork, principal: Principal, namespace: str, value: str) -> None:
    """Delete the profile owning ``(namespace, value)``, its identities and its audience memberships."""
    profile = await _owner(uow, principal, namespace, value)
    await _repo(uow, principal).remove(profile.id)
    await uow.commit()


async def delete_sandbox_profiles(uow: UnitOfWork, org_id: str, sandbox_id: str) -> None:
    """Delete every profile of a sandbox being deleted, with identities and memberships (no commit)."""
    await ProfileRepository(uow.session, org_id, sandbox_id).remove_all()


async def _owner(uow: UnitOfWork, principal: Principal, namespace: str, value: str) -> Profile:
    wanted = identity(namespace, value)
    profile = await _repo(uow, principal).by_identity(wanted)
    return require(profile, ProfileNotFound(f"No profile has the identity {namespace}:{value}"))


async def _view_of(uow: UnitOfWork, principal: Principal, profile_id: str) -> dict[str, Any]:
    repo = _repo(uow, principal)
    # None when deleted by someone else right after our commit
    profile = require(
        await repo.get(profile_id), ProfileNotFound(f"Profile {profile_id} was deleted meanwhile")
    )
    memberships = await repo.memberships([profile_id])
    return profile_view(profile, memberships.get(profile_id, []))


def profile_view(profile: Profile, memberships: Sequence[SegmentMembership]) -> dict[str, Any]:
    """The API view of a profile (``segmentMembership.ups`` keyed by audience id)."""
    return {
        "id": profile.id,
        "identities": profile.identities or {},
        "attributes": profile.attributes,
        "created_at": profile.created_at,
        "updated_at": profile.updated_at,
        "segment_membership": {
            "ups": {
                membership.segment_id: {
                    "status": membership.status,
                    "last_qualification_time": membership.qualified_at,
                }
                for membership in memberships
            }
        },
    }


# Executions' way in -----------------------------------------------------------------------------------


async def resolve(
    uow: UnitOfWork, principal: Principal, namespace: str, user_ids: list[str], *, create_missing: bool
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Attributes of the profiles for ``user_ids`` in ``namespace``; create missing ones when asked.

    Returns ``(attributes by user id, user ids without a profile)``. Created profiles hold only their
    identity (contract §1.3: "at maximum, profile is created with the namespace details"). Email values
    are matched lower-cased, as they are stored.
    """
    repo = _repo(uow, principal)
    stored = {user_id: _stored_value(namespace, user_id) for user_id in user_ids}
    found = await repo.by_identities(namespace, list(set(stored.values())))
    attributes = {
        user_id: dict(found[value].attributes) for user_id, value in stored.items() if value in found
    }
    missing = [user_id for user_id in user_ids if user_id not in attributes]
    if missing and create_missing:
        values = list(dict.fromkeys(stored[user_id] for user_id in missing))
        created = await repo.create_bare(namespace, values, now=utcnow())
        attributes.update({user_id: dict(created[stored[user_id]]) for user_id in missing})
        await uow.commit()
        missing = []
    return attributes, missing


def _stored_value(namespace: str, user_id: str) -> str:
    """How a recipient's user id is stored (lower-cased for email); checked by the execution API already."""
    try:
        return normalize_value(namespace, user_id)
    except InvalidProfile:
        return user_id


def _repo(uow: UnitOfWork, principal: Principal) -> ProfileRepository:
    return ProfileRepository(uow.session, principal.org_id, principal.sandbox_id)
