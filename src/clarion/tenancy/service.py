"""Rules of tenancy: organizations with their ``prod`` sandbox, sandboxes, credentials and tokens."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from clarion.db.uow import UnitOfWork
from clarion.kit.clock import utcnow
from clarion.kit.ids import hash_secret, new_id, new_ims_org_id, new_secret
from clarion.kit.repository import require
from clarion.models.tenancy import AccessToken, ApiCredential, Organization, Sandbox
from clarion.tenancy import errors
from clarion.tenancy.principal import Principal, Role
from clarion.tenancy.repository import (
    CredentialRepository,
    OrganizationRepository,
    SandboxRepository,
    every_sandbox_row,
)
from clarion.tenancy.schemas import TenantSandbox

PRODUCTION_SANDBOX = "prod"
LAST_USE_RESOLUTION = timedelta(seconds=60)
"""A key's ``last_used_at`` is written at most this often (by the gateway's re-verification)."""
SANDBOX_TYPES = ("production", "development")
QUOTA_MODES = ("hard", "soft")
MAX_MONTHLY_QUOTA = 10**12


class SandboxDataOwner(Protocol):
    """A domain keeping rows per sandbox without a foreign key to it (bulk writes are faster without).

    Called with the sandbox being deleted, in the unit of work that deletes it; deletes its rows, no commit.
    The wiring (``services.py``) names the owners: tenancy does not know the domains built on it.
    """

    async def __call__(self, uow: UnitOfWork, org_id: str, sandbox_id: str, /) -> None:
        """Delete the sandbox's rows."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token as handed to its owner: the only moment the clear text exists outside the client."""

    access_token: str
    expires_in_seconds: int
    token_id: str


@dataclass(frozen=True, slots=True)
class QuotaChange:
    """New monthly message quotas (None: unchanged; 0: unlimited) and quota mode (``hard``/``soft``)."""

    standard: int | None = None
    high_throughput: int | None = None
    mode: str | None = None


@dataclass(frozen=True, slots=True)
class NewCredential:
    """A credential and its first token."""

    org: Organization
    client_id: str
    token: IssuedToken
    role: Role


@dataclass(frozen=True, slots=True)
class CredentialView:
    """An API key as listed: never a token, only what identifies and describes the key."""

    client_id: str
    name: str
    role: Role
    technical_account: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class TokenView:
    """An access token as listed: its id (to revoke it), never its clear text or hash."""

    token_id: str
    client_id: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


async def create_organization(
    uow: UnitOfWork, name: str, *, ims_org_id: str | None = None, high_throughput: bool = False
) -> Organization:
    """Create an organization with its production sandbox ``prod``."""
    repo = OrganizationRepository(uow.session)
    org = Organization(
        name=name, ims_org_id=ims_org_id or new_ims_org_id(), high_throughput_entitled=high_throughput
    )
    repo.add(org)
    await uow.session.flush()
    SandboxRepository(uow.session, org.id).add(
        Sandbox(
            org_id=org.id, name=PRODUCTION_SANDBOX, title="Production", type="production", is_default=True
        )
    )
    await uow.commit()
    return org


async def find_organization(uow: UnitOfWork, ref: str) -> Organization:
    """The organization named by IMS org id, id or name; raises ``OrganizationNotFound``."""
    return require(
        await OrganizationRepository(uow.session).find(ref),
        errors.OrganizationNotFound(f"No organization matches {ref!r} (give its IMS org id or exact name)"),
    )


async def update_entitlements(
    uow: UnitOfWork,
    org: Organization,
    *,
    high_throughput: bool | None = None,
    standard_rate: int | None = None,
    high_throughput_rate: int | None = None,
    quotas: QuotaChange | None = None,
) -> Organization:
    """Change an organization's high-throughput add-on, request caps (per second) and monthly quotas."""
    for name, value in (("standard rate", standard_rate), ("high-throughput rate", high_throughput_rate)):
        if value is not None and not 1 <= value <= 1_000_000:
            raise errors.InvalidEntitlement(f"{name}: must be between 1 and 1000000 requests per second")
    if quotas is not None:
        _apply_quotas(org, quotas)
    if high_throughput is not None:
        org.high_throughput_entitled = high_throughput
    if standard_rate is not None:
        org.standard_rate_per_second = standard_rate
    if high_throughput_rate is not None:
        org.high_throughput_rate_per_second = high_throughput_rate
    await uow.commit()
    return org


