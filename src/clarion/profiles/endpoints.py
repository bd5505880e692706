"""HTTP endpoints of the profile store (``/v1/profiles``)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/profiles", tags=["profiles"])
