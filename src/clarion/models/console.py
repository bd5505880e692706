"""Console sessions: a signed-in browser, or a one-time sign-in code printed by ``clarion console login``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clarion.db.base import Base


class ConsoleSession(Base):
    """One row per browser session. The console holds no credential of its own: the row keeps the user's
    bearer token sealed (``SecretBox``) and every page calls the public API with it, so revoking the token or
    its key ends the session within the gateway's revocation delay.

    A row starts either signed in (``session_hash`` set) or as a pending sign-in link (``code_hash`` set,
    short ``expires_at``); redeeming the code swaps one hash for the other in one conditional UPDATE, so a
    code signs in once. Only hashes of the cookie and of the code are stored.
    """

    __tablename__ = "console_sessions"
    __table_args__ = (Index("ix_console_sessions_expires_at", "expires_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    ims_org_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(64))
    sealed_token: Mapped[str] = mapped_column(Text)
    token_id: Mapped[str | None] = mapped_column(String(36))
    """The token issued for this session by a sign-in link (revoked at sign-out); None for a typed token."""
    sandbox_name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
