"""The PostgreSQL fast path of profile writes in bulk (the import): ``= ANY(array)`` reads and COPY writes.

Import-only and PostgreSQL-only, so it lives here rather than in ``db/dialect.py``: the API and SQLite use
the portable statements of ``repository``. The service picks this path on PostgreSQL for the import, where
a batch holds tens of thousands of profiles:

- identities are resolved with one ``namespace = … AND value = ANY($values)`` query per namespace (an
  ``IN`` list would need a bound parameter per value, capped at 32,767 by the protocol);
- new profiles and identities are COPYed straight into their tables (their rows are final: the plan chose
  every id, and a concurrent writer that took an identity first makes the unique index refuse the batch,
  which the service then retries from fresh reads);
- changed profiles are COPYed into a TEMP staging table and applied with one ``UPDATE … FROM``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import String, any_, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from clarion.kit.ids import new_reference
from clarion.models.profiles import Profile, ProfileIdentity
from clarion.profiles.documents import Identity
from clarion.profiles.plan import Plan, StoredProfile

_STAGING = "profile_import_updates"
_PROFILE_COLUMNS = ["id", "org_id", "sandbox_id", "attributes", "identities", "created_at", "updated_at"]
_IDENTITY_COLUMNS = ["id", "org_id", "sandbox_id", "namespace", "value", "profile_id"]
_encode_json = msgspec.json.Encoder().encode


async def owners(
    session: AsyncSession, org_id: str, sandbox_id: str, identities: Iterable[Identity]
) -> dict[Identity, str]:
    """The profile owning each identity that has one: one query per namespace."""
    by_namespace: dict[str, set[str]] = {}
    for namespace, value in identities:
        by_namespace.setdefault(namespace, set()).add(value)
    values = bindparam("values", type_=ARRAY(String))
    statement = select(ProfileIdentity.value, ProfileIdentity.profile_id).where(
        ProfileIdentity.org_id == org_id,
        ProfileIdentity.sandbox_id == sandbox_id,
        ProfileIdentity.namespace == bindparam("namespace"),
        ProfileIdentity.value == any_(values),
    )
    found: dict[Identity, str] = {}
    for namespace, wanted in by_namespace.items():
        rows = await session.execute(statement, {"namespace": namespace, "values": sorted(wanted)})
        found.update({(namespace, value): profile_id for value, profile_id in rows})
    return found


async def load(
    session: AsyncSession, org_id: str, sandbox_id: str, profile_ids: Collection[str]
) -> dict[str, StoredProfile]:
    """The profiles to write, locked in id order until commit (one query)."""
    if not profile_ids:
        return {}
    rows = await session.execute(
        select(Profile.id, Profile.attributes, Profile.identities)
        .where(
            Profile.org_id == org_id,
            Profile.sandbox_id == sandbox_id,
            Profile.id == any_(bindparam("ids", sorted(profile_ids), type_=ARRAY(String))),
        )
        .order_by(Profile.id)
        .with_for_update()
    )
    return {profile.id: profile for profile in map(StoredProfile.from_row, rows)}


async def store(session: AsyncSession, org_id: str, sandbox_id: str, plan: Plan, *, now: datetime) -> None:
    """Write a plan: COPY new profiles and identities, stage and apply the changed profiles."""
    if plan.updated:
        # Through SQLAlchemy first: this also opens the transaction the raw COPYs below then join.
        await session.execute(
            text(
                f"CREATE TEMP TABLE {_STAGING} (id varchar(36) PRIMARY KEY, attributes jsonb, "
                "identities jsonb) ON COMMIT DROP"
            )
        )
    else:
        await session.execute(text("SELECT 1"))
    driver = await _driver(session)
    if plan.created:
        await driver.copy_records_to_table(
            "profiles",
            columns=_PROFILE_COLUMNS,
            records=[
                (p.id, org_id, sandbox_id, _json(p), _encode_json(p.identities).decode(), now, now)
                for p in plan.created.values()
            ],
        )
    if plan.updated:
        await driver.copy_records_to_table(
            _STAGING,
            columns=["id", "attributes", "identities"],
            records=[(p.id, _json(p), _encode_json(p.identities).decode()) for p in plan.updated.values()],
        )
        await session.execute(
            text(
                "UPDATE profiles AS p SET attributes = s.attributes, identities = s.identities, "
                "updated_at = :now FROM profile_import_updates AS s "
                "WHERE p.id = s.id AND p.org_id = :org AND p.sandbox_id = :sandbox"
            ),
            {"now": now, "org": org_id, "sandbox": sandbox_id},
        )
    if plan.new_identities:
        await driver.copy_records_to_table(
            "profile_identities",
            columns=_IDENTITY_COLUMNS,
            records=[
                (new_reference(), org_id, sandbox_id, namespace, value, profile_id)
                for namespace, value, profile_id in plan.new_identities
            ],
        )


def _json(profile: StoredProfile) -> str:
    """The profile's attributes as JSON text (the plan serialized them already when it checked the size)."""
    return (profile.document or _encode_json(profile.attributes)).decode()


async def _driver(session: AsyncSession) -> Any:
    """The asyncpg connection under the session's current transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection
