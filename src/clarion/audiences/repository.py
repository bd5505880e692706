"""SQL of segment definitions, segment jobs and the membership snapshots they write."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, func, literal, or_, select, update
from sqlalchemy.exc import IntegrityError

from clarion.db.dialect import dialect_of
from clarion.kit.repository import SandboxRepository
from clarion.models.activation import Flow
from clarion.models.audiences import SegmentDefinition, SegmentJob, SegmentMembership, SegmentPreview
from clarion.models.profiles import Profile

IN_FLIGHT = ("NEW", "QUEUED", "PROCESSING", "CANCELLING")
"""Job statuses that count against the sandbox's cap (a cancelling job still holds the database)."""
FINISHED = ("SUCCEEDED", "FAILED", "CANCELLED")
MEMBER = ("realized", "existing")
"""Membership statuses of profiles inside the audience."""

_MEMBERSHIPS: Any = SegmentMembership.__table__
_PROFILES: Any = Profile.__table__
_JOBS: Any = SegmentJob.__table__
_MEMBERSHIP_COLUMNS = (
    _MEMBERSHIPS.c.segment_id,
    _MEMBERSHIPS.c.profile_id,
    _MEMBERSHIPS.c.org_id,
    _MEMBERSHIPS.c.sandbox_id,
    _MEMBERSHIPS.c.status,
    _MEMBERSHIPS.c.job_id,
    _MEMBERSHIPS.c.qualified_at,
    _MEMBERSHIPS.c.updated_at,
)
"""The columns an evaluation inserts, in the order of its SELECT."""


class SegmentRepository(SandboxRepository):
    """Segment definitions of one sandbox."""

    async def save(self, segment: SegmentDefinition) -> bool:
        """Stage and flush a new or changed definition; False when its name is taken.

        The unique constraint decides (race-free); after False the transaction is unusable and the caller
        raises, which rolls the unit of work back.
        """
        self.session.add(segment)
        try:
            await self.session.flush()
        except IntegrityError:
            return False
        return True

    async def get(self, segment_id: str) -> SegmentDefinition | None:
        """The definition with this id in this sandbox."""
        return await self.session.scalar(
            self.scoped(SegmentDefinition).where(SegmentDefinition.id == segment_id)
        )

    async def many(self, segment_ids: Sequence[str]) -> dict[str, SegmentDefinition]:
        """The definitions among ``segment_ids`` that exist in this sandbox, by id."""
        rows = await self.session.scalars(
            self.scoped(SegmentDefinition).where(SegmentDefinition.id.in_(list(segment_ids)))
        )
        return {row.id: row for row in rows}

    async def listing(
        self, *, order_by: Sequence[Any], limit: int, offset: int
    ) -> tuple[list[SegmentDefinition], int]:
        """One page of the sandbox's definitions in ``order_by`` order, and the total count."""
        statement = self.scoped(SegmentDefinition)
        total = await self.session.scalar(select(func.count()).select_from(statement.subquery()))
        rows = await self.session.scalars(statement.order_by(*order_by).limit(limit).offset(offset))
        return list(rows), int(total or 0)

    async def batch_ids(self) -> list[str]:
        """Ids of the sandbox's batch-evaluated audiences, oldest first (what a ``"*"`` job evaluates)."""
        rows = await self.session.scalars(
            self.scoped(SegmentDefinition)
            .where(batch_enabled())
            .order_by(SegmentDefinition.created_at, SegmentDefinition.id)
        )
        return [row.id for row in rows]

    async def remove(self, segment: SegmentDefinition) -> None:
        """Delete the definition (its memberships go with it: ON DELETE CASCADE)."""
        await self.session.execute(
            delete(SegmentDefinition).where(
                SegmentDefinition.org_id == self.org_id,
                SegmentDefinition.sandbox_id == self.sandbox_id,
                SegmentDefinition.id == segment.id,
            )
        )

    async def flows_using(self, segment_id: str) -> list[str]:
        """Ids of the sandbox's dataflows whose segment selectors name the audience."""
        rows = await self.session.execute(
            select(Flow.id, Flow.transformations).where(
                Flow.org_id == self.org_id, Flow.sandbox_id == self.sandbox_id
            )
        )
        return sorted(
            str(flow_id) for flow_id, transformations in rows if segment_id in _selected(transformations)
        )


def batch_enabled() -> ColumnElement[bool]:
    """``evaluationInfo.batch.enabled`` is true (portable JSON path)."""
    enabled: ColumnElement[bool] = SegmentDefinition.evaluation_info[("batch", "enabled")].as_boolean()
    return enabled.is_(True)


