"""The one place that tells an outage from a bug: a driver exception → ``ServiceUnavailable`` (503) or None.

A dependency that does not answer (PostgreSQL, Redis, the SQLite files) raises its driver's exception deep in
a request. Every error path (FastAPI's handlers, the ASGI middleware, the hot path) asks ``outage_of`` whether
that exception means "a dependency is down": then the client gets a 503 with ``Retry-After`` and the request
can be retried as a whole (nothing was acknowledged). Anything else stays a 500: a bug.

What counts as an outage, by driver:
- SQLAlchemy: a ``DBAPIError`` whose connection was invalidated (SQLAlchemy's own disconnect test), the pool's
  ``TimeoutError`` (no connection could be had), and the driver errors below found in its ``orig``/cause;
- asyncpg: connection errors (SQLSTATE class 08), server shutdown or start-up (57P01-57P03), too many
  connections (53300), "connection is closed";
- sqlite3: SQLITE_BUSY/LOCKED (locked past the busy timeout), IOERR, FULL, CANTOPEN, READONLY (the file was
  moved or made read-only);
- redis: ``ConnectionError`` (including ``BusyLoadingError``), ``TimeoutError``, ``ReadOnlyError``, and the
  ``MISCONF``/``MASTERDOWN``/``OOM`` refusals;
- sockets: ``ConnectionError`` (refused, reset, aborted), ``socket.gaierror``, ``TimeoutError`` and the
  unreachable-host errnos, when a database or queue driver raises them raw.
"""

from __future__ import annotations

import errno
import socket
import sqlite3

import asyncpg
import redis.exceptions as redis_errors
from sqlalchemy import exc as sa_errors

from clarion.errors import ServiceUnavailable

RETRY_AFTER_SECONDS = 5.0
"""What a 503 tells a client to wait: a restarting Redis or PostgreSQL is usually back within seconds."""

DATABASE = "database"
QUEUE = "queue"

_SQLITE_OUTAGE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_READONLY,
    }
)
_SQLITE_OUTAGE_TEXT = (
    "database is locked",
    "unable to open database file",
    "disk i/o error",
    "database or disk is full",
    "attempt to write a readonly database",
)
_REDIS_REFUSALS = ("MISCONF", "MASTERDOWN", "OOM", "LOADING", "READONLY", "TRYAGAIN")
_SOCKET_ERRNOS = frozenset(
    {errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT}
)
_ASYNCPG_OUTAGES: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
)
_MAX_CHAIN = 8


def outage_of(error: BaseException) -> ServiceUnavailable | None:
    """The 503 that ``error`` means when a dependency is down; ``None`` when it is something else (a bug)."""
    if isinstance(error, ServiceUnavailable):
        return error
    dependency = _dependency_down(error)
    return None if dependency is None else ServiceUnavailable(dependency, retry_after=RETRY_AFTER_SECONDS)


def _dependency_down(error: BaseException) -> str | None:
    """``"database"`` or ``"queue"`` when ``error`` (or what caused it) is an outage of that dependency."""
    wrapped_by_sqlalchemy = False
    for link in _chain(error):
        if isinstance(link, sa_errors.DBAPIError | sa_errors.TimeoutError):
            wrapped_by_sqlalchemy = True
            if isinstance(link, sa_errors.TimeoutError) or link.connection_invalidated:
                return DATABASE
        elif isinstance(link, redis_errors.RedisError):
            return QUEUE if _redis_outage(link) else None
        elif isinstance(link, sqlite3.Error):
            # The SQLite queue's writer thread raises sqlite3 errors raw; the database's come wrapped.
            if _sqlite_outage(link):
                return DATABASE if wrapped_by_sqlalchemy else QUEUE
            return None
        elif isinstance(link, _ASYNCPG_OUTAGES) or _asyncpg_closed(link):
            return DATABASE
        elif _socket_outage(link):
            # asyncpg raises connect failures raw (SQLAlchemy does not wrap non-DBAPI errors); redis-py
            # wraps its own, so a bare socket error here comes from the database.
            return DATABASE
    return None


def _chain(error: BaseException) -> list[BaseException]:
    """``error``, SQLAlchemy's ``orig``, then the causes, without loops."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(seen) < _MAX_CHAIN and all(current is not s for s in seen):
        seen.append(current)
        original = getattr(current, "orig", None)
        if isinstance(original, BaseException) and all(original is not s for s in seen):
            current = original
        else:
            current = current.__cause__ or current.__context__
    return seen


def _redis_outage(error: redis_errors.RedisError) -> bool:
    if isinstance(
        error, redis_errors.ConnectionError | redis_errors.TimeoutError | redis_errors.ReadOnlyError
    ):
        return True
    return isinstance(error, redis_errors.ResponseError) and str(error).startswith(_REDIS_REFUSALS)


def _sqlite_outage(error: sqlite3.Error) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in _SQLITE_OUTAGE_CODES:
        return True
    text = str(error).lower()
    return any(fragment in text for fragment in _SQLITE_OUTAGE_TEXT)


def _asyncpg_closed(error: BaseException) -> bool:
    return isinstance(error, asyncpg.exceptions.InterfaceError) and "connection is closed" in str(error)


def _socket_outage(error: BaseException) -> bool:
    if isinstance(error, ConnectionError | socket.gaierror | TimeoutError):
        return True
    return isinstance(error, OSError) and error.errno in _SOCKET_ERRNOS