def _apply_quotas(org: Organization, change: QuotaChange) -> None:
    """Check every new quota value first, so a bad one changes nothing."""
    values = (("standard quota", change.standard), ("high-throughput quota", change.high_throughput))
    for name, value in values:
        if value is not None and not 0 <= value <= MAX_MONTHLY_QUOTA:
            raise errors.InvalidEntitlement(
                f"{name}: must be between 0 (unlimited) and {MAX_MONTHLY_QUOTA} messages a month"
            )
    if change.mode is not None and change.mode not in QUOTA_MODES:
        raise errors.InvalidEntitlement(f"quota mode: must be hard or soft (got {change.mode!r})")
    if change.standard is not None:
        org.standard_monthly_quota = change.standard
    if change.high_throughput is not None:
        org.high_throughput_monthly_quota = change.high_throughput
    if change.mode is not None:
        org.quota_mode = change.mode


async def get_organization(uow: UnitOfWork, org_id: str) -> Organization:
    """The organization with this internal id (the caller's own: usage reports read its quotas)."""
    return require(
        await uow.session.get(Organization, org_id),
        errors.OrganizationNotFound(f"No organization with id {org_id!r}"),
    )


async def list_organizations(uow: UnitOfWork) -> list[Organization]:
    """Every organization (CLI only)."""
    return await OrganizationRepository(uow.session).list()


async def every_sandbox(uow: UnitOfWork) -> list[TenantSandbox]:
    """Every sandbox of the instance with its organization (CLI only: the operator's view)."""
    return [TenantSandbox(*row) for row in await every_sandbox_row(uow.session)]


async def create_sandbox(
    uow: UnitOfWork, org_id: str, *, name: str, sandbox_type: str, title: str = ""
) -> Sandbox:
    """Create a sandbox; names are lowercase letters, digits and hyphens, unique in the organization."""
    repo = SandboxRepository(uow.session, org_id)
    if sandbox_type not in SANDBOX_TYPES:
        raise errors.SandboxInvalid(f"type: must be one of {', '.join(SANDBOX_TYPES)} (got {sandbox_type!r})")
    if await repo.by_name(name) is not None:
        raise errors.SandboxExists(f"name: a sandbox named {name!r} already exists")
    sandbox = Sandbox(org_id=org_id, name=name, title=title or name, type=sandbox_type)
    repo.add(sandbox)
    await uow.commit()
    return sandbox


async def list_sandboxes(
    uow: UnitOfWork, principal: Principal, *, limit: int, offset: int
) -> tuple[list[Sandbox], int]:
    """The caller's sandboxes, paginated."""
    return await SandboxRepository(uow.session, principal.org_id).list(limit=limit, offset=offset)


async def get_sandbox(uow: UnitOfWork, principal: Principal, name: str) -> Sandbox:
    """One of the caller's sandboxes by name."""
    return require(
        await SandboxRepository(uow.session, principal.org_id).by_name(name),
        errors.SandboxNotFound(f"Sandbox {name!r} does not exist in organization {principal.ims_org_id}"),
    )


async def delete_sandbox(
    uow: UnitOfWork, principal: Principal, name: str, *, data_owners: Sequence[SandboxDataOwner]
) -> None:
    """Delete a sandbox other than ``prod``, with the rows ``data_owners`` keep for it, in one transaction."""
    sandbox = await get_sandbox(uow, principal, name)
    if sandbox.is_default:
        raise errors.SandboxInvalid(f"name: the default production sandbox {name!r} cannot be deleted")
    for delete_rows in data_owners:
        await delete_rows(uow, principal.org_id, sandbox.id)
    await SandboxRepository(uow.session, principal.org_id).remove(sandbox)
    await uow.commit()


