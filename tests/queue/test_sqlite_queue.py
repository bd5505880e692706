"""Behaviour specific to the embedded SQLite queue (always available, whichever backend the contract uses)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from clarion.queue.port import JobSpec
from clarion.queue.sqlite import SqliteQueue
from tests.queue.helpers import EMPTY, counts, eventually

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def sqlite_queue(tmp_path: Path) -> AsyncIterator[SqliteQueue]:
    queue = SqliteQueue(tmp_path / "queue.db", max_attempts=2, backoff_base=0.05)
    yield queue
    await queue.close()


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as connection:
        return connection.execute(sql).fetchall()


async def test_duplicate_job_id_is_stored_once(sqlite_queue: SqliteQueue) -> None:
    first = await sqlite_queue.enqueue([JobSpec("t.x", {"v": 1}, job_id="same")])
    second = await sqlite_queue.enqueue(
        [JobSpec("t.x", {"v": 2}, job_id="same"), JobSpec("t.y", job_id="other")]
    )
    assert (first, second) == (["same"], ["same", "other"])

    jobs = await sqlite_queue.reserve("default", limit=10, lease_seconds=30)
    assert [(job.id, job.payload) for job in jobs] == [("same", {"v": 1}), ("other", {})]


async def test_last_error_is_recorded_and_dead_rows_kept(sqlite_queue: SqliteQueue, tmp_path: Path) -> None:
    await sqlite_queue.enqueue([JobSpec("t.x", max_attempts=1)])
    [job] = await sqlite_queue.reserve("default", limit=1, lease_seconds=30)
    assert await sqlite_queue.retry(job, error="RuntimeError: boom") is False
    assert rows(tmp_path / "queue.db", "SELECT dead, last_error, lease_until FROM jobs") == [
        (1, "RuntimeError: boom", None)
    ]


async def test_concurrent_callers_share_group_commits(sqlite_queue: SqliteQueue) -> None:
    results = await asyncio.gather(*(sqlite_queue.enqueue([JobSpec("t.x", {"i": i})]) for i in range(300)))
    assert len({job_id for ids in results for job_id in ids}) == 300
    assert counts(await sqlite_queue.stats()) == {**EMPTY, "ready": 300}


async def test_a_failing_operation_does_not_undo_its_batch(sqlite_queue: SqliteQueue) -> None:
    entered, gate = threading.Event(), threading.Event()

    def hold_the_writer(_connection: sqlite3.Connection) -> None:
        entered.set()
        gate.wait(10)

    def broken(connection: sqlite3.Connection) -> None:
        connection.execute("INSERT INTO jobs (id) VALUES ('half-written')")  # NOT NULL columns missing

    holding = asyncio.ensure_future(sqlite_queue._submit(hold_the_writer))

    async def writer_busy() -> bool:
        return entered.is_set()

    await eventually(writer_busy, what="the writer thread to run the blocking operation")
    batch = asyncio.gather(
        sqlite_queue.enqueue([JobSpec("t.x")]),
        sqlite_queue._submit(broken),
        sqlite_queue.enqueue([JobSpec("t.y")]),
        return_exceptions=True,
    )

    async def all_queued() -> bool:
        return bool(sqlite_queue._writer.inbox.qsize() == 3)

    await eventually(all_queued, what="three operations waiting for one group commit")
    gate.set()
    await holding
    outcomes = await batch
    assert isinstance(outcomes[1], sqlite3.IntegrityError)
    jobs = await sqlite_queue.reserve("default", limit=10, lease_seconds=30)
    assert [job.task for job in jobs] == ["t.x", "t.y"]


async def test_closed_queue_refuses_work(tmp_path: Path) -> None:
    queue = SqliteQueue(tmp_path / "queue.db")
    await queue.enqueue([JobSpec("t.x")])
    await queue.close()
    with pytest.raises(RuntimeError, match="closed"):
        await queue.enqueue([JobSpec("t.x")])


async def test_unopenable_file_fails_every_call(tmp_path: Path) -> None:
    (tmp_path / "not-a-db").write_bytes(b"this is not a SQLite database, just some bytes" * 100)
    queue = SqliteQueue(tmp_path / "not-a-db")
    with pytest.raises(sqlite3.DatabaseError):
        await queue.stats()
    await queue.close()
