"""Operational endpoints: AJO health, liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel

from clarion.api.deps import ContainerDep
from clarion.container import Container
from clarion.tenancy import service as tenancy
from clarion.tenancy.gateway import ReaderDep
from clarion.usage import service as usage
from clarion.usage.schemas import MonthUsage

log = structlog.get_logger()

router = APIRouter(tags=["operations"])


class ComponentHealth(BaseModel):
    """One dependency's state."""

    status: Literal["UP", "DOWN"]


class Health(BaseModel):
    """``UP`` when every dependency answers; ``components`` only on ``/readyz``."""

    status: Literal["UP", "DOWN"]
    components: dict[str, ComponentHealth] | None = None


HEALTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": Health},
    503: {"model": Health, "description": "A dependency (database, queue) does not answer"},
}

CHECK_TIMEOUT_SECONDS = 2.0


async def _probe(container: Container) -> dict[str, str]:
    """``{"database": "UP"|"DOWN", "queue": …}``, each check bounded in time."""
    checks = {"database": container.check_database, "queue": container.check_queue}
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
            results[name] = "UP"
        except Exception:
            results[name] = "DOWN"
    return results


async def _warnings(container: Container, results: dict[str, str]) -> list[str]:
    """Configuration that endangers "202 means durable" (Redis without AOF); never fails readiness."""
    if results.get("queue") != "UP":
        return []
    try:
        return await asyncio.wait_for(container.queue_warnings(), CHECK_TIMEOUT_SECONDS)
    except Exception as error:
        log.warning("readyz_persistence_check_failed", error=f"{type(error).__name__}: {error}")
        return ["Could not read the queue's persistence settings (CONFIG GET and INFO both failed)"]


def _health_response(
    results: dict[str, str], *, with_components: bool, warnings: list[str] | None = None
) -> JSONResponse:
    up = all(state == "UP" for state in results.values())
    body: dict[str, Any] = {"status": "UP" if up else "DOWN"}
    if with_components:
        body["components"] = {name: {"status": state} for name, state in results.items()}
    if warnings is not None:
        body["warnings"] = warnings
    return JSONResponse(body, status_code=200 if up else 503)


async def _usage(container: Container) -> list[MonthUsage]:
    """Every organization's messages this month and its quotas (two small grouped reads)."""
    async with container.unit_of_work() as uow:
        return await usage.current_month(uow, await tenancy.list_organizations(uow))


@router.get("/ajo/im/health", summary="AJO execution service health", responses=HEALTH_RESPONSES)
async def ajo_health(_principal: ReaderDep, container: ContainerDep) -> JSONResponse:
    """200 ``{"status":"UP"}`` when the database and queue answer, else 503 ``{"status":"DOWN"}``."""
    return _health_response(await _probe(container), with_components=False)


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    """The process is alive (no dependency is checked)."""
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness", responses=HEALTH_RESPONSES)
async def readyz(container: ContainerDep) -> JSONResponse:
    """Ready (200) when the database and the queue answer, else 503; lists each component.

    ``warnings`` names configuration that does not stop service but breaks a promise, e.g. a Redis that
    does not persist (a restart would lose acknowledged jobs); it never turns readiness off.
    """
    results = await _probe(container)
    return _health_response(results, with_components=True, warnings=await _warnings(container, results))


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request, container: ContainerDep) -> Response:
    """Prometheus text exposition, including queue depth and this month's message usage read now."""
    collector = request.app.state.metrics
    try:
        collector.queue_snapshot.stats = await asyncio.wait_for(
            container.queue.stats(), CHECK_TIMEOUT_SECONDS
        )
    except Exception:
        collector.queue_snapshot.stats = None
    try:
        collector.usage_snapshot.usage = await asyncio.wait_for(_usage(container), CHECK_TIMEOUT_SECONDS)
    except Exception:
        collector.usage_snapshot.usage = None
    return Response(collector.exposition(), media_type=CONTENT_TYPE_LATEST)
