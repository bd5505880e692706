"""The console's pages, one router per area (``ROUTERS`` is what ``console/app.py`` includes)."""

from __future__ import annotations

from fastapi import APIRouter

from clarion.console.pages import actions, auth, capping, home, imports, throttling

# imports before profiles: /profiles/import is not a profile's address; capping before throttling:
# /throttling/capping is not a throttling configuration's uid.
ROUTERS: tuple[APIRouter, ...] = (
    auth.router,
    home.router,
    imports.router,
    capping.router,
    throttling.router,
    actions.router,
)
