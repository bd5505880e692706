"""SQL of the console's sessions (``console_sessions``). Rows are found by the hash of their secret only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clarion.models.console import ConsoleSession


def add(session: AsyncSession, row: ConsoleSession) -> None:
    """Stage a new session or sign-in code."""
    session.add(row)


async def signed_in(session: AsyncSession, session_hash: str, now: datetime) -> ConsoleSession | None:
    """The live session whose cookie hashes to ``session_hash``."""
    return await session.scalar(
        select(ConsoleSession).where(
            ConsoleSession.session_hash == session_hash, ConsoleSession.expires_at > now
        )
    )


async def pending_code(session: AsyncSession, code_hash: str, now: datetime) -> ConsoleSession | None:
    """The unredeemed, unexpired sign-in code that hashes to ``code_hash``."""
    return await session.scalar(
        select(ConsoleSession).where(
            ConsoleSession.code_hash == code_hash,
            ConsoleSession.session_hash.is_(None),
            ConsoleSession.expires_at > now,
        )
    )


async def redeem(
    session: AsyncSession, code_hash: str, session_hash: str, now: datetime, expires_at: datetime
) -> bool:
    """Turn a pending code into a session; False when it was used, expired or never existed.

    One conditional UPDATE: of two browsers racing with the same code, exactly one wins.
    """
    result = await session.execute(
        update(ConsoleSession)
        .where(
            ConsoleSession.code_hash == code_hash,
            ConsoleSession.session_hash.is_(None),
            ConsoleSession.expires_at > now,
        )
        .values(code_hash=None, session_hash=session_hash, expires_at=expires_at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def switch_sandbox(session: AsyncSession, session_id: str, sandbox_name: str) -> None:
    """Point a session at another sandbox."""
    await session.execute(
        update(ConsoleSession).where(ConsoleSession.id == session_id).values(sandbox_name=sandbox_name)
    )


async def remove(session: AsyncSession, session_id: str) -> None:
    """Delete one session (sign-out)."""
    await session.execute(delete(ConsoleSession).where(ConsoleSession.id == session_id))


async def purge_expired(session: AsyncSession, now: datetime) -> None:
    """Delete expired sessions and codes (called on sign-in, so the table stays small without a job)."""
    await session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
