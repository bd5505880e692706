"""Health, readiness, metrics and logs."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
import structlog
from fastapi import FastAPI

from clarion.config import Settings
from clarion.container import Container, build_queue
from clarion.db.engine import create_engine
from clarion.ops.logging import configure_logging
from clarion.services import Services
from tests.conftest import QUEUE_URL, Tenant

DEAD_POSTGRES = "postgresql://postgres@127.0.0.1:1/nothing"
DEAD_REDIS = "redis://127.0.0.1:1/0"


async def test_ajo_health_is_up(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get("/ajo/im/health", headers=tenant.headers())
    assert response.status_code == 200
    assert response.json() == {"status": "UP"}


async def test_ajo_health_requires_credentials(client: httpx.AsyncClient) -> None:
    response = await client.get("/ajo/im/health")
    assert response.status_code == 403
    assert response.json()["error_code"] == "403010"


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "UP",
        "components": {"database": {"status": "UP"}, "queue": {"status": "UP"}},
        # The suite's shared Redis may run without AOF (tests/outages checks the warnings themselves).
        "warnings": ready.json()["warnings"] if QUEUE_URL.startswith("redis") else [],
    }


@pytest.mark.parametrize("broken", ["database", "queue"])
async def test_health_is_503_when_a_dependency_is_down(
    app: FastAPI,
    client: httpx.AsyncClient,
    container: Container,
    services: Services,
    settings: Settings,
    tenant: Tenant,
    broken: str,
) -> None:
    services.gateway._cache_seconds = 60  # authenticate once while the database is up
    assert (await client.get("/ajo/im/health", headers=tenant.headers())).status_code == 200
    if broken == "database":
        healthy_engine, container.engine = container.engine, create_engine(DEAD_POSTGRES)
    else:
        healthy_queue = container.queue
        container.queue = build_queue(settings.model_copy(update={"queue_url": DEAD_REDIS}))
    try:
        health = await client.get("/ajo/im/health", headers=tenant.headers())
        ready = await client.get("/readyz")
    finally:
        if broken == "database":
            await container.engine.dispose()
            container.engine = healthy_engine
        else:
            await container.queue.close()
            container.queue = healthy_queue
    assert health.status_code == 503
    assert health.json() == {"status": "DOWN"}
    assert ready.status_code == 503
    assert ready.json()["components"][broken] == {"status": "DOWN"}


async def test_metrics_count_requests_and_show_queue_depth(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await client.get("/v1/sandboxes", headers=tenant.headers())
    await client.get("/v1/sandboxes", headers={})
    text = (await client.get("/metrics")).text
    assert 'clarion_http_requests_total{method="GET",route="/v1/sandboxes",status="200"} 1.0' in text
    assert 'clarion_http_requests_total{method="GET",route="/v1/sandboxes",status="403"} 1.0' in text
    assert "clarion_http_request_duration_seconds_bucket" in text
    assert "# TYPE clarion_queue_jobs gauge" in text


async def test_openapi_docs_are_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs")).status_code == 200
    schema = (await client.get("/openapi.json")).json()
    assert "/v1/sandboxes" in schema["paths"]
    assert "/ajo/im/health" in schema["paths"]


def test_json_logs_redact_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "INFO")
    structlog.get_logger("test").info("issued", token="s3cr3t", org="o1")
    logging.getLogger("stdlib").warning("plain %s", "message")
    lines = [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]
    assert lines[0]["event"] == "issued"
    assert lines[0]["token"] == "***"
    assert lines[0]["org"] == "o1"
    assert lines[1]["event"] == "plain message"
    assert lines[1]["level"] == "warning"
