"""The suppression list's rules: adding entries (idempotent) and the bounce policy."""

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
    """Add ``entries`` to the sandbox's list (idempotent, nothing committed); the number newly in force."""
    raise NotImplementedError


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
    """Apply the bounce policy to one bounced message; the reason it suppressed with, or None."""
    raise NotImplementedError
