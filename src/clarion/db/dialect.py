"""The SQL that differs between SQLite and PostgreSQL, chosen once per engine.

``create_sessionmaker`` stamps every session with its engine's ``SqlDialect`` (``dialect_of(session)``), so
no caller asks the connection which database it is talking to or spells a dialect branch of its own. What a
single feature needs beyond these statements sits in that feature's own dialect pair, chosen from
``SqlDialect.name`` in one place (the PQL compiler's ``audiences/pql/dialects.py``, the exporter's member
queries, the profile import's ``bulk_postgres``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, Literal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    Table,
    cast,
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
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.selectable import TableValuedAlias

DialectName = Literal["sqlite", "postgresql"]
TimeColumn = ColumnElement[datetime] | InstrumentedAttribute[datetime]
"""A timestamp column, of a table or of a mapped class."""


class SqlDialect:
    """Statement builders and session tweaks whose SQL differs by database (one instance per dialect)."""

    name: ClassVar[DialectName]

    def insert_ignore(self, table: Table, *, conflict_columns: tuple[str, ...]) -> Insert:
        """``INSERT … ON CONFLICT (cols) DO NOTHING``."""
        return _insert_ignore(table, self.name, conflict_columns)

    def upsert(
        self, table: Table, *, conflict_columns: tuple[str, ...], update_columns: tuple[str, ...]
    ) -> Insert:
        """``INSERT … ON CONFLICT (cols) DO UPDATE SET col = excluded.col``."""
        return _upsert(table, self.name, conflict_columns, update_columns)

    def upsert_adding(
        self, table: Table, *, conflict_columns: tuple[str, ...], add_columns: tuple[str, ...]
    ) -> Insert:
        """``INSERT … ON CONFLICT (cols) DO UPDATE SET col = table.col + excluded.col`` (counters)."""
        return _upsert_adding(table, self.name, conflict_columns, add_columns)

    def upsert_from_select(
        self,
        table: Table,
        *,
        columns: list[str],
        rows: Select[Any],
        conflict_columns: tuple[str, ...],
        updates: Callable[[Any], dict[str, Any]],
        only_if: ColumnElement[bool] | None = None,
    ) -> Insert:
        """``INSERT INTO table (columns) SELECT … ON CONFLICT (cols) DO UPDATE SET … [WHERE only_if]``.

        ``updates`` receives the statement's ``excluded`` namespace and returns the SET clause; the target
        row's current values are the table's own columns, which ``only_if`` may test to leave a conflicting
        row as it is. ``rows`` must have a WHERE clause: SQLite could otherwise read ``ON CONFLICT``'s ``ON``
        as a join's.
        """
        statement: Any = _builder(self.name)(table).from_select(columns, rows)
        result: Insert = statement.on_conflict_do_update(
            index_elements=list(conflict_columns), set_=updates(statement.excluded), where=only_if
        )
        return result

    def json_object_entries(self, column: ColumnElement[Any]) -> TableValuedAlias:
        """The (``key``, ``value``) rows of a JSON object column, to join in FROM."""
        raise NotImplementedError

    def json_array_contains(self, column: ColumnElement[Any], value: str) -> ColumnElement[bool]:
        """True when the JSON array ``column`` holds the string ``value``."""
        raise NotImplementedError

    def epoch_bucket(self, column: TimeColumn, seconds: int) -> ColumnElement[int]:
        """The number of the ``seconds``-long interval since the epoch that a timestamp column falls in."""
        raise NotImplementedError

    async def claim_writer(self, session: AsyncSession, table: Table) -> None:
        """Make the session's transaction the database writer now, before its reads (see SQLite's)."""

    async def prefer_hash_joins(self, session: AsyncSession) -> None:
        """For the rest of the transaction, join big sets by hashing rather than one index probe per row."""


class PostgresDialect(SqlDialect):
    """PostgreSQL (asyncpg): JSONB functions and planner settings."""

    name = "postgresql"

    def json_object_entries(self, column: ColumnElement[Any]) -> TableValuedAlias:
        """``jsonb_each(column)``."""
        entries: TableValuedAlias = func.jsonb_each(column).table_valued("key", "value")
        return entries

    def json_array_contains(self, column: ColumnElement[Any], value: str) -> ColumnElement[bool]:
        """``column @> [value]`` (uses a GIN index when there is one)."""
        contains: ColumnElement[bool] = type_coerce(column, postgresql.JSONB).contains([value])
        return contains

    def epoch_bucket(self, column: TimeColumn, seconds: int) -> ColumnElement[int]:
        """``floor(extract(epoch from column) / seconds)``."""
        bucket: ColumnElement[int] = cast(func.floor(func.extract("epoch", column) / seconds), BigInteger)
        return bucket

    async def prefer_hash_joins(self, session: AsyncSession) -> None:
        """``SET LOCAL enable_nestloop = off``.

        Exports join every member of an audience to its profile. Without fresh statistics (autovacuum off, or
        a segment job that just wrote the memberships) PostgreSQL plans a nested loop of index probes, about
        twice as slow for an audience of 300,000.
        """
        await session.execute(text("SET LOCAL enable_nestloop = off"))


class SqliteDialect(SqlDialect):
    """SQLite (aiosqlite, JSON1): one writer at a time."""

    name = "sqlite"

    def json_object_entries(self, column: ColumnElement[Any]) -> TableValuedAlias:
        """``json_each(column)``."""
        entries: TableValuedAlias = func.json_each(column).table_valued("key", "value")
        return entries

    def json_array_contains(self, column: ColumnElement[Any], value: str) -> ColumnElement[bool]:
        """``EXISTS (SELECT 1 FROM json_each(column) WHERE value = :value)``."""
        items = func.json_each(column).table_valued("value")
        return exists(select(literal(1)).select_from(items).where(items.c.value == value))

    def epoch_bucket(self, column: TimeColumn, seconds: int) -> ColumnElement[int]:
        """``CAST(strftime('%s', column) AS INTEGER) / seconds`` (the stored text is naive UTC)."""
        epoch = cast(func.strftime("%s", column), Integer)
        bucket: ColumnElement[int] = epoch // literal(seconds, Integer)
        return bucket

    async def claim_writer(self, session: AsyncSession, table: Table) -> None:
        """Take SQLite's write lock now with a write that matches no row.

        SQLite's driver starts a transaction at the first write, so reads before it see a snapshot a
        concurrent writer may change before ours writes: a read-modify-write would lose that update. A write
        that matches no row takes the write lock at once (waiting ``busy_timeout`` for the current writer), so
        the reads that follow see the latest data and nobody writes until we commit. PostgreSQL needs nothing
        here: lock the rows read with ``FOR UPDATE``.
        """
        first_column = next(iter(table.primary_key.columns))
        await session.execute(update(table).where(false()).values({first_column: first_column}))


POSTGRESQL = PostgresDialect()
SQLITE = SqliteDialect()


def for_engine(engine: AsyncEngine) -> SqlDialect:
    """The dialect of ``engine`` (called once, where sessions are made)."""
    name = engine.dialect.name
    if name == "postgresql":
        return POSTGRESQL
    if name == "sqlite":
        return SQLITE
    raise ValueError(f"unsupported database {name!r}: use SQLite or PostgreSQL")


def dialect_of(session: AsyncSession) -> SqlDialect:
    """The dialect stamped on ``session`` by ``create_sessionmaker``."""
    dialect: SqlDialect = session.info["dialect"]
    return dialect


# Statements are built once per (table, dialect, columns) and reused: they are immutable, and building one
# (plus its cache key) cost more per ledger batch than the rows themselves on the hot delivery path.


def _builder(name: str) -> Any:
    return postgresql.insert if name == "postgresql" else sqlite.insert


@functools.cache
def _insert_ignore(table: Table, name: str, conflict_columns: tuple[str, ...]) -> Insert:
    statement: Any = _builder(name)(table)
    result: Insert = statement.on_conflict_do_nothing(index_elements=list(conflict_columns))
    return result


@functools.cache
def _upsert_adding(
    table: Table, name: str, conflict_columns: tuple[str, ...], add_columns: tuple[str, ...]
) -> Insert:
    statement: Any = _builder(name)(table)
    result: Insert = statement.on_conflict_do_update(
        index_elements=list(conflict_columns),
        set_={column: table.c[column] + statement.excluded[column] for column in add_columns},
    )
    return result


@functools.cache
def _upsert(
    table: Table, name: str, conflict_columns: tuple[str, ...], update_columns: tuple[str, ...]
) -> Insert:
    statement: Any = _builder(name)(table)
    result: Insert = statement.on_conflict_do_update(
        index_elements=list(conflict_columns),
        set_={column: statement.excluded[column] for column in update_columns},
    )
    return result
