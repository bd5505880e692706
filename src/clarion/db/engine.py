"""Engines for the two dialects: SQLite (WAL, one writer) and PostgreSQL (asyncpg pool)."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from clarion.db.dialect import for_engine


def async_url(database_url: str) -> str:
    """Turn a user-facing URL (``sqlite:///…``, ``postgresql://…``) into the async driver URL."""
    url = make_url(database_url)
    if url.drivername in ("sqlite", "sqlite+aiosqlite"):
        return url.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if url.drivername in ("postgresql", "postgres", "postgresql+asyncpg"):
        return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database URL scheme {url.drivername!r}: use sqlite:/// or postgresql://")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


@functools.lru_cache(maxsize=256)
def _compiled_regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _regexp(pattern: object, value: object) -> int | None:
    """SQLite's ``value REGEXP pattern`` (PQL ``matches``): a search; NULL for NULL input or a bad pattern."""
    if not isinstance(pattern, str) or not isinstance(value, str):
        return None
    compiled = _compiled_regex(pattern)
    return None if compiled is None else int(compiled.search(value) is not None)


def _sqlite_functions(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.create_function("regexp", 2, _regexp, deterministic=True)


def create_engine(database_url: str) -> AsyncEngine:
    """Create the process's engine; SQLite files get their parent folder and the WAL pragmas."""
    url = make_url(async_url(database_url))
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, pool_size=5, max_overflow=5)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "connect", _sqlite_functions)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[Any]:
    """Sessions that keep loaded objects usable after commit, stamped with the engine's ``SqlDialect``."""
    return async_sessionmaker(engine, expire_on_commit=False, info={"dialect": for_engine(engine)})
