"""SQL of the Flow Service entities: connections, flows, runs, and the lookups their rules need.

Lists push the ``property`` filters that map onto columns into SQL (exactly: the answer is the same as
evaluating them on the JSON views); the others come back as ``residual`` for the service to apply to
the views. Updates are conditional on the etag the caller read (optimistic concurrency), so two
concurrent PATCHes of one entity cannot both win.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import ColumnElement, Select, String, cast, delete, false, func, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clarion.activation.errors import catalogue
from clarion.activation.listing import Filter, ListQuery, Order, unknown_order_field
from clarion.kit.repository import SandboxRepository
from clarion.models.activation import Flow, FlowConnection, FlowRun
from clarion.models.audiences import SegmentDefinition
from clarion.models.tenancy import Organization

E = TypeVar("E", FlowConnection, Flow, FlowRun)
ColumnKind = Literal["text", "folded", "time", "segments"]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Column:
    """A filterable or sortable view path backed by a column; ``kind`` says how values compare."""

    expression: Any
    kind: ColumnKind = "text"


@dataclass(frozen=True)
class Found(Generic[E]):
    """Rows of a list: a page (``residual`` empty) or every candidate for the service to filter further."""

    rows: list[E]
    total: int
    residual: tuple[Filter, ...]


def _entity(model: Any) -> dict[str, Column]:
    return {
        "id": Column(model.id),
        "createdAt": Column(model.created_at, "time"),
        "updatedAt": Column(model.updated_at, "time"),
        "createdBy": Column(model.created_by),
        "createdClient": Column(model.created_client),
    }


CONNECTION_COLUMNS = {
    **_entity(FlowConnection),
    "name": Column(FlowConnection.name),
    "description": Column(FlowConnection.description),
    "state": Column(FlowConnection.state, "folded"),
    "connectionSpec.id": Column(FlowConnection.connection_spec_id),
    "baseConnectionId": Column(FlowConnection.base_connection_id),
}
FLOW_COLUMNS = {
    **_entity(Flow),
    "name": Column(Flow.name),
    "description": Column(Flow.description),
    "state": Column(Flow.state, "folded"),
    "flowSpec.id": Column(Flow.flow_spec_id),
}
RUN_COLUMNS = {
    **_entity(FlowRun),
    "flowId": Column(FlowRun.flow_id),
    "metrics.statusSummary.status": Column(FlowRun.status, "folded"),
    "metrics.durationSummary.startedAtUTC": Column(FlowRun.started_at, "time"),
    "metrics.durationSummary.completedAtUTC": Column(FlowRun.completed_at, "time"),
    # "Runs of this audience", as the contract and Adobe's filtering guide write it.
    "metrics.recordSummary.sourceSummaries[].id": Column(FlowRun.segment_ids, "segments"),
    "metrics.recordSummary.sourceSummaries[].entitySummaries[].id": Column(FlowRun.segment_ids, "segments"),
    "metrics.recordSummary.targetSummaries[].entitySummaries[].id": Column(FlowRun.segment_ids, "segments"),
}
CONNECTION_ORDER = {
    key: CONNECTION_COLUMNS[key].expression for key in ("id", "name", "createdAt", "updatedAt", "state")
}
FLOW_ORDER = {key: FLOW_COLUMNS[key].expression for key in ("id", "name", "createdAt", "updatedAt", "state")}
RUN_ORDER = {
    "id": FlowRun.id,
    "flowId": FlowRun.flow_id,
    "createdAt": FlowRun.created_at,
    "updatedAt": FlowRun.updated_at,
    "status": FlowRun.status,
    "metrics.statusSummary.status": FlowRun.status,
    "startedAt": FlowRun.started_at,
    "metrics.durationSummary.startedAtUTC": FlowRun.started_at,
    "completedAt": FlowRun.completed_at,
    "metrics.durationSummary.completedAtUTC": FlowRun.completed_at,
}


class FlowServiceRepository(SandboxRepository):
    """Connections, flows and runs of one sandbox."""

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

    async def run(self, run_id: str) -> FlowRun | None:
        """The run with this id."""
        return await self.session.scalar(self.scoped(FlowRun).where(FlowRun.id == run_id))

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

    async def audience_names(self, ids: Sequence[str]) -> dict[str, str]:
        """Audience id → name, for the ids that exist in this sandbox."""
        if not ids:
            return {}
        statement = (
            select(SegmentDefinition.id, SegmentDefinition.name)
            .where(SegmentDefinition.org_id == self.org_id, SegmentDefinition.sandbox_id == self.sandbox_id)
            .where(SegmentDefinition.id.in_(set(ids)))
        )
        return {row.id: row.name for row in await self.session.execute(statement)}

    async def organization_name(self) -> str:
        """The name of the caller's organization (for the ``%ORGANIZATION_NAME%`` macro)."""
        name = await self.session.scalar(select(Organization.name).where(Organization.id == self.org_id))
        return name or ""

    async def find_connections(self, kind: str, query: ListQuery) -> Found[FlowConnection]:
        """A page of connections of ``kind`` (newest change first unless ``orderby`` says otherwise)."""
        statement = self.scoped(FlowConnection).where(FlowConnection.kind == kind)
        order = _order_by(query.order, CONNECTION_ORDER, FlowConnection.updated_at)
        return await self._find(statement, query, CONNECTION_COLUMNS, [*order, FlowConnection.id.desc()])

    async def find_flows(self, query: ListQuery) -> Found[Flow]:
        """A page of flows (newest change first unless ``orderby`` says otherwise)."""
        order = _order_by(query.order, FLOW_ORDER, Flow.updated_at)
        return await self._find(self.scoped(Flow), query, FLOW_COLUMNS, [*order, Flow.id.desc()])

    async def find_runs(self, query: ListQuery) -> Found[FlowRun]:
        """A page of runs (newest first unless ``orderby`` says otherwise)."""
        order = _order_by(query.order, RUN_ORDER, FlowRun.created_at)
        return await self._find(self.scoped(FlowRun), query, RUN_COLUMNS, [*order, FlowRun.id.desc()])

    async def _find(
        self, statement: Select[Any], query: ListQuery, columns: Mapping[str, Column], order: list[Any]
    ) -> Found[Any]:
        residual: list[Filter] = []
        for rule in query.filters:
            column = columns.get(rule.path)
            clause = None if column is None else _clause(column, rule)
            if clause is None:
                residual.append(rule)
            else:
                statement = statement.where(clause)
        if residual:
            # Some filters only the views can answer: every candidate goes back, in order.
            rows = list(await self.session.scalars(statement.order_by(*order)))
            return Found(rows, len(rows), tuple(residual))
        total = await self.session.scalar(select(func.count()).select_from(statement.subquery()))
        if query.count:
            return Found([], int(total or 0), ())
        page = statement.order_by(*order).limit(query.limit).offset(query.offset)
        return Found(list(await self.session.scalars(page)), int(total or 0), ())


