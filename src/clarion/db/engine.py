"""Engines for the two dialects: SQLite (WAL, one writer) and PostgreSQL (asyncpg pool)."""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
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
    # Past this wait for another writer, a statement fails with "database is locked": a 503 (kit.outages).
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


PG_CONNECT_TIMEOUT_SECONDS = 5
"""asyncpg waits 60 s for a connection by default: a partitioned database would hold requests that long."""


def file_identity(path: Path) -> tuple[int, int] | None:
    """``(device, inode)`` of the file at ``path`` now, or ``None`` when nothing is there."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


class _SqliteFileWatch:
    """Pool hooks that notice a database file moved, deleted or replaced under open connections.

    An open SQLite connection keeps its file descriptor: with the file renamed or unlinked it would go on
    reading and writing an inode nobody will find again, and answer success. Each checkout compares the
    file at the path with the one the connection opened (one ``stat``); on a difference the pool drops the
    connection and opens a new one, which fails while the file is unreachable ("unable to open database
    file", an outage: 503) and works again once it is back.
    """

    def __init__(self, path: Path) -> None:
        self._path = path

    def connected(self, _dbapi_connection: Any, record: Any) -> None:
        record.info["sqlite_file"] = file_identity(self._path)

    def checkout(self, _dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if file_identity(self._path) != record.info.get("sqlite_file"):
            raise DisconnectionError(f"the SQLite file {self._path} was moved, replaced or removed")


def create_engine(database_url: str) -> AsyncEngine:
    """Create the process's engine; SQLite files get their parent folder and the WAL pragmas."""
    url = make_url(async_url(database_url))
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(url, pool_size=5, max_overflow=5)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "connect", _sqlite_functions)
        if url.database and url.database != ":memory:":
            path = Path(url.database)
            path.parent.mkdir(parents=True, exist_ok=True)
            watch = _SqliteFileWatch(path)
            event.listen(engine.sync_engine, "connect", watch.connected)
            event.listen(engine.sync_engine, "checkout", watch.checkout)
        return engine
    return create_async_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
        connect_args={"timeout": PG_CONNECT_TIMEOUT_SECONDS},
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[Any]:
    """Sessions that keep loaded objects usable after commit, stamped with the engine's ``SqlDialect``."""
    return async_sessionmaker(engine, expire_on_commit=False, info={"dialect": for_engine(engine)})
