"""Placeholder of the ``suppress`` helper's service (issue 14), with its published signatures.

The ``suppress`` branch owns this file: at merge, take its version. Here nothing is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from clarion.suppressions.bounces import Bounce
from clarion.suppressions.schemas import NewSuppression


async def suppress(
    session: AsyncSession,
    org_id: str,
    sandbox_id: str,
    entries: Sequence[NewSuppression],
    *,
    source: str,
) -> int:
    """Put addresses on the sandbox's suppression list (idempotent, no commit); how many were new."""
    return 0


async def note_bounce(
    session: AsyncSession,
    org_id: str,
    sandbox_id: str,
    address: str,
    bounce: Bounce,
    *,
    message_id: str,
    at: datetime,
    detail: str,
) -> str | None:
    """Apply the bounce policy to an address; the reason it was suppressed with, or None."""
    return None
