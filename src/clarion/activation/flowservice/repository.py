"""SQL of connections and flows (their lookups included); lists take the Flow Service list parameters.

Updates are conditional on the etag the caller read (optimistic concurrency), so two concurrent PATCHes
of one entity cannot both win.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import String, cast, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clarion.activation.listing import ListQuery
from clarion.activation.repository import Column, Found, ListingRepository, entity_columns, order_by
from clarion.models.activation import Flow, FlowConnection, FlowRun

CONNECTION_COLUMNS = {
    **entity_columns(FlowConnection),
    "name": Column(FlowConnection.name),
    "description": Column(FlowConnection.description),
    "state": Column(FlowConnection.state, "folded"),
    "connectionSpec.id": Column(FlowConnection.connection_spec_id),
    "baseConnectionId": Column(FlowConnection.base_connection_id),
}
FLOW_COLUMNS = {
    **entity_columns(Flow),
    "name": Column(Flow.name),
    "description": Column(Flow.description),
    "state": Column(Flow.state, "folded"),
    "flowSpec.id": Column(Flow.flow_spec_id),
}
CONNECTION_ORDER = {
    key: CONNECTION_COLUMNS[key].expression for key in ("id", "name", "createdAt", "updatedAt", "state")
}
FLOW_ORDER = {key: FLOW_COLUMNS[key].expression for key in ("id", "name", "createdAt", "updatedAt", "state")}


class FlowServiceRepository(ListingRepository):
    """Connections and flows of one sandbox."""

    def add(self, entity: FlowConnection | Flow) -> None:
        """Stage a new connection or flow."""
        self.session.add(entity)

    async def connection(self, connection_id: str, kind: str) -> FlowConnection | None:
        """The connection of this kind (base, source, target) with this id."""
        statement = self.scoped(FlowConnection).where(
            FlowConnection.id == connection_id, FlowConnection.kind == kind
        )
        return await self.session.scalar(statement)

    async def connections(self, ids: Sequence[str]) -> dict[str, FlowConnection]:
        """Connections of any kind by id (the ones that exist)."""
        if not ids:
            return {}
        rows = await self.session.scalars(self.scoped(FlowConnection).where(FlowConnection.id.in_(set(ids))))
        return {row.id: row for row in rows}

    async def flow(self, flow_id: str) -> Flow | None:
        """The flow with this id."""
        return await self.session.scalar(self.scoped(Flow).where(Flow.id == flow_id))

    async def flows(self, ids: Sequence[str]) -> dict[str, Flow]:
        """Flows by id (the ones that exist)."""
        if not ids:
            return {}
        rows = await self.session.scalars(self.scoped(Flow).where(Flow.id.in_(set(ids))))
        return {row.id: row for row in rows}

    async def last_runs(self, flow_ids: Sequence[str]) -> dict[str, FlowRun]:
        """The newest run of each flow that has one (a flow's ``lastRunDetails``), one query for a page."""
        if not flow_ids:
            return {}
        # Runs belong to ``runs``, which builds on this package: the flow view reads their table here
        # rather than importing upwards. ROW_NUMBER keeps one row per flow (SQLite and PostgreSQL alike).
        newest = (
            func.row_number()
            .over(partition_by=FlowRun.flow_id, order_by=(FlowRun.created_at.desc(), FlowRun.id.desc()))
            .label("newest")
        )
        ranked = (
            self.scoped(FlowRun)
            .with_only_columns(FlowRun.id, newest)
            .where(FlowRun.flow_id.in_(set(flow_ids)))
            .subquery()
        )
        latest = select(FlowRun).join(ranked, FlowRun.id == ranked.c.id).where(ranked.c.newest == 1)
        rows = await self.session.scalars(latest)
        return {row.flow_id: row for row in rows}

    async def targets_of_base(self, base_id: str) -> list[str]:
        """Ids of target (and source) connections built on this base connection."""
        statement = self.scoped(FlowConnection).where(FlowConnection.base_connection_id == base_id)
        return [row.id for row in await self.session.scalars(statement)]

    async def flows_using(self, connection_id: str) -> list[str]:
        """Ids of flows whose source or target connections include ``connection_id``."""
        quoted = f'"{connection_id}"'
        statement = self.scoped(Flow).where(
            or_(
                cast(Flow.source_connection_ids, String).contains(quoted, autoescape=True),
                cast(Flow.target_connection_ids, String).contains(quoted, autoescape=True),
            )
        )
        rows = await self.session.scalars(statement)
        return [
            row.id
            for row in rows
            if connection_id in row.source_connection_ids or connection_id in row.target_connection_ids
        ]

    async def update_if_current(
        self, entity: FlowConnection | Flow, etag: str, values: Mapping[str, Any]
    ) -> bool:
        """Write ``values`` only if the entity still has ``etag``; False when another write came first."""
        model = type(entity)
        statement = (
            update(model)
            .where(
                model.org_id == self.org_id,
                model.sandbox_id == self.sandbox_id,
                model.id == entity.id,
                model.etag == etag,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        result: Any = await self.session.execute(statement)
        if result.rowcount != 1:
            return False
        await self.session.refresh(entity)
        return True

    async def remove(self, entity: FlowConnection | Flow) -> None:
        """Delete a connection or a flow (a flow's runs go with it)."""
        model = type(entity)
        await self.session.execute(
            delete(model).where(
                model.org_id == self.org_id, model.sandbox_id == self.sandbox_id, model.id == entity.id
            )
        )

    async def find_connections(self, kind: str, query: ListQuery) -> Found[FlowConnection]:
        """A page of connections of ``kind`` (newest change first unless ``orderby`` says otherwise)."""
        statement = self.scoped(FlowConnection).where(FlowConnection.kind == kind)
        order = order_by(query.order, CONNECTION_ORDER, FlowConnection.updated_at)
        return await self.find(statement, query, CONNECTION_COLUMNS, [*order, FlowConnection.id.desc()])

    async def find_flows(self, query: ListQuery) -> Found[Flow]:
        """A page of flows (newest change first unless ``orderby`` says otherwise)."""
        order = order_by(query.order, FLOW_ORDER, Flow.updated_at)
        return await self.find(self.scoped(Flow), query, FLOW_COLUMNS, [*order, Flow.id.desc()])


async def enabled_flows(session: AsyncSession) -> list[Flow]:
    """Every enabled flow of every organization and sandbox (the scheduler's scan; not tenant-scoped)."""
    return list(await session.scalars(select(Flow).where(Flow.state == "enabled").order_by(Flow.id)))