async def enabled_flows(session: AsyncSession) -> list[Flow]:
    """Every enabled flow of every organization and sandbox (the scheduler's scan; not tenant-scoped)."""
    return list(await session.scalars(select(Flow).where(Flow.state == "enabled").order_by(Flow.id)))


def _order_by(order: Order | None, allowed: Mapping[str, Any], default: Any) -> list[Any]:
    if order is None:
        return [default.desc()]
    column = allowed.get(order.field)
    if column is None:
        raise unknown_order_field(order, allowed)
    return [column.desc().nulls_last() if order.descending else column.asc().nulls_last()]


def _clause(column: Column, rule: Filter) -> ColumnElement[bool] | None:
    expression = column.expression
    if rule.op == "exists":
        return None if column.kind == "segments" else expression.is_not(None)
    if rule.op == "absent":
        return None if column.kind == "segments" else expression.is_(None)
    if column.kind == "time":
        return _time_clause(expression, rule)
    if column.kind == "segments":
        if rule.op not in ("==", "!="):
            return None
        ids = [value.removeprefix("segment:") for value in rule.values]
        contains = or_(*[cast(expression, String).contains(f'"{value}"', autoescape=True) for value in ids])
        return contains if rule.op == "==" else not_(contains)
    if rule.op not in ("==", "!="):
        return None
    if column.kind == "folded":
        expression, values = func.lower(expression), [value.lower() for value in rule.values]
    else:
        values = list(rule.values)
    if rule.op == "==":
        return expression.in_(values)  # type: ignore[no-any-return]
    return or_(expression.is_(None), expression.not_in(values))


def _time_clause(expression: Any, rule: Filter) -> ColumnElement[bool]:
    moments = [_moment(value, rule.path) for value in rule.values]
    if rule.op in ("==", "!="):
        within = [expression.between(moment, moment + timedelta(microseconds=999)) for moment in moments]
        any_of = or_(false(), *within)
        return any_of if rule.op == "==" else not_(any_of)
    moment = moments[0]
    # A view shows epoch milliseconds: "> t" means at or after the next millisecond.
    operations = {
        ">": lambda: expression >= moment + timedelta(milliseconds=1),
        ">=": lambda: expression >= moment,
        "<": lambda: expression < moment,
        "<=": lambda: expression < moment + timedelta(milliseconds=1),
    }
    clause: ColumnElement[bool] = operations[rule.op]()
    return clause


def _moment(value: str, path: str) -> datetime:
    if not value.isdigit():
        raise catalogue("FLOW-1452", "property", "epoch_millis", f"Invalid value {value} for field {path}.")
    return _EPOCH + timedelta(milliseconds=int(value))
