"""The console's pages, one router per area (``ROUTERS`` is what ``console/app.py`` includes)."""

from __future__ import annotations

from fastapi import APIRouter

from clarion.console.pages import actions, auth, capping, home, throttling

ROUTERS: tuple[APIRouter, ...] = (
    auth.router,
    home.router,
    capping.router,  # before throttling: /throttling/capping is not a throttling configuration's uid
    throttling.router,
    actions.router,
)
