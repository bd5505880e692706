"""SQL for profiles and identities: portable Core (the PostgreSQL import path is ``bulk_postgres``)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, exists, func, insert, select, update

from clarion.kit.ids import new_reference
from clarion.kit.repository import SandboxRepository
from clarion.models.audiences import SegmentMembership
from clarion.models.profiles import Profile, ProfileIdentity
from clarion.profiles.documents import Identity
from clarion.profiles.plan import Plan, StoredProfile

CHUNK = 1000
"""Values per ``IN (…)`` list: well under SQLite's and asyncpg's bound-parameter limits."""

_profiles: Any = Profile.__table__
_identities: Any = ProfileIdentity.__table__
_IDENTITY_KEY = ("org_id", "sandbox_id", "namespace", "value")


class ProfileRepository(SandboxRepository):
    """Profiles of one sandbox."""

    async def by_identities(self, namespace: str, values: list[str]) -> dict[str, Profile]:
        """Profiles found for ``namespace`` identity values, keyed by value."""
        found: dict[str, Profile] = {}
        for chunk in _chunks(values, CHUNK):
            statement = (
                select(ProfileIdentity.value, Profile)
                .join(Profile, Profile.id == ProfileIdentity.profile_id)
                .where(
                    ProfileIdentity.org_id == self.org_id,
                    ProfileIdentity.sandbox_id == self.sandbox_id,
                    ProfileIdentity.namespace == namespace,
                    ProfileIdentity.value.in_(chunk),
                )
            )
            found.update({row[0]: row[1] for row in await self.session.execute(statement)})
        return found

    async def has_identities(self) -> bool:
        """Whether any identity exists in the sandbox."""
        found = await self.session.scalar(
            select(ProfileIdentity.id)
            .where(ProfileIdentity.org_id == self.org_id, ProfileIdentity.sandbox_id == self.sandbox_id)
            .limit(1)
        )
        return found is not None

    async def claim_writer(self) -> None:
        """Become the writer before reading what the transaction will change (see ``db.dialect``)."""
        await self.dialect.claim_writer(self.session, _profiles)

    async def owners(self, identities: Iterable[Identity]) -> dict[Identity, str]:
        """The profile id owning each of ``identities`` that has an owner (one query per namespace chunk)."""
        by_namespace: dict[str, set[str]] = {}
        for namespace, value in identities:
            by_namespace.setdefault(namespace, set()).add(value)
        owners: dict[Identity, str] = {}
        for namespace, values in by_namespace.items():
            for chunk in _chunks(sorted(values), CHUNK):
                rows = await self.session.execute(
                    select(ProfileIdentity.value, ProfileIdentity.profile_id).where(
                        ProfileIdentity.org_id == self.org_id,
                        ProfileIdentity.sandbox_id == self.sandbox_id,
                        ProfileIdentity.namespace == namespace,
                        ProfileIdentity.value.in_(chunk),
                    )
                )
                owners.update({(namespace, value): profile_id for value, profile_id in rows})
        return owners

    async def load(self, profile_ids: Collection[str]) -> dict[str, StoredProfile]:
        """The profiles to write, locked until commit on PostgreSQL (in id order: no deadlocks)."""
        loaded: dict[str, StoredProfile] = {}
        for chunk in _chunks(sorted(profile_ids), CHUNK):
            rows = await self.session.execute(
                select(Profile.id, Profile.attributes, Profile.identities)
                .where(Profile.org_id == self.org_id, Profile.sandbox_id == self.sandbox_id)
                .where(Profile.id.in_(chunk))
                .order_by(Profile.id)
                .with_for_update()
            )
            loaded.update({profile.id: profile for profile in map(StoredProfile.from_row, rows)})
        return loaded

    async def store(self, plan: Plan, *, now: datetime) -> None:
        """Write a plan: its new profiles, its changed profiles and its new identities."""
        await self.insert_profiles(list(plan.created.values()), now=now)
        await self.update_profiles(list(plan.updated.values()), now=now)
        await self.insert_identities(plan.new_identities)

    async def insert_profiles(self, profiles: Sequence[StoredProfile], *, now: datetime) -> None:
        """Insert new profiles (one executemany)."""
        if profiles:
            await self.session.execute(
                insert(_profiles),
                [
                    {
                        "id": profile.id,
                        "org_id": self.org_id,
                        "sandbox_id": self.sandbox_id,
                        "attributes": profile.attributes,
                        "identities": profile.identities,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for profile in profiles
                ],
            )

    async def update_profiles(self, profiles: Sequence[StoredProfile], *, now: datetime) -> None:
        """Store the new attributes and identity maps of existing profiles (one executemany)."""
        if not profiles:
            return
        statement = (
            update(_profiles)
            .where(
                _profiles.c.id == bindparam("profile_id"),
                _profiles.c.org_id == self.org_id,
                _profiles.c.sandbox_id == self.sandbox_id,
            )
            .values(
                attributes=bindparam("new_attributes", type_=_profiles.c.attributes.type),
                identities=bindparam("new_identities", type_=_profiles.c.identities.type),
                updated_at=bindparam("now", type_=_profiles.c.updated_at.type),
            )
        )
        await self.session.execute(
            statement,
            [
                {
                    "profile_id": profile.id,
                    "new_attributes": profile.attributes,
                    "new_identities": profile.identities,
                    "now": now,
                }
                for profile in profiles
            ],
        )

    async def insert_identities(self, rows: Sequence[tuple[str, str, str, str]]) -> None:
        """Insert ``(id, namespace, value, profile id)`` identities (one executemany)."""
        if rows:
            await self.session.execute(
                insert(_identities),
                [
                    self._identity_row(row_id, namespace, value, profile_id)
                    for row_id, namespace, value, profile_id in rows
                ],
            )

    def _identity_row(self, row_id: str, namespace: str, value: str, profile_id: str) -> dict[str, str]:
        return {
            "id": row_id,
            "org_id": self.org_id,
            "sandbox_id": self.sandbox_id,
            "namespace": namespace,
            "value": value,
            "profile_id": profile_id,
        }

    async def get(self, profile_id: str) -> Profile | None:
        """The profile with this id, as stored now (not as an earlier read of this session saw it)."""
        return await self.session.scalar(
            self.scoped(Profile).where(Profile.id == profile_id).execution_options(populate_existing=True)
        )

    async def create_bare(self, namespace: str, values: Sequence[str], *, now: datetime) -> dict[str, Any]:
        """Profiles holding only the identity ``(namespace, value)`` for each value; attributes by value.

        Race-safe without a rollback (callers such as executions hold other work in the transaction): the
        identities are inserted with ON CONFLICT DO NOTHING, and a profile whose identity lost to a
        concurrent writer is deleted again in favour of the winner, whose attributes are returned.
        """
        fresh = [StoredProfile(new_reference(), {}, {namespace: [value]}) for value in values]
        pairs = list(zip(values, fresh, strict=True))
        await self.insert_profiles(fresh, now=now)
        await self.session.execute(
            self.dialect.insert_ignore(_identities, conflict_columns=_IDENTITY_KEY),
            [self._identity_row(new_reference(), namespace, value, profile.id) for value, profile in pairs],
        )
        winners = await self.by_identities(namespace, list(values))
        losers = [profile.id for value, profile in pairs if winners[value].id != profile.id]
        if losers:
            await self.session.execute(
                delete(Profile).where(
                    Profile.org_id == self.org_id,
                    Profile.sandbox_id == self.sandbox_id,
                    Profile.id.in_(losers),
                )
            )
        return {value: winners[value].attributes for value in values}

    async def by_identity(self, identity: Identity) -> Profile | None:
        """The profile owning ``identity``."""
        namespace, value = identity
        owner = (
            select(ProfileIdentity.profile_id)
            .where(
                ProfileIdentity.org_id == self.org_id,
                ProfileIdentity.sandbox_id == self.sandbox_id,
                ProfileIdentity.namespace == namespace,
                ProfileIdentity.value == value,
            )
            .scalar_subquery()
        )
        return await self.session.scalar(self.scoped(Profile).where(Profile.id == owner))

    async def search(self, *, namespace: str | None, limit: int, offset: int) -> tuple[list[Profile], int]:
        """One page of profiles (oldest first), only those with an identity in ``namespace`` when given."""
        statement = self.scoped(Profile)
        if namespace is not None:
            statement = statement.where(
                exists().where(
                    ProfileIdentity.profile_id == Profile.id,
                    ProfileIdentity.org_id == self.org_id,
                    ProfileIdentity.sandbox_id == self.sandbox_id,
                    ProfileIdentity.namespace == namespace,
                )
            )
        total = await self.session.scalar(select(func.count()).select_from(statement.subquery()))
        rows = await self.session.scalars(
            statement.order_by(Profile.created_at, Profile.id).limit(limit).offset(offset)
        )
        return list(rows), int(total or 0)

    async def memberships(self, profile_ids: Collection[str]) -> dict[str, list[SegmentMembership]]:
        """Audience memberships of the profiles, by profile id."""
        found: dict[str, list[SegmentMembership]] = {}
        for chunk in _chunks(sorted(profile_ids), CHUNK):
            rows = await self.session.scalars(
                self.scoped(SegmentMembership)
                .where(SegmentMembership.profile_id.in_(chunk))
                .order_by(SegmentMembership.segment_id)
            )
            for membership in rows:
                found.setdefault(membership.profile_id, []).append(membership)
        return found

    async def remove(self, profile_id: str) -> None:
        """Delete a profile with its identities and memberships.

        Explicit deletes rather than trusting ``ON DELETE CASCADE``: a SQLite connection opened without
        ``PRAGMA foreign_keys=ON`` (a script, a shell) would otherwise leave orphans behind.
        """
        for model in (SegmentMembership, ProfileIdentity):
            column: Any = model.profile_id
            await self.session.execute(
                delete(model).where(
                    model.org_id == self.org_id, model.sandbox_id == self.sandbox_id, column == profile_id
                )
            )
        await self.session.execute(
            delete(Profile).where(
                Profile.org_id == self.org_id, Profile.sandbox_id == self.sandbox_id, Profile.id == profile_id
            )
        )

    async def remove_all(self) -> None:
        """Delete every profile of the sandbox with its identities and memberships.

        No foreign key cascades from a deleted sandbox to its profiles (migration 0009): the sandbox's
        delete calls this first.
        """
        for model in (SegmentMembership, ProfileIdentity, Profile):
            await self.session.execute(
                delete(model).where(model.org_id == self.org_id, model.sandbox_id == self.sandbox_id)
            )


def _chunks(values: Iterable[str], size: int) -> Iterable[list[str]]:
    """``values`` in lists of at most ``size``."""
    listed = list(values)
    return (listed[start : start + size] for start in range(0, len(listed), size))
