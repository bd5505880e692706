"""The suppression list's rules (placeholder of the ``track`` branch: the ``suppress`` branch owns this file
and replaces it at merge, with the same signature; until then nothing is stored)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from clarion.suppressions.schemas import NewSuppression


async def suppress(
    session: AsyncSession,
    org_id: str,
    sandbox_id: str,
    entries: Sequence[NewSuppression],
    *,
    source: str,
) -> int:
    """Add these addresses to the organization and sandbox's list (idempotent, no commit)."""
    raise NotImplementedError("the suppression list arrives with the suppress branch")
