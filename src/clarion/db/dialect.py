"""The only dialect-specific SQL in Clarion."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

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
