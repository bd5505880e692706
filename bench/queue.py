"""Queue throughput per backend, next to a raw baseline measured in the same run.

Phases (~1 KB JSON payload per job, batches of 500):
- enqueue: ``enqueue()`` of 500 jobs at a time;
- reserve+ack: ``reserve(limit=500)`` then ``ack()`` until the queue is empty;
- produce+consume: one producer enqueueing while one consumer reserves and acks, until all are consumed.

Baselines do the same work with the bare driver: for SQLite, ``sqlite3`` ``executemany`` in one
transaction per 500 rows into a minimal table, ``UPDATE … RETURNING`` + ``DELETE`` to consume; for Redis,
pipelined ``XADD`` and ``XREADGROUP`` + ``XACK``/``XDEL``. Both encode the payload with msgspec, as the
queues do. ``cpu_s`` is the CPU time of this process during the phase (the queue's own cost).

Usage: .venv/bin/python -m bench.queue [--jobs 100000] [--backend sqlite|redis|all] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import msgspec
import redis.asyncio as redis

from bench.kit.backends import redis_version
from bench.kit.report import console, table, write_results
from clarion.queue import sqlite as sqlite_queue
from clarion.queue.port import JobQueue, JobSpec
from clarion.queue.redis_streams import RedisStreamQueue
from clarion.queue.sqlite import SqliteQueue

BATCH = 500
PAYLOAD: dict[str, Any] = {
    "campaignId": "welcome-series-2024-q4",
    "recipient": {"userId": "usr_00012345678", "email": "ada@example.com"},
    "context": {"user": {"firstName": "Ada", "lastName": "Lovelace"}, "pad": "x" * 820},
}


@dataclass
class Result:
    """One measured phase."""

    backend: str
    phase: str
    jobs: int
    seconds: float
    cpu_s: float
    baseline_jobs_per_s: float | None = None
    same_schema_jobs_per_s: float | None = None
    """SQLite only: the queue's own schema and SQL run straight on ``sqlite3`` (no thread, no asyncio)."""

    @property
    def jobs_per_s(self) -> float:
        return self.jobs / self.seconds


class Timer:
    """Wall and process CPU time of a block."""

    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def batches(jobs: int) -> Iterator[range]:
    for start in range(0, jobs, BATCH):
        yield range(start, min(jobs, start + BATCH))


def specs(chunk: range) -> list[JobSpec]:
    return [JobSpec("bench.send", {**PAYLOAD, "n": i}) for i in chunk]


# ---------------------------------------------------------------- our queues


async def queue_enqueue(queue: JobQueue, jobs: int) -> None:
    for chunk in batches(jobs):
        await queue.enqueue(specs(chunk))


async def queue_drain(queue: JobQueue, jobs: int) -> int:
    consumed = 0
    while consumed < jobs:
        reserved = await queue.reserve("default", limit=BATCH, lease_seconds=60)
        if not reserved:
            await asyncio.sleep(0.001)  # produce+consume: the producer is behind
            continue
        await queue.ack(reserved)
        consumed += len(reserved)
    return consumed


async def measure_queue(backend: str, make: Callable[[], JobQueue], jobs: int) -> list[Result]:
    """The three phases on a fresh queue instance each."""
    results = []
    queue = make()
    with Timer() as timer:
        await queue_enqueue(queue, jobs)
    results.append(Result(backend, "enqueue", jobs, timer.wall, timer.cpu))
    with Timer() as timer:
        await queue_drain(queue, jobs)
    results.append(Result(backend, "reserve+ack", jobs, timer.wall, timer.cpu))
    with Timer() as timer:
        await asyncio.gather(queue_enqueue(queue, jobs), queue_drain(queue, jobs))
    results.append(Result(backend, "produce+consume", jobs, timer.wall, timer.cpu))
    await queue.close()
    return results


# ---------------------------------------------------------------- SQLite baseline

RAW_DDL = """
CREATE TABLE jobs (id INTEGER PRIMARY KEY, queue TEXT NOT NULL DEFAULT 'default',
  status INTEGER NOT NULL DEFAULT 0, run_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  payload BLOB NOT NULL);
CREATE INDEX jobs_ready ON jobs (queue, status, run_at, id);
"""
RAW_DEQUEUE = """UPDATE jobs SET status = 1, attempts = attempts + 1 WHERE id IN (SELECT id FROM jobs
 WHERE queue = 'default' AND status = 0 AND run_at <= ? ORDER BY run_at, id LIMIT ?) RETURNING id, payload"""


