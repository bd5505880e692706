"""HTTP endpoints of the suppression list (/v1/suppressions): list, look up, add, import, remove."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from clarion.api.deps import UoWDep
from clarion.kit.params import limit_query, text_query
from clarion.suppressions import csvfile, service
from clarion.suppressions.addresses import MAX_ADDRESS, normalize
from clarion.suppressions.schemas import (
    AddressEntries,
    ImportProblem,
    ListFilters,
    NewSuppression,
    Reason,
    SuppressionAdded,
    SuppressionBatch,
    SuppressionImport,
    SuppressionImported,
    SuppressionPage,
    SuppressionRead,
    SuppressionsRemoved,
)
from clarion.tenancy.gateway import ReaderDep, UserDep

router = APIRouter(prefix="/v1", tags=["suppressions"])

MAX_PAGE = 1_000
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
Address = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_ADDRESS,
        pattern=_PRINTABLE,
        description="The address (matched case-insensitively; URL-encode it)",
    ),
]
Category = Annotated[
    str | None,
    Query(max_length=64, pattern=_PRINTABLE, description='Only this category ("": every-category entries)'),
]


@router.get("/suppressions")
async def list_suppressions(
    principal: ReaderDep,
    uow: UoWDep,
    request: Request,
    reason: Annotated[Reason | None, Query(description="Only entries of this reason")] = None,
    category: Category = None,
    source: Annotated[
        str | None, text_query("Only entries added by: bounce, complaint, unsubscribe, api, import, console")
    ] = None,
    prefix: Annotated[str | None, text_query("Addresses starting with this (case-insensitive)")] = None,
    contains: Annotated[str | None, text_query("Addresses containing this (case-insensitive)")] = None,
    since: Annotated[datetime | None, Query(description="Added at or after (ISO-8601 with zone)")] = None,
    until: Annotated[datetime | None, Query(description="Added before (ISO-8601 with zone)")] = None,
    limit: Annotated[int, limit_query(MAX_PAGE)] = 100,
    cursor: Annotated[str | None, text_query("The `next` of the previous page")] = None,
) -> SuppressionPage:
    """The sandbox's suppression list, newest first, a page at a time (cursor pagination)."""
    filters = ListFilters(
        reason=reason,
        category=category,
        source=source,
        prefix=prefix,
        contains=contains,
        since=since,
        until=until,
    )
    page = await service.listing(
        uow.session, principal.org_id, principal.sandbox_id, filters, cursor=cursor, limit=limit
    )
    following = page.next_cursor or None
    href = None
    if following is not None:
        url = request.url.include_query_params(cursor=following)
        href = f"{url.path}?{url.query}"
    return SuppressionPage(
        items=[SuppressionRead.model_validate(entry) for entry in page.items],
        limit=limit,
        next=following,
        next_href=href,
    )


@router.post("/suppressions")
async def add_suppressions(body: SuppressionBatch, principal: UserDep, uow: UoWDep) -> SuppressionAdded:
    """Add up to 1,000 entries, all or nothing (an invalid address refuses the batch: 400 naming
    ``entries[i].address``); an entry already on the list is counted in ``existing``."""
    entries = [
        NewSuppression(entry.address, entry.reason, category=entry.category, detail=entry.detail)
        for entry in body.entries
    ]
    added = await service.add_batch(
        uow.session, principal.org_id, principal.sandbox_id, entries, source="api"
    )
    await uow.commit()
    return SuppressionAdded(added=added, existing=len({_key(entry) for entry in entries}) - added)


def _key(entry: NewSuppression) -> tuple[str, str, str]:
    category = entry.category or ("Marketing" if entry.reason == "unsubscribe" else "")
    return normalize(entry.address), entry.reason, category


@router.post("/suppressions/import")
async def import_suppressions(
    body: SuppressionImport, principal: UserDep, uow: UoWDep
) -> SuppressionImported:
    """Add the rows of a CSV document (what ``clarion suppressions import`` reads); a bad row is reported
    with its line number and reason and the others are added (in one transaction)."""
    summary = await csvfile.import_text(
        uow.session, principal.org_id, principal.sandbox_id, body.csv, default_reason=body.reason
    )
    await uow.commit()
    return SuppressionImported(
        rows=summary.rows,
        added=summary.added,
        existing=summary.existing,
        failed=summary.failed,
        errors=[ImportProblem(line=line, reason=reason) for line, reason in summary.errors],
    )


@router.get("/suppressions/{address:path}")
async def read_suppression(address: Address, principal: ReaderDep, uow: UoWDep) -> AddressEntries:
    """Every entry in force of one address (404 when it is not suppressed)."""
    found = await service.entries_of(uow.session, principal.org_id, principal.sandbox_id, address)
    return AddressEntries(
        address=normalize(address), items=[SuppressionRead.model_validate(entry) for entry in found]
    )


@router.delete("/suppressions/{address:path}")
async def remove_suppression(
    address: Address,
    principal: UserDep,
    uow: UoWDep,
    reason: Annotated[Reason | None, Query(description="Only the entry of this reason")] = None,
    category: Category = None,
) -> SuppressionsRemoved:
    """Take an address off the list: every entry, or only those of ``reason`` / ``category``. Sends to it
    resume within the workers' refresh bound (0.5 s)."""
    removed = await service.remove(
        uow.session, principal.org_id, principal.sandbox_id, address, reason=reason, category=category
    )
    await uow.commit()
    return SuppressionsRemoved(removed=removed)
