"""The only dialect-specific SQL in Clarion."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    exists,
    false,
    func,
    literal,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.selectable import TableValuedAlias

# Statements are built once per (table, dialect, columns) and reused: they are immutable, and building one
# (plus its cache key) cost more per ledger batch than the rows themselves on the hot delivery path.


@functools.cache
def insert_ignore(table: Table, dialect_name: str, *, conflict_columns: tuple[str, ...]) -> Insert:
    """``INSERT … ON CONFLICT (cols) DO NOTHING`` for the session's dialect."""
    builder: Any = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    statement: Any = builder(table)
    result: Insert = statement.on_conflict_do_nothing(index_elements=list(conflict_columns))
    return result


@functools.cache
def upsert(
    table: Table,
    dialect_name: str,
    *,
    conflict_columns: tuple[str, ...],
    update_columns: tuple[str, ...],
) -> Insert:
    """``INSERT … ON CONFLICT (cols) DO UPDATE SET col = excluded.col`` for the session's dialect."""
    builder: Any = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    statement: Any = builder(table)
    result: Insert = statement.on_conflict_do_update(
        index_elements=list(conflict_columns),
        set_={name: statement.excluded[name] for name in update_columns},
    )
    return result


def upsert_from_select(
    table: Table,
    dialect_name: str,
    *,
    columns: list[str],
    rows: Select[Any],
    conflict_columns: tuple[str, ...],
    updates: Callable[[Any], dict[str, Any]],
    only_if: ColumnElement[bool] | None = None,
) -> Insert:
    """``INSERT INTO table (columns) SELECT … ON CONFLICT (cols) DO UPDATE SET … [WHERE only_if]``, set-based.

    ``updates`` receives the statement's ``excluded`` namespace and returns the SET clause; the target row's
    current values are the table's own columns, which ``only_if`` may test to leave a conflicting row as it
    is. ``rows`` must have a WHERE clause: SQLite could otherwise read ``ON CONFLICT``'s ``ON`` as a join's.
    """
    builder: Any = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    statement: Any = builder(table).from_select(columns, rows)
    result: Insert = statement.on_conflict_do_update(
        index_elements=list(conflict_columns), set_=updates(statement.excluded), where=only_if
    )
    return result


def json_object_entries(column: ColumnElement[Any], dialect_name: str) -> TableValuedAlias:
    """The (``key``, ``value``) rows of a JSON object column, to join in FROM (json_each, jsonb_each)."""
    function = func.jsonb_each if dialect_name == "postgresql" else func.json_each
    entries: TableValuedAlias = function(column).table_valued("key", "value")
    return entries


def json_array_contains(column: ColumnElement[Any], value: str, dialect_name: str) -> ColumnElement[bool]:
    """True when the JSON array ``column`` holds the string ``value`` (``@>`` on PostgreSQL)."""
    if dialect_name == "postgresql":
        contains: ColumnElement[bool] = type_coerce(column, postgresql.JSONB).contains([value])
        return contains
    items = func.json_each(column).table_valued("value")
    return exists(select(literal(1)).select_from(items).where(items.c.value == value))


async def claim_writer(session: AsyncSession, table: Table) -> None:
    """Make the session's transaction the database writer now, before its reads (SQLite only).

    SQLite's driver starts a transaction at the first write, so reads before it see a snapshot a concurrent
    writer may change before ours writes: a read-modify-write would lose that update. A write that matches
    no row takes SQLite's write lock at once (waiting ``busy_timeout`` for the current writer), so the reads
    that follow see the latest data and nobody writes until we commit. PostgreSQL needs nothing here: lock
    the rows read with ``FOR UPDATE``.
    """
    if session.get_bind().dialect.name == "sqlite":
        first_column = next(iter(table.primary_key.columns))
        await session.execute(update(table).where(false()).values({first_column: first_column}))


async def prefer_hash_joins(session: AsyncSession) -> None:
    """For the rest of the transaction, join big sets by hashing rather than one index probe per row.

    Exports join every member of an audience to its profile. Without fresh statistics (autovacuum off, or a
    segment job that just wrote the memberships) PostgreSQL plans a nested loop of index probes, about
    twice as slow for an audience of 300,000. SQLite has no such choice to make.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SET LOCAL enable_nestloop = off"))
