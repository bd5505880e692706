"""Fresh backends for one Clarion instance: an embedded home (SQLite + embedded queue), or a PostgreSQL
database and Redis db 9 that the benchmark creates, flushes and drops itself (never any other). PostgreSQL
is reached on 127.0.0.1:5432 as ``postgres`` with trust authentication, Redis on 127.0.0.1:6379."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.asyncio import Redis as AsyncRedis

from bench.kit.processes import run_clarion
from clarion.kit.secretbox import new_key

REDIS_URL = "redis://127.0.0.1:6379/9"
"""The one Redis database the benchmarks use; flushed before and after a production run (only this one)."""
DATABASE_PREFIX = "clarion_bench_"
"""Every database a benchmark creates (and may drop) is named so."""


@dataclass
class Backend:
    """Where one Clarion instance keeps its data: the environment of its processes, and how to clean up."""

    kind: str  # "embedded" | "production"
    env: dict[str, str]
    database_url: str
    queue_url: str
    workdir: Path
    database_name: str = ""

    def describe(self) -> str:
        """One line for tables."""
        if self.kind == "embedded":
            return "SQLite + embedded queue"
        return f"PostgreSQL ({self.database_name}) + Redis db {self.queue_url.rsplit('/', 1)[1]}"

    def cleanup(self) -> None:
        """Drop the database and flush the shared Redis database this run used (production only; a Redis
        server of the benchmark's own goes away with its process)."""
        if self.kind == "production":
            drop_database(self.database_name)
            if self.queue_url == REDIS_URL:
                flush_redis(self.queue_url)


def base_env(home: Path) -> dict[str, str]:
    """The environment of Clarion processes: ours, minus inherited ``CLARION_*``, plus a home folder."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLARION_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(
        {
            "CLARION_HOME": str(home),
            "CLARION_SMTP_CAPTURE_PORT": "0",  # never collide with a developer's capture server on 2525
            "CLARION_FEEDBACK_SMTP_PORT": "0",  # nor with their feedback listener on 2526
            "COLUMNS": "300",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def embedded_backend(workdir: Path, *, name: str = "clarion") -> Backend:
    """A fresh CLARION_HOME: SQLite database and embedded queue (migrated by the CLI on first use)."""
    home = workdir / name
    home.mkdir(parents=True)
    env = base_env(home)
    return Backend("embedded", env, f"sqlite:///{home / 'clarion.db'}", "sqlite", workdir)


def production_backend(workdir: Path, *, name: str = "clarion", redis_url: str = REDIS_URL) -> Backend:
    """A fresh PostgreSQL database, Redis db 9 (flushed) or ``redis_url`` (a Redis server the benchmark
    started itself, used as is) and a Fernet key; migrated by ``clarion migrate``."""
    home = workdir / name
    home.mkdir(parents=True)
    database, url = fresh_database()
    if redis_url == REDIS_URL:
        flush_redis(REDIS_URL)
    env = base_env(home)
    env.update(
        {
            "CLARION_DATABASE_URL": url,
            "CLARION_QUEUE_URL": redis_url,
            "CLARION_SECRET_KEY": new_key(),
            "CLARION_REDIS_PREFIX": f"bench-{secrets.token_hex(3)}",
        }
    )
    backend = Backend("production", env, url, redis_url, workdir, database)
    try:
        run_clarion(["migrate"], env)
    except Exception:
        backend.cleanup()
        raise
    return backend


def make_backend(kind: str, workdir: Path, *, name: str = "clarion", redis_url: str = REDIS_URL) -> Backend:
    """``embedded`` or ``production`` (on ``redis_url``)."""
    if kind == "embedded":
        return embedded_backend(workdir, name=name)
    if kind == "production":
        return production_backend(workdir, name=name, redis_url=redis_url)
    raise ValueError(f"unknown backend {kind!r}")


def _psql(sql: str) -> None:
    subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-c",
            sql,
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )


def fresh_database() -> tuple[str, str]:
    """CREATE DATABASE clarion_bench_<random> (the benchmark's own); its name and URL."""
    name = f"{DATABASE_PREFIX}{secrets.token_hex(4)}"
    _psql(f'CREATE DATABASE "{name}"')
    return name, f"postgresql://postgres@127.0.0.1:5432/{name}"


def drop_database(name: str) -> None:
    """DROP DATABASE … WITH (FORCE): only a database this benchmark created."""
    assert name.startswith(DATABASE_PREFIX)
    with contextlib.suppress(subprocess.CalledProcessError):
        _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def flush_redis(url: str) -> None:
    """FLUSHDB on the benchmark's Redis database (db 9), never any other."""
    assert url == REDIS_URL, url
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


async def redis_version(url: str) -> str | None:
    """The version of the Redis server at ``url``, or None when none answers there."""
    client = AsyncRedis.from_url(url, socket_connect_timeout=1)
    try:
        info = await client.info("server")
        return str(info["redis_version"])
    except (redis.ConnectionError, OSError):
        return None
    finally:
        await client.aclose()
