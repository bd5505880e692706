"""``GET /v1/usage``: the caller's organization's message volumes per mode, and its quotas."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from clarion.api.deps import UoWDep
from clarion.tenancy.gateway import ReaderDep
from clarion.usage import service
from clarion.usage.schemas import UsageReport

router = APIRouter(prefix="/v1", tags=["usage"])


@router.get("/usage", response_model=UsageReport, response_model_by_alias=True)
async def read_usage(
    principal: ReaderDep,
    uow: UoWDep,
    start: Annotated[
        str | None, Query(alias="from", max_length=7, description="First month, YYYY-MM (default: to)")
    ] = None,
    end: Annotated[
        str | None,
        Query(alias="to", max_length=7, description="Last month, YYYY-MM (default: this month); ≤ 13 months"),
    ] = None,
) -> UsageReport:
    """Messages per mode per day and per month of the range, the current month against the quotas."""
    return await service.report(uow, service.quotas_of(principal), start, end)
