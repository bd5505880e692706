"""Reading the capture outbox by tenant: each organization sees its own captured mail, the operator the rest.

How mail is attributed is ``delivery/attribution.py``; this module picks the scope of a reader and pages
through the outbox with it (the outbox's index stays in memory and grows incrementally, so a page costs one
pass of string comparisons, no database read per mail).
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from pathlib import Path

from clarion.db.uow import UnitOfWork
from clarion.delivery.attribution import OutboxScope, tenant_scope, unattributed_scope
from clarion.devsmtp.outbox import CapturedMail, Outbox
from clarion.errors import Invalid
from clarion.kit.secretbox import SecretBox
from clarion.tenancy import service as tenancy
from clarion.tenancy.principal import Principal


@dataclass(frozen=True, slots=True)
class CapturedPage:
    """One page of captured mail and how many the reader's scope holds in all."""

    items: list[CapturedMail]
    total: int


@functools.lru_cache(maxsize=16)
def outbox_at(folder: Path) -> Outbox:
    """The process's ``Outbox`` of ``folder``: kept, so each read parses only the index lines appended since
    the last one (a new ``Outbox`` per request would parse the whole index every time)."""
    return Outbox(folder)


async def page(
    outbox: Outbox, scope: OutboxScope, *, limit: int, offset: int, recipient: str | None = None
) -> CapturedPage:
    """The mail of ``scope``, newest first (file I/O in a thread)."""

    def read() -> CapturedPage:
        items = outbox.list(limit=limit, offset=offset, recipient=recipient, keep=scope.admits)
        return CapturedPage(items, outbox.count(recipient=recipient, keep=scope.admits))

    return await asyncio.to_thread(read)


def caller_scope(secrets: SecretBox, principal: Principal) -> OutboxScope:
    """What an API caller may see: the mail its organization sent from the sandbox it called with."""
    return tenant_scope(secrets, principal.org_id, [principal.sandbox_id])


async def operator_scope(
    uow: UnitOfWork,
    secrets: SecretBox,
    *,
    org: str | None,
    sandbox: str | None = None,
    unattributed: bool = False,
) -> OutboxScope:
    """What ``clarion outbox`` shows: one organization's mail (``org``: IMS org id or name; ``sandbox``: only
    that sandbox of it), or with ``unattributed`` the mail no organization of the instance sent.

    With neither, an instance of exactly one organization means that one (the development setup);
    otherwise the operator must say which.
    """
    sandboxes = await tenancy.every_sandbox(uow)
    if unattributed:
        if org is not None or sandbox is not None:
            raise Invalid("--unattributed shows mail of no organization: give it without --org/--sandbox")
        return unattributed_scope(secrets, [(row.org_id, row.sandbox_id) for row in sandboxes])
    if org is None:
        organizations = await tenancy.list_organizations(uow)
        if len(organizations) != 1:
            raise Invalid(
                f"this instance has {len(organizations)} organizations: choose one with --org "
                "(IMS org id or name), or --unattributed for mail no organization sent"
            )
        org_id = organizations[0].id
    else:
        org_id = (await tenancy.find_organization(uow, org)).id
    chosen = [row.sandbox_id for row in sandboxes if row.org_id == org_id and sandbox in (None, row.name)]
    if sandbox is not None and not chosen:
        raise Invalid(f"--sandbox: the organization has no sandbox named {sandbox!r}")
    return tenant_scope(secrets, org_id, chosen)
