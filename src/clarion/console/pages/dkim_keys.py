"""DKIM keys: every email channel configuration's signing keys with the DNS record to publish for each
(read from ``/v1/channel-configurations``; keys are added, replaced and removed on the configuration form)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from clarion.console.web import ApiDep, current_session, render

router = APIRouter(prefix="/dkim-keys", dependencies=[Depends(current_session)])  # every page: signed in

PAGE_SIZE = 500
"""Configurations read per API page (the API's largest)."""
MAX_PAGES = 20
"""At most this many pages are read (10,000 configurations: far more than a sandbox has)."""


@router.get("")
async def dkim_keys(request: Request, api: ApiDep) -> Response:
    """The sandbox's email configurations: their DKIM keys and DNS records, then those that do not sign."""
    configurations: list[dict[str, Any]] = []
    for number in range(MAX_PAGES):
        page = await api.read("/v1/channel-configurations", limit=PAGE_SIZE, offset=number * PAGE_SIZE)
        configurations.extend(item for item in page["items"] if item["channel"] == "email")
        if len(page["items"]) < PAGE_SIZE:
            break
    signing = [item for item in configurations if (item.get("email") or {}).get("dkim")]
    unsigned = [item for item in configurations if not (item.get("email") or {}).get("dkim")]
    return render(request, "campaigns/dkim_keys.html", title="DKIM keys", signing=signing, unsigned=unsigned)