def raw_connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, timeout=10)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


def raw_sqlite_enqueue(path: Path, jobs: int) -> None:
    connection = raw_connect(path)
    for chunk in batches(jobs):
        rows = [(msgspec.json.encode({**PAYLOAD, "n": i}), time.time()) for i in chunk]
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany("INSERT INTO jobs (payload, run_at) VALUES (?, ?)", rows)
        connection.execute("COMMIT")
    connection.close()


def raw_sqlite_drain(path: Path, jobs: int) -> None:
    connection = raw_connect(path)
    consumed = 0
    while consumed < jobs:
        connection.execute("BEGIN IMMEDIATE")
        rows = connection.execute(RAW_DEQUEUE, (time.time(), BATCH)).fetchall()
        connection.execute("COMMIT")
        if not rows:
            time.sleep(0.001)
            continue
        for _, payload in rows:
            msgspec.json.decode(payload)
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany("DELETE FROM jobs WHERE id = ?", [(row[0],) for row in rows])
        connection.execute("COMMIT")
        consumed += len(rows)
    connection.close()


def measure_raw_sqlite(folder: Path, jobs: int) -> dict[str, float]:
    path = folder / "raw.db"
    raw_connect(path).executescript(RAW_DDL)
    rates = {}
    with Timer() as timer:
        raw_sqlite_enqueue(path, jobs)
    rates["enqueue"] = jobs / timer.wall
    with Timer() as timer:
        raw_sqlite_drain(path, jobs)
    rates["reserve+ack"] = jobs / timer.wall
    producer = threading.Thread(target=raw_sqlite_enqueue, args=(path, jobs))
    with Timer() as timer:
        producer.start()
        raw_sqlite_drain(path, jobs)
        producer.join()
    rates["produce+consume"] = jobs / timer.wall
    return rates


def measure_same_schema_sqlite(folder: Path, jobs: int) -> dict[str, float]:
    """Separates the cost of the schema (unique job-id index) from the cost of the queue machinery."""
    connection = sqlite_queue._connect(folder / "schema.db", "NORMAL")
    rates = {}
    with Timer() as timer:
        for chunk in batches(jobs):
            encoded = [msgspec.json.encode({**PAYLOAD, "n": i}) for i in chunk]
            rows = [(str(uuid.uuid4()), "default", "bench.send", body, time.time(), 8) for body in encoded]
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(sqlite_queue._INSERT, rows)
            connection.execute("COMMIT")
    rates["enqueue"] = jobs / timer.wall
    with Timer() as timer:
        while True:
            connection.execute("BEGIN IMMEDIATE")
            reserved = sqlite_queue._reserve(connection, "default", BATCH, 60)
            connection.execute("COMMIT")
            if not reserved:
                break
            seqs = msgspec.json.encode([int(job.receipt.partition(":")[0]) for job in reserved])
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(sqlite_queue._DELETE, (seqs,))
            connection.execute("COMMIT")
    rates["reserve+ack"] = jobs / timer.wall
    connection.close()
    return rates


# ---------------------------------------------------------------- Redis baseline


async def raw_redis_enqueue(client: redis.Redis, stream: str, jobs: int) -> None:
    for chunk in batches(jobs):
        pipe = client.pipeline(transaction=False)
        for i in chunk:
            pipe.xadd(stream, {"d": msgspec.json.encode({**PAYLOAD, "n": i})})
        await pipe.execute()


async def raw_redis_drain(client: redis.Redis, stream: str, jobs: int) -> None:
    consumed = 0
    while consumed < jobs:
        answer: Any = await client.xreadgroup("workers", "bench", {stream: ">"}, count=BATCH, block=100)
        if not answer:
            continue
        entries = answer[0][1]
        for _, fields in entries:
            msgspec.json.decode(fields[b"d"])
        ids = [entry_id for entry_id, _ in entries]
        pipe = client.pipeline(transaction=False)
        pipe.xack(stream, "workers", *ids)
        pipe.xdel(stream, *ids)
        await pipe.execute()
        consumed += len(ids)


