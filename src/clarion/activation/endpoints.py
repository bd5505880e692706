"""HTTP endpoints of the Flow Service (``/data/foundation/flowservice``) and ad-hoc activation."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["activation"])
