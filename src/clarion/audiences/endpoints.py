"""HTTP endpoints of the Segmentation API (``/data/core/ups``): definitions, segment jobs, export jobs."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/data/core/ups", tags=["audiences"])
