"""The repository base of Flow Service lists: ``property`` filters and ``orderby`` pushed into SQL.

Shared at ``activation/`` level because two sub-packages list their own tables with the same query
language (``listing.py``): ``flowservice`` (connections, flows) and ``runs`` (dataflow runs); each
declares which view paths map onto which of its columns. Filters that map onto a column go into SQL
exactly (the answer is the same as evaluating them on the JSON views); the others come back as
``residual`` for the service to apply to the views.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Literal, Self, TypeVar

from sqlalchemy import ColumnElement, Select, String, cast, false, func, not_, or_, select

from clarion.activation.errors import catalogue
from clarion.activation.listing import Filter, ListQuery, Order, unknown_order_field
from clarion.db.uow import UnitOfWork
from clarion.kit.repository import SandboxRepository
from clarion.tenancy.principal import Principal

E = TypeVar("E")
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


def entity_columns(model: Any) -> dict[str, Column]:
    """The view paths every Flow Service entity has (id and audit fields)."""
    return {
        "id": Column(model.id),
        "createdAt": Column(model.created_at, "time"),
        "updatedAt": Column(model.updated_at, "time"),
        "createdBy": Column(model.created_by),
        "createdClient": Column(model.created_client),
    }


class ListingRepository(SandboxRepository):
    """A sandbox's repository whose lists take the Flow Service list parameters."""

    @classmethod
    def for_principal(cls, uow: UnitOfWork, principal: Principal) -> Self:
        """The repository of the principal's sandbox, in the unit of work's session."""
        return cls(uow.session, principal.org_id, principal.sandbox_id)

    async def find(
        self, statement: Select[Any], query: ListQuery, columns: Mapping[str, Column], order: list[Any]
    ) -> Found[Any]:
        """The rows of ``statement`` the query asks for: one page, or every candidate when filters remain."""
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


def order_by(order: Order | None, allowed: Mapping[str, Any], default: Any) -> list[Any]:
    """The ORDER BY of ``orderby`` (``default`` descending without one), or the catalogue's 1433."""
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
