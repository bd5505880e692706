"""``clarion doctor`` on real backends: a fresh SQLite database, its own redis-server, a real SMTP relay."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clarion.cli.main import app as cli
from clarion.config import Settings
from clarion.container import Container
from clarion.db.migrate import upgrade
from clarion.models.campaigns import IpPool
from clarion.tenancy import service
from tests.conftest import TEST_SECRET_KEY
from tests.delivery.servers import SmtpServer, free_port
from tests.outages.servers import RedisServer

runner = CliRunner()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def installation(tmp_path: Path, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated database of its own (no other test's IP pools), the queue on this test's Redis."""
    database_url = f"sqlite:///{tmp_path / 'doctor.db'}"
    upgrade(database_url)
    for name, value in {
        "CLARION_HOME": str(tmp_path / "home"),
        "CLARION_DATABASE_URL": database_url,
        "CLARION_QUEUE_URL": redis_server.url,
        "CLARION_SECRET_KEY": TEST_SECRET_KEY,
    }.items():
        monkeypatch.setenv(name, value)
    return database_url


def add_pool(database_url: str, redis_url: str, port: int) -> None:
    """An organization's IP pool whose relay is ``127.0.0.1:port``."""

    async def add() -> None:
        settings = Settings(database_url=database_url, queue_url=redis_url, secret_key=TEST_SECRET_KEY)
        container = Container.build(settings)
        try:
            async with container.unit_of_work() as uow:
                org = await service.create_organization(uow, "doctor-org")
                uow.session.add(IpPool(org_id=org.id, name="p", relays=[{"host": "127.0.0.1", "port": port}]))
                await uow.commit()
        finally:
            await container.close()

    asyncio.run(add())


def lines(output: str) -> dict[str, str]:
    """Check name → its status word, from the table."""
    found = {}
    for row in output.splitlines():
        cells = [cell.strip() for cell in row.split("│")]
        if len(cells) > 3 and cells[1] and cells[2] in {"ok", "skip", "warn", "fail"}:
            found[cells[1]] = cells[2]
    return found


def test_a_healthy_installation_has_no_problem(installation: str, redis_server: RedisServer) -> None:
    async def with_relay() -> str:
        async with SmtpServer() as relay:
            # The CLI runs its own event loop: from a thread, while this one serves the relay.
            await asyncio.to_thread(add_pool, installation, redis_server.url, relay.port)
            result = await asyncio.to_thread(runner.invoke, cli, ["doctor"])
            assert result.exit_code == 0, result.output
            return result.output

    output = asyncio.run(with_relay())
    assert lines(output) == {
        "secret key": "ok",
        "database": "ok",
        "migrations": "ok",
        "SMTP relays": "ok",
        "queue": "ok",
        "queue persistence": "ok",
    }
    assert "no problem found" in output


def test_each_problem_is_a_line_with_a_fix_and_exit_code_1(
    installation: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    add_pool(installation, redis_server.url, free_port())  # nobody listens there
    redis_server.kill()
    redis_server.appendonly = False
    redis_server.start()
    result = runner.invoke(cli, ["doctor"])
    assert result.exit_code == 1, result.output
    found = lines(result.output)
    assert (found["SMTP relays"], found["queue persistence"]) == ("fail", "warn")
    assert "appendonly yes" in result.output
    assert "GET /v1/ip-pools" in result.output

    redis_server.kill()
    result = runner.invoke(cli, ["doctor"])
    assert result.exit_code == 1
    assert lines(result.output)["queue"] == "fail"
    assert "CLARION_QUEUE_URL" in result.output


def test_an_unmigrated_database_says_run_clarion_migrate(
    installation: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLARION_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    result = runner.invoke(cli, ["doctor"])
    assert result.exit_code == 1
    assert lines(result.output)["migrations"] == "fail"
    assert "clarion migrate" in result.output
