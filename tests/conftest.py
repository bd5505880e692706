"""Shared fixtures. The backends come from the environment, so CI runs the same suite twice:

- ``CLARION_TEST_DATABASE_URL`` (default: a SQLite file in a temp folder); a PostgreSQL URL must name a fresh
  database (``.ci/run`` creates one per run).
- ``CLARION_TEST_QUEUE_URL``: ``sqlite`` (default) or ``redis://…`` (queue and limiter).

Tests isolate themselves by tenant: each gets its own organization, so they share one migrated database.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from clarion.app import create_app
from clarion.config import Settings
from clarion.container import Container
from clarion.db.migrate import upgrade
from clarion.kit.secretbox import new_key
from clarion.ops.metrics import Metrics
from clarion.runtime import BackgroundServices
from clarion.services import Services
from clarion.tenancy import service
from clarion.tenancy.principal import Role
from tests.builders import Api, Tenant

DATABASE_URL = os.environ.get("CLARION_TEST_DATABASE_URL", "")
QUEUE_URL = os.environ.get("CLARION_TEST_QUEUE_URL", "sqlite")
TEST_SECRET_KEY = new_key()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One migrated database for the whole run."""
    url = DATABASE_URL or f"sqlite:///{tmp_path_factory.mktemp('db') / 'clarion.db'}"
    upgrade(url)
    return url


def settings_for(database_url: str, folder: Path) -> Settings:
    """Test settings: the shared database, a home folder under ``folder``, an own Redis key prefix."""
    return Settings(
        home=folder / "home",
        database_url=database_url,
        queue_url=QUEUE_URL,
        redis_prefix=f"clarion-test-{secrets.token_hex(4)}",
        auto_migrate=False,
        smtp_capture=False,
        feedback_smtp=False,
        auth_cache_seconds=0,
        secret_key=TEST_SECRET_KEY,
        retry_base_seconds=0.05,
    )


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for one test: shared database, own home folder, own Redis key prefix."""
    return settings_for(database_url, tmp_path)


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The ``clarion`` CLI, run in this process, reads the test settings from the environment."""
    monkeypatch.setenv("CLARION_HOME", str(settings.home))
    monkeypatch.setenv("CLARION_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CLARION_QUEUE_URL", settings.queue_url)
    monkeypatch.setenv("CLARION_REDIS_PREFIX", settings.redis_prefix)
    monkeypatch.setenv("CLARION_SECRET_KEY", settings.secret_key)
    return settings


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The application with its lifespan running (no background worker)."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def container(app: FastAPI) -> Container:
    """The running application's container."""
    built: Container = app.state.container
    return built


@pytest.fixture
def services(app: FastAPI) -> Services:
    """The running application's domain runtime (gateway, intakes, rule book, throttled HTTP client)."""
    built: Services = app.state.services
    return built


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://clarion.test") as http:
        yield http


TenantFactory = Callable[..., Awaitable[Tenant]]


@pytest.fixture
async def worker(services: Services) -> AsyncIterator[BackgroundServices]:
    """The background services of a `clarion serve` process: queue worker and throttle dispatcher."""
    background = BackgroundServices(services, Metrics(), run_worker=True, capture_smtp=False)
    await background.start()
    yield background
    await background.stop()


@pytest.fixture
def make_tenant(container: Container) -> TenantFactory:
    """Create organizations with a credential (``admin``: full power, unless ``role`` says otherwise)."""

    async def make(
        name: str = "", *, high_throughput: bool = False, ttl_seconds: int = 3600, role: Role = Role.ADMIN
    ) -> Tenant:
        return await new_tenant(
            container, name, high_throughput=high_throughput, ttl_seconds=ttl_seconds, role=role
        )

    return make


async def new_tenant(
    container: Container,
    name: str = "",
    *,
    high_throughput: bool = False,
    ttl_seconds: int = 3600,
    role: Role = Role.ADMIN,
) -> Tenant:
    """An organization with a credential, made through the real services."""
    async with container.unit_of_work() as uow:
        org = await service.create_organization(
            uow, name or f"org-{secrets.token_hex(4)}", high_throughput=high_throughput
        )
        credential = await service.create_credential(
            uow, org, name="tests", ttl_seconds=ttl_seconds, role=role
        )
    return Tenant(org.id, org.ims_org_id, credential.client_id, credential.token.access_token)


KeyFactory = Callable[[Tenant, Role], Awaitable[Tenant]]


@pytest.fixture
def make_key(container: Container) -> KeyFactory:
    """Another API key of a tenant's organization, with the given role: the same data, less power."""

    async def make(tenant: Tenant, role: Role) -> Tenant:
        async with container.unit_of_work() as uow:
            org = await service.find_organization(uow, tenant.ims_org_id)
            credential = await service.create_credential(
                uow, org, name=f"tests-{role.value}", ttl_seconds=3600, role=role
            )
        return Tenant(tenant.org_id, tenant.ims_org_id, credential.client_id, credential.token.access_token)

    return make


@pytest.fixture
async def tenant(make_tenant: TenantFactory) -> Tenant:
    """One fresh tenant."""
    return await make_tenant()


@pytest.fixture
def make_api(client: httpx.AsyncClient, make_tenant: TenantFactory) -> Callable[..., Awaitable[Api]]:
    """Tenants with a client of the /v1 campaign API."""

    async def make(*, high_throughput: bool = True) -> Api:
        return Api(client, await make_tenant(high_throughput=high_throughput))

    return make


@pytest.fixture
async def api(make_api: Callable[..., Awaitable[Api]]) -> Api:
    """One tenant (with the high-throughput entitlement) and its API client."""
    return await make_api()
