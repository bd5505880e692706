"""SQL for organizations, sandboxes, credentials and tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clarion.kit.repository import TenantRepository
from clarion.models.tenancy import AccessToken, ApiCredential, CredentialRevision, Organization, Sandbox


class OrganizationRepository:
    """Organizations are the tenants themselves, so these queries are global (CLI and gateway only)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, organization: Organization) -> None:
        """Stage a new organization."""
        self.session.add(organization)

    async def find(self, ref: str) -> Organization | None:
        """Find by IMS org id, internal id or (unique) name."""
        rows = await self.session.scalars(
            select(Organization).where(
                or_(Organization.ims_org_id == ref, Organization.id == ref, Organization.name == ref)
            )
        )
        found = rows.all()
        return found[0] if len(found) == 1 else None

    async def list(self) -> list[Organization]:
        """All organizations, oldest first."""
        return list(await self.session.scalars(select(Organization).order_by(Organization.created_at)))


async def every_sandbox_row(session: AsyncSession) -> list[tuple[str, str, str]]:
    """``(org_id, sandbox_id, sandbox name)`` of every sandbox of the instance (CLI only)."""
    rows = await session.execute(select(Sandbox.org_id, Sandbox.id, Sandbox.name))
    return [(org_id, sandbox_id, name) for org_id, sandbox_id, name in rows]


class SandboxRepository(TenantRepository):
    """Sandboxes of one organization."""

    def add(self, sandbox: Sandbox) -> None:
        """Stage a new sandbox of this organization."""
        self.session.add(sandbox)

    async def by_name(self, name: str) -> Sandbox | None:
        """The sandbox called ``name``, if any."""
        return await self.session.scalar(self.scoped(Sandbox).where(Sandbox.name == name))

    async def list(self, *, limit: int, offset: int) -> tuple[list[Sandbox], int]:
        """One page of sandboxes and the total count."""
        page = await self.session.scalars(
            self.scoped(Sandbox).order_by(Sandbox.created_at, Sandbox.name).limit(limit).offset(offset)
        )
        total = await self.session.scalar(
            select(func.count()).select_from(Sandbox).where(Sandbox.org_id == self.org_id)
        )
        return list(page), int(total or 0)

    async def remove(self, sandbox: Sandbox) -> None:
        """Delete a sandbox of this organization."""
        await self.session.execute(
            delete(Sandbox).where(Sandbox.org_id == self.org_id, Sandbox.id == sandbox.id)
        )


class CredentialRepository:
    """Credentials and tokens. The gateway must find a credential before it knows the organization."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, credential: ApiCredential) -> None:
        """Stage a credential."""
        self.session.add(credential)

    def add_token(self, token: AccessToken) -> None:
        """Stage a token (already hashed)."""
        self.session.add(token)

    async def by_client_id(self, client_id: str) -> ApiCredential | None:
        """The live (not revoked) credential with this ``x-api-key``."""
        return await self.session.scalar(
            select(ApiCredential).where(
                ApiCredential.client_id == client_id, ApiCredential.revoked_at.is_(None)
            )
        )

    async def any_by_client_id(self, client_id: str) -> ApiCredential | None:
        """The credential with this ``x-api-key``, revoked or not."""
        return await self.session.scalar(select(ApiCredential).where(ApiCredential.client_id == client_id))

    async def for_org(self, org_id: str, *, include_revoked: bool = False) -> list[ApiCredential]:
        """Credentials of an organization (live only by default), oldest first."""
        query = select(ApiCredential).where(ApiCredential.org_id == org_id)
        if not include_revoked:
            query = query.where(ApiCredential.revoked_at.is_(None))
        rows = await self.session.scalars(query.order_by(ApiCredential.created_at, ApiCredential.id))
        return list(rows)

    async def tokens_of(self, credential_id: str, now: datetime) -> list[AccessToken]:
        """The unexpired tokens of a credential (revoked ones included), newest first."""
        rows = await self.session.scalars(
            select(AccessToken)
            .where(AccessToken.credential_id == credential_id, AccessToken.expires_at > now)
            .order_by(AccessToken.created_at.desc(), AccessToken.id)
        )
        return list(rows)

    async def credential_of(self, token: AccessToken) -> ApiCredential | None:
        """The credential a token was issued for."""
        return await self.session.get(ApiCredential, token.credential_id)

    async def token_by_id(self, token_id: str) -> AccessToken | None:
        """The token with this id."""
        return await self.session.get(AccessToken, token_id)

    async def revoke_tokens_of(self, credential_id: str, now: datetime) -> None:
        """Mark every live token of a credential revoked."""
        await self.session.execute(
            update(AccessToken)
            .where(AccessToken.credential_id == credential_id, AccessToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def mark_used(self, credential_id: str, now: datetime) -> None:
        """Record that a credential was used (the gateway calls this at most once a minute per key)."""
        await self.session.execute(
            update(ApiCredential).where(ApiCredential.id == credential_id).values(last_used_at=now)
        )

    async def bump_revision(self) -> None:
        """Tell every gateway that a credential or token was revoked (they poll ``revision``)."""
        result = await self.session.execute(
            update(CredentialRevision)
            .where(CredentialRevision.id == 1)
            .values(revision=CredentialRevision.revision + 1)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]  # a schema made without the migration's row
            self.session.add(CredentialRevision(id=1, revision=1))

    async def revision(self) -> int:
        """The current revocation counter."""
        value = await self.session.scalar(
            select(CredentialRevision.revision).where(CredentialRevision.id == 1)
        )
        return int(value or 0)

    async def token_by_hash(self, token_hash: str) -> AccessToken | None:
        """The token with this hash, expired or not."""
        return await self.session.scalar(select(AccessToken).where(AccessToken.token_hash == token_hash))

    async def purge_expired_tokens(self, now: datetime) -> None:
        """Drop tokens that can no longer authenticate."""
        await self.session.execute(delete(AccessToken).where(AccessToken.expires_at < now))
