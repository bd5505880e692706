"""``clarion doctor``: is this installation ready for production? One finding per check, each with a fix.

Every check is bounded in time (a dead host answers nothing; the doctor must still finish) and read-only:
the doctor opens the configured backends, asks, and closes them; it never migrates, writes, or creates a key.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from clarion.campaigns import ip_pools
from clarion.config import Settings
from clarion.container import Container, secret_key, uses_redis
from clarion.db.migrate import current_revision, head_revision
from clarion.kit.secretbox import SecretBox, new_key

TIMEOUT_SECONDS = 5.0
"""Longest wait of any one check."""

T = TypeVar("T")


class Status(enum.Enum):
    """How a check went; ``WARN`` and ``FAIL`` are problems (exit code 1)."""

    OK = "ok"
    SKIP = "skip"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Finding:
    """The outcome of one check and, for a problem, how to fix it."""

    check: str
    status: Status
    detail: str
    hint: str = ""

    @property
    def is_problem(self) -> bool:
        """True for a warning or a failure."""
        return self.status in (Status.WARN, Status.FAIL)


async def examine(settings: Settings) -> list[Finding]:
    """Run every check against the installation ``settings`` describe."""
    findings = [_check_secret_key(settings)]
    # The doctor decrypts nothing: a throwaway key lets it open the backends even when the real one is bad.
    container = Container.build(settings.model_copy(update={"secret_key": new_key()}))
    try:
        database = await _check_database(container)
        findings.append(database)
        if database.status is Status.OK:
            migrations = await _check_migrations(container)
            findings.append(migrations)
            if migrations.status is Status.OK:  # the relays are read from the ip_pools table
                findings.append(await _check_relays(container))
        queue = await _check_queue(container)
        findings.append(queue)
        if queue.status is Status.OK:
            findings.extend(await _check_persistence(container))
    finally:
        await container.close()
    return findings


def _check_secret_key(settings: Settings) -> Finding:
    name = "secret key"
    if not settings.secret_key and settings.embedded:
        where = settings.home / "secret.key"
        state = "present" if where.exists() else "created on the first start"
        return Finding(name, Status.OK, f"embedded: kept in {where} ({state})")
    try:
        SecretBox(secret_key(settings))
    except ValueError as error:
        hint = (
            "export CLARION_SECRET_KEY=\"$(python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')\"; keep it: stored passwords need it"
        )
        return Finding(name, Status.FAIL, str(error).split("(")[0].strip(), hint)
    return Finding(name, Status.OK, "CLARION_SECRET_KEY is set and is a valid key")


async def _check_database(container: Container) -> Finding:
    name = "database"
    where = _redacted(container.settings.database_url)
    problem = await _bounded(container.check_database())
    if problem is not None:
        hint = "check CLARION_DATABASE_URL, that the server runs and accepts this user"
        return Finding(name, Status.FAIL, f"{where} does not answer: {problem}", hint)
    return Finding(name, Status.OK, f"{where} answers")


async def _check_migrations(container: Container) -> Finding:
    name = "migrations"
    head = head_revision(container.settings.database_url)
    try:
        current = await asyncio.wait_for(current_revision(container.engine), TIMEOUT_SECONDS)
    except Exception as error:
        return Finding(name, Status.FAIL, f"could not read the schema version: {_describe(error)}")
    if current != head:
        detail = f"schema at {current or 'nothing (never migrated)'}, code expects {head}"
        return Finding(
            name, Status.FAIL, detail, "run `clarion migrate` (once, before starting the new version)"
        )
    return Finding(name, Status.OK, f"schema at head ({head})")


async def _check_queue(container: Container) -> Finding:
    name = "queue"
    where = _redacted(container.settings.queue_url)
    problem = await _bounded(container.check_queue())
    if problem is not None:
        hint = "check CLARION_QUEUE_URL and that Redis runs" if uses_redis(container.settings) else ""
        return Finding(name, Status.FAIL, f"{where} does not answer: {problem}", hint)
    return Finding(name, Status.OK, f"{where} answers")


async def _check_persistence(container: Container) -> list[Finding]:
    name = "queue persistence"
    if not uses_redis(container.settings):
        return [Finding(name, Status.OK, "the SQLite queue commits every batch to its file before the 202")]
    try:
        warnings = await asyncio.wait_for(container.queue_warnings(), TIMEOUT_SECONDS)
    except Exception as error:
        return [Finding(name, Status.WARN, f"could not read the settings: {_describe(error)}")]
    hint = "redis.conf: appendonly yes + appendfsync everysec (or always); see README, Running in production"
    if warnings:
        return [Finding(name, Status.WARN, warning, hint) for warning in warnings]
    return [Finding(name, Status.OK, "Redis writes an append-only file (AOF)")]


async def _check_relays(container: Container) -> Finding:
    name = "SMTP relays"
    try:
        async with container.unit_of_work() as uow:
            relays = await asyncio.wait_for(ip_pools.instance_relays(uow), TIMEOUT_SECONDS)
    except Exception as error:
        return Finding(name, Status.FAIL, f"could not read the IP pools: {_describe(error)}")
    if not relays:
        return Finding(name, Status.SKIP, "no IP pool names a relay yet")
    results = await asyncio.gather(*(_greeting(host, port) for host, port in relays))
    down = [
        f"{host}:{port} ({problem})" for (host, port), problem in zip(relays, results, strict=True) if problem
    ]
    if down:
        hint = "check the IP pools' relays (GET /v1/ip-pools), DNS and firewalls from this host"
        return Finding(
            name, Status.FAIL, f"{len(down)} of {len(relays)} unreachable: " + ", ".join(down), hint
        )
    return Finding(name, Status.OK, f"{len(relays)} relay(s) greet with 220")


async def _greeting(host: str, port: int) -> str | None:
    """``None`` when an SMTP server at ``host:port`` says 220 within the timeout, else what went wrong."""

    async def talk() -> str | None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            line = await reader.readline()
        finally:
            writer.close()
        return None if line.startswith(b"220") else f"greeted with {line[:40]!r}"

    try:
        return await asyncio.wait_for(talk(), TIMEOUT_SECONDS)
    except Exception as error:
        return _describe(error)


async def _bounded(check: Awaitable[T]) -> str | None:
    """``None`` when ``check`` completes within the timeout, else a short description of the failure."""
    try:
        await asyncio.wait_for(check, TIMEOUT_SECONDS)
    except Exception as error:
        return _describe(error)
    return None


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return f"no answer within {TIMEOUT_SECONDS:g} s"
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}"[:200]


def _redacted(url: str) -> str:
    """A URL without its password."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else f"{scheme}://{user}@{host}"
