"""The console's pages, one router per area (``ROUTERS`` is what ``console/app.py`` includes)."""

from __future__ import annotations

from fastapi import APIRouter

from clarion.console.pages import (
    actions,
    audiences,
    auth,
    campaigns,
    capping,
    channel_configurations,
    dataflows,
    destinations,
    dkim_keys,
    home,
    imports,
    ip_pools,
    messages,
    profiles,
    runs,
    segment_jobs,
    suppressions,
    throttling,
)

# imports before profiles: /profiles/import is not a profile's address.
ROUTERS: tuple[APIRouter, ...] = (
    auth.router,
    home.router,
    imports.router,
    actions.router,
    audiences.router,
    campaigns.router,
    capping.router,
    channel_configurations.router,
    dataflows.router,
    destinations.router,
    dkim_keys.router,
    ip_pools.router,
    messages.router,
    profiles.router,
    runs.router,
    segment_jobs.router,
    suppressions.router,
    throttling.router,
)