def _selected(transformations: Any) -> set[str]:
    """Audience ids in a flow's ``transformations[*].params.segmentSelectors.selectors[*].value.id``."""
    found: set[str] = set()
    for transformation in transformations if isinstance(transformations, list) else []:
        params = transformation.get("params") if isinstance(transformation, dict) else None
        selectors = ((params or {}).get("segmentSelectors") or {}).get("selectors") or []
        for selector in selectors if isinstance(selectors, list) else []:
            value = selector.get("value") if isinstance(selector, dict) else None
            if isinstance(value, dict) and isinstance(value.get("id"), str):
                found.add(value["id"])
    return found


class SegmentJobRepository(SandboxRepository):
    """Segment jobs of one sandbox."""

    def add(self, job: SegmentJob) -> None:
        """Stage a new job."""
        self.session.add(job)

    async def get(self, job_id: str) -> SegmentJob | None:
        """The job with this id in this sandbox (fresh from the database, not the session's copy)."""
        statement = (
            self.scoped(SegmentJob).where(SegmentJob.id == job_id).execution_options(populate_existing=True)
        )
        return await self.session.scalar(statement)

    async def many(self, job_ids: Sequence[str]) -> dict[str, SegmentJob]:
        """The jobs among ``job_ids`` that exist in this sandbox, by id."""
        rows = await self.session.scalars(self.scoped(SegmentJob).where(SegmentJob.id.in_(list(job_ids))))
        return {row.id: row for row in rows}

    async def count_in_flight(self) -> int:
        """Jobs of the sandbox waiting or running."""
        statement = select(func.count()).select_from(
            self.scoped(SegmentJob).where(SegmentJob.status.in_(IN_FLIGHT)).subquery()
        )
        return int(await self.session.scalar(statement) or 0)

    async def search(
        self, *, filters: Sequence[ColumnElement[bool]], order_by: Sequence[Any], limit: int, offset: int
    ) -> tuple[list[SegmentJob], int]:
        """One page of jobs matching ``filters`` and the total count."""
        statement = self.scoped(SegmentJob).where(*filters)
        total = await self.session.scalar(select(func.count()).select_from(statement.subquery()))
        rows = await self.session.scalars(statement.order_by(*order_by).limit(limit).offset(offset))
        return list(rows), int(total or 0)

    def naming(self, segment_id: str) -> ColumnElement[bool]:
        """Filter: the job evaluates ``segment_id``."""
        return self.dialect.json_array_contains(_JOBS.c.segment_ids, segment_id)

    async def last_succeeded(self, segment_id: str) -> SegmentJob | None:
        """The most recently finished successful job that evaluated ``segment_id``."""
        statement = (
            self.scoped(SegmentJob)
            .where(SegmentJob.status == "SUCCEEDED", self.naming(segment_id))
            .order_by(SegmentJob.updated_at.desc(), SegmentJob.id.desc())
            .limit(1)
        )
        return await self.session.scalar(statement)

    async def transition(self, job_id: str, *, to: str, allowed: Sequence[str], now: datetime) -> bool:
        """Move the job to ``to`` if its status is one of ``allowed`` (atomic compare-and-set)."""
        result: Any = await self.session.execute(
            update(SegmentJob)
            .where(
                SegmentJob.org_id == self.org_id,
                SegmentJob.sandbox_id == self.sandbox_id,
                SegmentJob.id == job_id,
                SegmentJob.status.in_(list(allowed)),
            )
            .values(status=to, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)

    async def cancel(self, job_id: str, *, now: datetime) -> bool:
        """Mark a waiting job CANCELLED and a running one CANCELLING; False when it is not in flight."""
        cancelled = case((SegmentJob.status == "PROCESSING", "CANCELLING"), else_="CANCELLED")
        result: Any = await self.session.execute(
            update(SegmentJob)
            .where(
                SegmentJob.org_id == self.org_id,
                SegmentJob.sandbox_id == self.sandbox_id,
                SegmentJob.id == job_id,
                SegmentJob.status.in_(("NEW", "QUEUED", "PROCESSING")),
            )
            .values(status=cancelled, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)

    async def remove(self, job_id: str) -> None:
        """Delete a finished job's record (its snapshot stays)."""
        await self.session.execute(
            delete(SegmentJob).where(
                SegmentJob.org_id == self.org_id,
                SegmentJob.sandbox_id == self.sandbox_id,
                SegmentJob.id == job_id,
                SegmentJob.status.in_(FINISHED),
            )
        )


class MembershipRepository(SandboxRepository):
    """The membership snapshot of the sandbox's audiences, written set-based inside the database."""

    async def upsert_members(
        self, *, segment_id: str, job_id: str, condition: ColumnElement[bool], now: datetime
    ) -> None:
        """Write the members whose status changes among profiles meeting ``condition`` (one INSERT … SELECT).

        New members are ``realized``; ``exited`` ones are ``realized`` again (qualified anew); members an
        earlier job realized become ``existing``. A conflicting row already ``existing`` (or realized by
        ``job_id`` itself: a job run twice after a crash) is left as it is, so a run writes only what
        changed. The conflict check is a primary-key lookup per qualifying profile: no anti join whose plan
        would depend on fresh statistics (with stale ones PostgreSQL once picked a quadratic nested loop).
        """
        current = _MEMBERSHIPS.c
        known = _MEMBERSHIPS.alias("known")
        qualifying = (
            select(
                literal(segment_id),
                _PROFILES.c.id,
                literal(self.org_id),
                literal(self.sandbox_id),
                literal("realized"),
                literal(job_id),
                literal(now, current.qualified_at.type),
                literal(now, current.updated_at.type),
            )
            .select_from(
                _PROFILES.outerjoin(
                    known, and_(known.c.segment_id == segment_id, known.c.profile_id == _PROFILES.c.id)
                )
            )
            .where(
                _PROFILES.c.org_id == self.org_id,
                _PROFILES.c.sandbox_id == self.sandbox_id,
                condition,
                or_(known.c.status.is_(None), known.c.status != "existing"),
            )
            # In key order, new rows fill the indexes page after page instead of at random places.
            .order_by(_PROFILES.c.id)
        )

        def updates(excluded: Any) -> dict[str, Any]:
            re_entered = current.status == "exited"
            return {
                "status": case((re_entered, "realized"), else_="existing"),
                "qualified_at": case((re_entered, excluded.qualified_at), else_=current.qualified_at),
                "job_id": excluded.job_id,
                "updated_at": excluded.updated_at,
            }

        statement = self.dialect.upsert_from_select(
            _MEMBERSHIPS,
            columns=[column.name for column in _MEMBERSHIP_COLUMNS],
            rows=qualifying,
            conflict_columns=("segment_id", "profile_id"),
            updates=updates,
            only_if=or_(
                current.status == "exited", and_(current.status == "realized", current.job_id != job_id)
            ),
        )
        await self.session.execute(statement)

    async def exit_absent(
        self, *, segment_id: str, job_id: str, condition: ColumnElement[bool], now: datetime
    ) -> None:
        """Members whose profile no longer meets ``condition`` (or is gone) become ``exited`` (one UPDATE)."""
        member = _MEMBERSHIPS.c
        # No tenant filter on profiles here: a member's profile is in the sandbox already, and the filter made
        # PostgreSQL estimate a handful of rows (no statistics yet) and choose a quadratic plan.
        still_qualifies = select(literal(1)).where(_PROFILES.c.id == member.profile_id, condition).exists()
        await self.session.execute(
            update(_MEMBERSHIPS)
            .where(
                member.segment_id == segment_id,
                member.org_id == self.org_id,
                member.sandbox_id == self.sandbox_id,
                member.status.in_(MEMBER),
                ~still_qualifies,
            )
            .values(status="exited", job_id=job_id, updated_at=now)
        )

    async def status_counts(self, *, segment_id: str, job_id: str) -> dict[str, int]:
        """``{realized, existing, exited}`` after ``job_id``: its entries and exits, all existing members."""
        rows = await self.session.execute(
            select(SegmentMembership.status, func.count())
            .where(
                SegmentMembership.segment_id == segment_id,
                SegmentMembership.org_id == self.org_id,
                SegmentMembership.sandbox_id == self.sandbox_id,
                or_(SegmentMembership.status == "existing", SegmentMembership.job_id == job_id),
            )
            .group_by(SegmentMembership.status)
        )
        counts = dict.fromkeys(("realized", "existing", "exited"), 0)
        counts.update({status: int(count) for status, count in rows})
        return counts

    async def namespace_counts(self, *, segment_id: str) -> dict[str, int]:
        """Members of the audience per identity namespace (keys of their ``profiles.identities``)."""
        entries = self.dialect.json_object_entries(_PROFILES.c.identities)
        rows: Any = await self.session.execute(
            select(entries.c.key, func.count())
            .select_from(SegmentMembership)
            .join(_PROFILES, _PROFILES.c.id == SegmentMembership.profile_id)
            .join(entries, literal(True))
            .where(
                SegmentMembership.segment_id == segment_id,
                SegmentMembership.org_id == self.org_id,
                SegmentMembership.sandbox_id == self.sandbox_id,
                SegmentMembership.status.in_(MEMBER),
            )
            .group_by(entries.c.key)
        )
        return {str(namespace): int(count) for namespace, count in rows}

    async def total_profiles(self) -> int:
        """Profiles of the sandbox (the job's ``totalProfiles``)."""
        statement = select(func.count()).where(
            _PROFILES.c.org_id == self.org_id, _PROFILES.c.sandbox_id == self.sandbox_id
        )
        return int(await self.session.scalar(statement) or 0)


class PreviewRepository(SandboxRepository):
    """Preview jobs of one sandbox and the profiles their (unsaved) condition matches."""

    def add(self, preview: SegmentPreview) -> None:
        """Stage a new preview job."""
        self.session.add(preview)

    async def get(self, preview_id: str) -> SegmentPreview | None:
        """The preview job with this id in this sandbox."""
        return await self.session.scalar(self.scoped(SegmentPreview).where(SegmentPreview.id == preview_id))

    async def remove(self, preview_id: str) -> bool:
        """Delete the preview job; False when the sandbox has none with this id."""
        result: Any = await self.session.execute(
            delete(SegmentPreview).where(
                SegmentPreview.id == preview_id,
                SegmentPreview.org_id == self.org_id,
                SegmentPreview.sandbox_id == self.sandbox_id,
            )
        )
        return bool(result.rowcount)

    async def purge_before(self, cutoff: datetime) -> None:
        """Delete every preview job (of any tenant) created before ``cutoff``: previews are short-lived."""
        await self.session.execute(delete(SegmentPreview).where(SegmentPreview.created_at < cutoff))

    async def count_matching(self, condition: ColumnElement[bool]) -> tuple[int, int]:
        """``(profiles matching, profiles of the sandbox)`` in one read."""
        matched = func.count(case((condition, 1)))
        row = (await self.session.execute(select(matched, func.count()).where(*self._sandbox()))).one()
        return int(row[0] or 0), int(row[1] or 0)

    async def namespace_counts(self, condition: ColumnElement[bool]) -> dict[str, int]:
        """Matching profiles per identity namespace (keys of their ``identities``)."""
        entries = self.dialect.json_object_entries(_PROFILES.c.identities)
        rows: Any = await self.session.execute(
            select(entries.c.key, func.count())
            .select_from(_PROFILES)
            .join(entries, literal(True))
            .where(*self._sandbox(), condition)
            .group_by(entries.c.key)
            .order_by(entries.c.key)
        )
        return {str(namespace): int(count) for namespace, count in rows}

    async def matching(
        self, condition: ColumnElement[bool], *, limit: int, offset: int
    ) -> list[tuple[str, dict[str, list[str]]]]:
        """One page of the matching profiles ``(id, identities)``, oldest profile first."""
        rows: Any = await self.session.execute(
            select(_PROFILES.c.id, _PROFILES.c.identities)
            .where(*self._sandbox(), condition)
            .order_by(_PROFILES.c.created_at, _PROFILES.c.id)
            .limit(limit)
            .offset(offset)
        )
        return [(str(profile_id), dict(identities or {})) for profile_id, identities in rows]

    def _sandbox(self) -> tuple[ColumnElement[bool], ...]:
        return (_PROFILES.c.org_id == self.org_id, _PROFILES.c.sandbox_id == self.sandbox_id)


async def insert_job_once(session: Any, row: dict[str, Any]) -> bool:
    """Insert a job row unless its id exists (scheduled jobs have deterministic ids); True when inserted."""
    statement = dialect_of(session).insert_ignore(_JOBS, conflict_columns=("id",))
    result: Any = await session.execute(statement, row)
    return bool(result.rowcount)


async def sandboxes_with_batch_segments(session: Any) -> list[tuple[str, str]]:
    """``(org_id, sandbox_id)`` of every sandbox holding a batch audience, across all tenants."""
    rows = await session.execute(
        select(SegmentDefinition.org_id, SegmentDefinition.sandbox_id)
        .where(batch_enabled())
        .distinct()
        .order_by(SegmentDefinition.org_id, SegmentDefinition.sandbox_id)
    )
    return [(org_id, sandbox_id) for org_id, sandbox_id in rows]
