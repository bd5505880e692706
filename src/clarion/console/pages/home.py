"""The console's home: the organization at a glance (the messages area fills it with charts)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from clarion.console.web import ApiDep, render

router = APIRouter()


@router.get("/")
async def overview(request: Request, api: ApiDep) -> Response:
    """The organization, its entitlements and this month's usage."""
    organization = await api.read("/v1/organization")
    usage = await api.read("/v1/usage")
    return render(request, "home.html", title="Overview", organization=organization, usage=usage)
