"""The console's home: the organization at a glance, delivery of the last hour and day, usage vs quota."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from clarion.console.pages.messages import overview_data
from clarion.console.web import ApiDep, render

router = APIRouter()


@router.get("/")
async def overview(request: Request, api: ApiDep) -> Response:
    """The organization, delivery of the last hour (chart) and day, and this month's usage."""
    organization = await api.read("/v1/organization")
    usage = await api.read("/v1/usage")
    delivery = await overview_data(api)
    return render(
        request, "home.html", title="Overview", organization=organization, usage=usage, delivery=delivery
    )
