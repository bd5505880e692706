"""The only dialect-specific SQL in Clarion."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert


def insert_ignore(table: Table, dialect_name: str, *, conflict_columns: list[str]) -> Insert:
    """``INSERT … ON CONFLICT (cols) DO NOTHING`` for the session's dialect."""
    builder: Any = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    statement: Any = builder(table)
    result: Insert = statement.on_conflict_do_nothing(index_elements=conflict_columns)
    return result


def upsert(
    table: Table, dialect_name: str, *, conflict_columns: list[str], update_columns: list[str]
) -> Insert:
    """``INSERT … ON CONFLICT (cols) DO UPDATE SET col = excluded.col`` for the session's dialect."""
    builder: Any = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    statement: Any = builder(table)
    result: Insert = statement.on_conflict_do_update(
        index_elements=conflict_columns, set_={name: statement.excluded[name] for name in update_columns}
    )
    return result
