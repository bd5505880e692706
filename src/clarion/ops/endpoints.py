"""Operational endpoints: AJO health, liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from clarion.api.deps import ContainerDep
from clarion.container import Container
from clarion.tenancy import service as tenancy
from clarion.tenancy.gateway import PrincipalDep
from clarion.usage import service as usage
from clarion.usage.schemas import MonthUsage

router = APIRouter(tags=["operations"])

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


def _health_response(results: dict[str, str], *, with_components: bool) -> JSONResponse:
    up = all(state == "UP" for state in results.values())
    body: dict[str, Any] = {"status": "UP" if up else "DOWN"}
    if with_components:
        body["components"] = {name: {"status": state} for name, state in results.items()}
    return JSONResponse(body, status_code=200 if up else 503)


async def _usage(container: Container) -> list[MonthUsage]:
    """Every organization's messages this month and its quotas (two small grouped reads)."""
    async with container.unit_of_work() as uow:
        return await usage.current_month(uow, await tenancy.list_organizations(uow))


@router.get("/ajo/im/health", summary="AJO execution service health")
async def ajo_health(_principal: PrincipalDep, container: ContainerDep) -> JSONResponse:
    """200 ``{"status":"UP"}`` when the database and queue answer, else 503 ``{"status":"DOWN"}``."""
    return _health_response(await _probe(container), with_components=False)


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    """The process is alive (no dependency is checked)."""
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness")
async def readyz(container: ContainerDep) -> JSONResponse:
    """Ready when the database and the queue answer; lists each component."""
    return _health_response(await _probe(container), with_components=True)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
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
