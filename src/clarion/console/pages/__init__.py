"""The console's pages, one router per area (``ROUTERS`` is what ``console/app.py`` includes)."""

from __future__ import annotations

from fastapi import APIRouter

from clarion.console.pages import auth, home, imports, messages

# imports before profiles: /profiles/import is not a profile's address.
ROUTERS: tuple[APIRouter, ...] = (auth.router, home.router, imports.router, messages.router)
