"""Console sessions: sign in with an API key and token, or redeem a one-time sign-in code; switch sandbox;
sign out. The cookie carries a random secret; the database keeps its hash and the user's token sealed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from clarion.console import repository
from clarion.db.uow import UnitOfWork
from clarion.kit.clock import utcnow
from clarion.kit.ids import hash_secret, new_id, new_secret
from clarion.kit.secretbox import SecretBox
from clarion.models.console import ConsoleSession

SESSION_TTL = timedelta(hours=12)
"""How long a browser stays signed in (the token's own expiry ends it sooner)."""
CODE_TTL = timedelta(minutes=10)
"""How long a sign-in link printed by ``clarion console login`` can be used (once)."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the API's gateway needs: the four headers' values."""

    ims_org_id: str
    client_id: str
    token: str
    sandbox_name: str

    def headers(self) -> dict[str, str]:
        """The gateway headers of these credentials."""
        return {
            "Authorization": f"Bearer {self.token}",
            "x-api-key": self.client_id,
            "x-gw-ims-org-id": self.ims_org_id,
            "x-sandbox-name": self.sandbox_name,
        }


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in browser: its row id, the credentials pages call the API with, and its CSRF token."""

    id: str
    credentials: Credentials
    csrf_token: str
    issued_token_id: str | None


@dataclass(frozen=True, slots=True)
class PendingCode:
    """A sign-in code not yet redeemed: what the confirmation page shows (no secret)."""

    ims_org_id: str
    client_id: str


def csrf_token_of(box: SecretBox, cookie: str) -> str:
    """The session's CSRF token: an HMAC of its cookie (no storage; it changes with the session)."""
    return box.tag("console-csrf", cookie, length=32)


async def start(uow: UnitOfWork, box: SecretBox, credentials: Credentials) -> str:
    """Create a session for credentials the API has just accepted; returns the cookie value."""
    cookie = new_secret()
    now = utcnow()
    await repository.purge_expired(uow.session, now)
    repository.add(
        uow.session, _row(box, credentials, now, now + SESSION_TTL, session_hash=hash_secret(cookie))
    )
    await uow.commit()
    return cookie


async def issue_code(
    uow: UnitOfWork, box: SecretBox, credentials: Credentials, *, token_id: str | None
) -> str:
    """A one-time sign-in code for ``credentials`` (``clarion console login``), valid for ``CODE_TTL``."""
    code = new_secret()
    now = utcnow()
    row = _row(box, credentials, now, now + CODE_TTL, code_hash=hash_secret(code))
    row.token_id = token_id
    repository.add(uow.session, row)
    await uow.commit()
    return code


async def pending(uow: UnitOfWork, code: str) -> PendingCode | None:
    """Who a sign-in code would sign in as, if it can still be used."""
    row = await repository.pending_code(uow.session, hash_secret(code), utcnow())
    return None if row is None else PendingCode(row.ims_org_id, row.client_id)


async def redeem(uow: UnitOfWork, code: str) -> str | None:
    """Trade a sign-in code for a session cookie; None when the code is used, expired or unknown."""
    cookie = new_secret()
    now = utcnow()
    redeemed = await repository.redeem(
        uow.session, hash_secret(code), hash_secret(cookie), now, now + SESSION_TTL
    )
    await uow.commit()
    return cookie if redeemed else None


async def load(uow: UnitOfWork, box: SecretBox, cookie: str) -> Session | None:
    """The live session of a cookie, with its token unsealed; None when signed out or expired."""
    row = await repository.signed_in(uow.session, hash_secret(cookie), utcnow())
    if row is None:
        return None
    try:
        token = box.open(row.sealed_token)
    except ValueError:
        return None  # sealed under another CLARION_SECRET_KEY: sign in again
    credentials = Credentials(row.ims_org_id, row.client_id, token, row.sandbox_name)
    return Session(row.id, credentials, csrf_token_of(box, cookie), row.token_id)


async def switch_sandbox(uow: UnitOfWork, session: Session, sandbox_name: str) -> None:
    """Point the session at another sandbox (the caller checked through the API that it exists)."""
    await repository.switch_sandbox(uow.session, session.id, sandbox_name)
    await uow.commit()


async def end(uow: UnitOfWork, session: Session) -> None:
    """Sign out: the row goes, so the cookie is worthless even if it was copied."""
    await repository.remove(uow.session, session.id)
    await uow.commit()


def _row(
    box: SecretBox,
    credentials: Credentials,
    created_at: datetime,
    expires_at: datetime,
    *,
    session_hash: str | None = None,
    code_hash: str | None = None,
) -> ConsoleSession:
    return ConsoleSession(
        id=new_id(),
        session_hash=session_hash,
        code_hash=code_hash,
        ims_org_id=credentials.ims_org_id,
        client_id=credentials.client_id,
        sealed_token=box.seal(credentials.token),
        token_id=None,
        sandbox_name=credentials.sandbox_name,
        created_at=created_at,
        expires_at=expires_at,
    )