async def measure_raw_redis(url: str, prefix: str, jobs: int) -> dict[str, float]:
    client: redis.Redis = redis.from_url(url)
    stream = f"{prefix}:raw"
    await client.xgroup_create(stream, "workers", id="0", mkstream=True)
    rates = {}
    with Timer() as timer:
        await raw_redis_enqueue(client, stream, jobs)
    rates["enqueue"] = jobs / timer.wall
    with Timer() as timer:
        await raw_redis_drain(client, stream, jobs)
    rates["reserve+ack"] = jobs / timer.wall
    with Timer() as timer:
        await asyncio.gather(raw_redis_enqueue(client, stream, jobs), raw_redis_drain(client, stream, jobs))
    rates["produce+consume"] = jobs / timer.wall
    await client.aclose()
    return rates


async def delete_prefix(url: str, prefix: str) -> None:
    client: redis.Redis = redis.from_url(url)
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


# ---------------------------------------------------------------- driver


def with_baseline(results: list[Result], rates: dict[str, float]) -> list[Result]:
    for result in results:
        result.baseline_jobs_per_s = rates[result.phase]
    return results


async def bench_sqlite(jobs: int) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="clarion-bench-") as folder:
        rates = await asyncio.to_thread(measure_raw_sqlite, Path(folder), jobs)
        same_schema = await asyncio.to_thread(measure_same_schema_sqlite, Path(folder), jobs)
        results = await measure_queue("sqlite", lambda: SqliteQueue(Path(folder) / "queue.db"), jobs)
    for result in results:
        result.same_schema_jobs_per_s = same_schema.get(result.phase)
    return with_baseline(results, rates)


async def bench_redis(url: str, jobs: int) -> list[Result]:
    prefix = f"clarion-bench-{secrets.token_hex(4)}"
    try:
        rates = await measure_raw_redis(url, prefix, jobs)
        results = await measure_queue("redis", lambda: RedisStreamQueue(url, prefix=prefix), jobs)
    finally:
        await delete_prefix(url, prefix)
    return with_baseline(results, rates)


def render(results: list[Result], jobs: int) -> None:
    rows = []
    for result in results:
        baseline = result.baseline_jobs_per_s or 0.0
        same_schema = result.same_schema_jobs_per_s
        rows.append(
            [
                result.backend,
                result.phase,
                f"{result.jobs_per_s:,.0f}",
                f"{baseline:,.0f}",
                f"{result.jobs_per_s / baseline:.2f}" if baseline else "-",
                f"{same_schema:,.0f}" if same_schema else "-",
                f"{result.cpu_s:.2f}",
            ]
        )
    columns = ["backend", "phase", "jobs/s", "baseline jobs/s", "ratio", "raw, queue schema", "cpu s"]
    caption = (
        "baseline: bare driver on a minimal table / stream; raw, queue schema: the SQLite queue's own "
        "schema and SQL on one sqlite3 connection; cpu s: this process's CPU time during the phase"
    )
    title = f"Queue throughput — {jobs:,} jobs of ~1 KB, batches of {BATCH}"
    console.print(table(title, columns, rows, caption=caption, left={"phase"}))


def save(results: list[Result], meta: dict[str, Any]) -> None:
    rows = [{**asdict(result), "jobs_per_s": result.jobs_per_s} for result in results]
    console.print(f"written {write_results('queue', {'meta': meta, 'results': rows})}")


async def main(args: argparse.Namespace) -> None:
    meta: dict[str, Any] = {
        "jobs": args.jobs,
        "batch": BATCH,
        "payload_bytes": len(msgspec.json.encode(PAYLOAD)),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "loop": type(asyncio.get_running_loop()).__module__,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    results: list[Result] = []
    if args.backend in ("sqlite", "all"):
        results += await bench_sqlite(args.jobs)
    if args.backend in ("redis", "all"):
        meta["redis"] = await redis_version(args.redis_url)
        if meta["redis"] is None:
            console.print(f"[yellow]no Redis at {args.redis_url}: skipped[/yellow]")
        else:
            results += await bench_redis(args.redis_url, args.jobs)
    render(results, args.jobs)
    save(results, meta)


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    """uvloop when installed (what uvicorn uses in production), else the default loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coroutine)
        return
    uvloop.run(coroutine)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--backend", choices=("sqlite", "redis", "all"), default="all")
    parser.add_argument(
        "--redis-url", default=os.environ.get("CLARION_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    run(main(parser.parse_args()))
