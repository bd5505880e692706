"""A queue worker in its own process, for the crash-recovery and graceful-shutdown tests.

Its one task, ``test.effect``, does some "work" (a sleep), then writes an effect row and claims the job
ledger in ONE transaction on the main database. A redelivered job whose effect is already committed finds
its ledger row and writes a ``skip`` row instead, so the tests can count effects and redeliveries.

Run: ``python tests/queue/worker_process.py --queue-url sqlite --queue-path … --database-url … --table …``
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, insert

from clarion.db.engine import create_engine, create_sessionmaker
from clarion.models.jobs import claim
from clarion.queue.port import Job, JobQueue
from clarion.queue.redis_streams import RedisStreamQueue
from clarion.queue.sqlite import SqliteQueue
from clarion.queue.worker import TaskRegistry, Worker

TASK = "test.effect"


def effects_table(name: str) -> Table:
    """The test-only effects table: deliberately WITHOUT a unique constraint, so duplicates would show."""
    return Table(
        name,
        MetaData(),
        Column("job_id", String(64), nullable=False),
        Column("kind", String(16), nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("pid", Integer, nullable=False),
    )


def open_queue(url: str, *, path: Path, prefix: str) -> JobQueue:
    """The backend named by ``CLARION_TEST_QUEUE_URL``: ``sqlite`` (file at ``path``) or a Redis URL."""
    if url == "sqlite":
        return SqliteQueue(path, backoff_base=0.05, backoff_max=1.0)
    return RedisStreamQueue(url, prefix=prefix, backoff_base=0.05, backoff_max=1.0)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queue-url", required=True)
    parser.add_argument("--queue-path", type=Path, required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--lease", type=float, required=True)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--work-ms", type=float, default=8.0)
    parser.add_argument("--record-start", action="store_true", help="commit a 'start' row before the work")
    return parser.parse_args()


async def main(args: argparse.Namespace) -> None:
    """Run a worker until SIGTERM/SIGINT."""
    queue = open_queue(args.queue_url, path=args.queue_path, prefix=args.prefix)
    engine = create_engine(args.database_url)
    sessions = create_sessionmaker(engine)
    table = effects_table(args.table)
    pid = os.getpid()
    registry = TaskRegistry()

    @registry.register(TASK)
    async def effect(job: Job) -> None:
        if args.record_start:
            async with sessions.begin() as session:
                await session.execute(
                    insert(table).values(job_id=job.id, kind="start", attempts=job.attempts, pid=pid)
                )
        await asyncio.sleep(args.work_ms / 1000)
        async with sessions.begin() as session:
            kind = "effect" if await claim(session, job) else "skip"
            await session.execute(
                insert(table).values(job_id=job.id, kind=kind, attempts=job.attempts, pid=pid)
            )

    worker = Worker(
        queue,
        registry,
        queues=["default"],
        concurrency=args.concurrency,
        batch_size=args.batch,
        lease_seconds=args.lease,
        poll_interval=0.02,
    )
    worker.install_signal_handlers()
    try:
        await worker.run()
    finally:
        await queue.close()
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(_arguments()))
