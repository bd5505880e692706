"""The PostgreSQL fast path of profile writes in bulk (the import): ``= ANY(array)`` reads and COPY writes.

Import-only and PostgreSQL-only, so it lives here rather than in ``db/dialect.py``: the API and SQLite use
the portable statements of ``repository``. ``service._plan_store`` picks ``BulkPostgresStore`` on PostgreSQL
for the import, where a batch holds tens of thousands of profiles:

- identities and profiles are read with one query each, the keys passed as arrays (an ``IN`` list would
  need a bound parameter per value, capped at 32,767 by the protocol);
- new identities and profiles are COPYed straight into their tables (their rows are final: the plan chose
  every id, and a concurrent writer that took an identity first makes the unique index refuse the batch,
  which the service then retries from fresh reads);
- changed profiles are COPYed into a TEMP staging table and applied with one ``UPDATE … FROM``.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import asyncpg
import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from clarion.profiles.documents import Identity
from clarion.profiles.plan import Plan, StoredProfile

_STAGING = "profile_import_updates"
RACE_STATES = frozenset({"23505", "23503", "40001", "40P01"})
"""SQLSTATEs of a write that raced another: unique and foreign key violations, serialization, deadlock."""


class LostRace(Exception):
    """A COPY hit a row a concurrent writer changed since our reads: plan again (see ``service.write``)."""


_PROFILE_COLUMNS = ["id", "org_id", "sandbox_id", "attributes", "identities", "created_at", "updated_at"]
_IDENTITY_COLUMNS = ["id", "org_id", "sandbox_id", "namespace", "value", "profile_id"]
_encode_json = msgspec.json.Encoder().encode


# Both reads probe the unique indexes once per wanted key (a LATERAL subquery with LIMIT 1 cannot be
# flattened into a join). A plain ``= ANY($array)`` let the planner, trusting statistics that lag behind
# a bulk load (or never come, with autovacuum off), filter every row of the sandbox against the whole
# array: 49 s for one 20k batch against 160k identities, versus ~0.1 s here.
_OWNERS = text(
    "SELECT wanted.namespace, wanted.value, owner.profile_id "
    "FROM unnest(CAST(:namespaces AS varchar[]), CAST(:values AS varchar[])) AS wanted(namespace, value) "
    "CROSS JOIN LATERAL (SELECT i.profile_id FROM profile_identities AS i "
    "WHERE i.org_id = :org AND i.sandbox_id = :sandbox AND i.namespace = wanted.namespace "
    "AND i.value = wanted.value LIMIT 1) AS owner"
)
_LOAD = text(
    "SELECT p.id, p.attributes, p.identities FROM unnest(CAST(:ids AS varchar[])) AS wanted(id) "
    "CROSS JOIN LATERAL (SELECT id, attributes::text, identities::text FROM profiles "
    "WHERE profiles.id = wanted.id AND org_id = :org AND sandbox_id = :sandbox LIMIT 1 FOR UPDATE) AS p"
)
_decode_json = msgspec.json.Decoder().decode


class BulkPostgresStore:
    """Reads and writes of an import batch's plan in one sandbox (the shape of ``ProfileRepository``'s)."""

    def __init__(self, session: AsyncSession, org_id: str, sandbox_id: str) -> None:
        self._session = session
        self._org_id = org_id
        self._sandbox_id = sandbox_id

    async def owners(self, identities: Collection[Identity]) -> dict[Identity, str]:
        """The profile owning each identity that has one (one query)."""
        if not identities:
            return {}
        namespaces, values = zip(*sorted(identities), strict=True)
        rows: Any = await self._session.execute(
            _OWNERS,
            {
                "namespaces": list(namespaces),
                "values": list(values),
                "org": self._org_id,
                "sandbox": self._sandbox_id,
            },
        )
        return {(namespace, value): profile_id for namespace, value, profile_id in rows}

    async def load(self, profile_ids: Collection[str]) -> dict[str, StoredProfile]:
        """The profiles to write, locked in id order (so batches cannot deadlock) until commit (one query)."""
        if not profile_ids:
            return {}
        rows: Any = await self._session.execute(
            _LOAD, {"ids": sorted(profile_ids), "org": self._org_id, "sandbox": self._sandbox_id}
        )
        # Freshly decoded: the plan may change them without the copies ``StoredProfile.from_row`` makes.
        return {
            profile_id: StoredProfile(profile_id, _decode_json(attributes), _decode_json(identities))
            for profile_id, attributes, identities in rows
        }

    async def store(self, plan: Plan, *, now: datetime) -> None:
        """Write a plan: COPY new profiles and identities, stage and apply the changed profiles."""
        try:
            await _store(self._session, self._org_id, self._sandbox_id, plan, now=now)
        except asyncpg.PostgresError as error:
            # The raw COPYs bypass SQLAlchemy, so their errors arrive untranslated.
            if error.sqlstate in RACE_STATES:
                raise LostRace(str(error)) from error
            raise


async def analyze_if_grown(session: AsyncSession, created: int) -> None:
    """Refresh the planner statistics of the profile tables when a load grew them by a tenth or more.

    The threshold is autovacuum's default (``autovacuum_analyze_scale_factor`` 0.1); a table never
    analyzed counts as empty.
    """
    estimate = await session.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'profiles'"))
    if created >= 0.1 * max(float(estimate or 0), 0.0):
        await session.execute(text("ANALYZE profiles, profile_identities"))


async def _store(session: AsyncSession, org_id: str, sandbox_id: str, plan: Plan, *, now: datetime) -> None:
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
    # Identities first: when a batch expected only new identities wrongly (see ``service.write``), the
    # unique index refuses it at the first stored one, before any profile row was written for nothing.
    if plan.new_identities:
        await driver.copy_records_to_table(
            "profile_identities",
            columns=_IDENTITY_COLUMNS,
            records=[
                (row_id, org_id, sandbox_id, namespace, value, profile_id)
                for row_id, namespace, value, profile_id in plan.new_identities
            ],
        )
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


def _json(profile: StoredProfile) -> str:
    """The profile's attributes as JSON text (the plan serialized them already when it checked the size)."""
    return (profile.document or _encode_json(profile.attributes)).decode()


async def _driver(session: AsyncSession) -> Any:
    """The asyncpg connection under the session's current transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection
