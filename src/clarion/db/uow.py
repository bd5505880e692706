"""Unit of work: the only place that commits. Jobs deferred during the work leave after the commit."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clarion.db.dialect import SqlDialect, dialect_of
from clarion.queue.port import JobQueue, JobSpec


class UnitOfWork:
    """One database transaction plus the jobs it hands to the queue once committed."""

    def __init__(self, sessions: async_sessionmaker[Any], queue: JobQueue) -> None:
        self._sessions = sessions
        self._queue = queue
        self._jobs: list[JobSpec] = []
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        """The transaction's session, opened lazily: requests that never touch it cost nothing."""
        if self._session is None:
            self._session = self._sessions()
        return self._session

    @property
    def dialect(self) -> SqlDialect:
        """The database's ``SqlDialect`` (chosen once, with the engine)."""
        return dialect_of(self.session)

    def defer(self, jobs: Sequence[JobSpec]) -> None:
        """Queue jobs to be enqueued after a successful commit (never for a rolled-back change)."""
        self._jobs.extend(jobs)

    async def commit(self) -> None:
        """Commit the transaction, then enqueue the deferred jobs."""
        if self._jobs:
            # A queue that is down now fails the request before anything is committed (a 503, no rows
            # without their jobs). Only a queue lost between this check and the enqueue can still leave them.
            await self._queue.ping()
        if self._session is not None:
            await self._session.commit()
        if self._jobs:
            jobs, self._jobs = self._jobs, []
            await self._queue.enqueue(jobs)

    async def rollback(self) -> None:
        """Discard the transaction and the deferred jobs."""
        self._jobs.clear()
        if self._session is not None:
            await self._session.rollback()

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            if exc_type is not None:
                await self._session.rollback()
            await self._session.close()
            self._session = None
        self._jobs.clear()