def parse_role(value: str) -> Role:
    """The role named ``value``; ``CredentialInvalid`` naming the choices otherwise."""
    try:
        return Role(value)
    except ValueError:
        choices = ", ".join(role.value for role in Role)
        raise errors.CredentialInvalid(f"role: must be one of {choices} (got {value!r})") from None


async def create_credential(
    uow: UnitOfWork, org: Organization, *, name: str, ttl_seconds: int, role: Role | None = None
) -> NewCredential:
    """Create an API key (client id) for the organization and issue its first token.

    Without ``role``, the organization's first key is ``admin`` (someone must be able to manage the others)
    and later keys are ``user``: more power is asked for, not given by default.
    """
    repo = CredentialRepository(uow.session)
    if role is None:
        role = Role.USER if await repo.for_org(org.id) else Role.ADMIN
    client_id = new_secret(16)
    credential = ApiCredential(
        org_id=org.id,
        client_id=client_id,
        name=name,
        role=role.value,
        technical_account=f"{client_id[:12]}@techacct.clarion",
    )
    repo.add(credential)
    await uow.session.flush()
    token = _stage_token(uow, credential, ttl_seconds)
    await uow.commit()
    return NewCredential(org=org, client_id=client_id, token=token, role=role)


async def issue_token(
    uow: UnitOfWork, org: Organization, *, client_id: str | None, ttl_seconds: int
) -> NewCredential:
    """Issue a new bearer token for one of the organization's credentials (its oldest by default)."""
    repo = CredentialRepository(uow.session)
    if client_id is None:
        credentials = await repo.for_org(org.id)
        if not credentials:
            raise errors.OrganizationNotFound(
                f"Organization {org.ims_org_id} has no credential: create one first"
            )
        credential = credentials[0]
    else:
        credential = await _live_credential(repo, org, client_id)
    await repo.purge_expired_tokens(utcnow())
    token = _stage_token(uow, credential, ttl_seconds)
    await uow.commit()
    return NewCredential(org=org, client_id=credential.client_id, token=token, role=Role(credential.role))


async def _live_credential(repo: CredentialRepository, org: Organization, client_id: str) -> ApiCredential:
    found = await repo.by_client_id(client_id)
    if found is None or found.org_id != org.id:
        raise errors.CredentialNotFound(f"No API key {client_id!r} in organization {org.ims_org_id}")
    return found


async def list_credentials(
    uow: UnitOfWork, org: Organization, *, include_revoked: bool
) -> list[CredentialView]:
    """The organization's API keys with their role and last use (revoked ones on request)."""
    credentials = await CredentialRepository(uow.session).for_org(org.id, include_revoked=include_revoked)
    return [_view(credential) for credential in credentials]


async def get_credential(uow: UnitOfWork, org: Organization, client_id: str) -> CredentialView:
    """One live API key of the organization."""
    return _view(await _live_credential(CredentialRepository(uow.session), org, client_id))


def _view(credential: ApiCredential) -> CredentialView:
    return CredentialView(
        client_id=credential.client_id,
        name=credential.name,
        role=Role(credential.role),
        technical_account=credential.technical_account,
        created_at=credential.created_at,
        last_used_at=credential.last_used_at,
        revoked_at=credential.revoked_at,
    )


async def revoke_credential(uow: UnitOfWork, org: Organization, client_id: str) -> None:
    """Revoke an API key and every token issued for it; every gateway refuses them within a second."""
    repo = CredentialRepository(uow.session)
    credential = await _live_credential(repo, org, client_id)
    now = utcnow()
    credential.revoked_at = now
    await repo.revoke_tokens_of(credential.id, now)
    await repo.bump_revision()
    await uow.commit()


async def list_tokens(uow: UnitOfWork, org: Organization, client_id: str) -> list[TokenView]:
    """The unexpired tokens of one of the organization's keys, newest first (ids only, never secrets)."""
    repo = CredentialRepository(uow.session)
    credential = await _live_credential(repo, org, client_id)
    return [
        TokenView(
            token_id=token.id,
            client_id=credential.client_id,
            created_at=token.created_at,
            expires_at=token.expires_at,
            revoked_at=token.revoked_at,
        )
        for token in await repo.tokens_of(credential.id, utcnow())
    ]


async def revoke_token(
    uow: UnitOfWork, org: Organization, token_id: str, *, client_id: str | None = None
) -> str:
    """Revoke one token of the organization by its id (of the key ``client_id`` when given).

    Returns the client id the token was issued for.
    """
    repo = CredentialRepository(uow.session)
    token = await repo.token_by_id(token_id)
    credential = await repo.credential_of(token) if token else None
    if (
        token is None
        or credential is None
        or credential.org_id != org.id
        or client_id not in (None, credential.client_id)
    ):
        raise errors.CredentialNotFound(f"No token {token_id!r} in organization {org.ims_org_id}")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        await repo.bump_revision()
    await uow.commit()
    return credential.client_id


async def credential_revision(uow: UnitOfWork) -> int:
    """The revocation counter the gateways poll."""
    return await CredentialRepository(uow.session).revision()


def _stage_token(uow: UnitOfWork, credential: ApiCredential, ttl_seconds: int) -> IssuedToken:
    clear = new_secret(32)
    token = AccessToken(
        id=new_id(),
        credential_id=credential.id,
        token_hash=hash_secret(clear),
        expires_at=utcnow() + timedelta(seconds=ttl_seconds),
    )
    CredentialRepository(uow.session).add_token(token)
    return IssuedToken(access_token=clear, expires_in_seconds=ttl_seconds, token_id=token.id)


async def resolve_principal(
    uow: UnitOfWork, *, token: str, client_id: str, ims_org_id: str, sandbox_name: str
) -> tuple[Principal, float]:
    """Check a token against its credential and organization; return the principal and seconds of validity.

    The order of checks follows the AEP gateway: API key, token, organization; then the sandbox.
    """
    repo = CredentialRepository(uow.session)
    credential = require(await repo.any_by_client_id(client_id), errors.invalid_api_key())
    stored = await repo.token_by_hash(hash_secret(token))
    now = utcnow()
    # A revoked key's tokens are refused like any invalid token: 401, the client must authenticate anew.
    if (
        stored is None
        or stored.credential_id != credential.id
        or stored.expires_at <= now
        or stored.revoked_at is not None
        or credential.revoked_at is not None
    ):
        raise errors.invalid_token()
    org = await uow.session.get(Organization, credential.org_id)
    if org is None or org.ims_org_id != ims_org_id:
        raise errors.org_not_entitled()
    sandbox = require(
        await SandboxRepository(uow.session, org.id).by_name(sandbox_name),
        errors.SandboxNotFound(f"Sandbox {sandbox_name!r} does not exist in organization {org.ims_org_id}"),
    )
    principal = Principal(
        org_id=org.id,
        ims_org_id=org.ims_org_id,
        sandbox_id=sandbox.id,
        sandbox_name=sandbox.name,
        sandbox_type=sandbox.type,
        client_id=credential.client_id,
        technical_account=credential.technical_account,
        high_throughput_entitled=org.high_throughput_entitled,
        standard_rate_per_second=org.standard_rate_per_second,
        high_throughput_rate_per_second=org.high_throughput_rate_per_second,
        role=Role(credential.role),
        standard_monthly_quota=org.standard_monthly_quota,
        high_throughput_monthly_quota=org.high_throughput_monthly_quota,
        quota_mode=org.quota_mode,
    )
    if credential.last_used_at is None or now - credential.last_used_at >= LAST_USE_RESOLUTION:
        await repo.mark_used(credential.id, now)
        await uow.commit()
    return principal, (stored.expires_at - now).total_seconds()
