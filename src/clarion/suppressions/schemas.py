"""The suppression list's typed contracts: what other domains hand in, and what the hot path reads back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple

import msgspec
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

Reason = Literal["hardBounce", "softBounce", "complaint", "unsubscribe", "manual"]
REASONS: tuple[Reason, ...] = ("hardBounce", "softBounce", "complaint", "unsubscribe", "manual")
MARKETING = "Marketing"
"""The category an unsubscribe suppresses when none is given (RFC 8058 one-click links are Marketing's)."""


class NewSuppression(msgspec.Struct, frozen=True):
    """One address to suppress: ``category`` ``""`` suppresses every category (``unsubscribe``: Marketing)."""

    address: str
    reason: Reason
    category: str = ""
    message_id: str = ""
    detail: str = ""


class Hit(NamedTuple):
    """Why an address is not sent to: the entry that applies (the gravest when several do)."""

    reason: str
    category: str


@dataclass(frozen=True, slots=True)
class ListFilters:
    """The list's filters, all optional (``prefix`` and ``contains`` match addresses case-insensitively;
    ``since``/``until`` bound the time an entry was added)."""

    reason: str | None = None
    category: str | None = None
    source: str | None = None
    prefix: str | None = None
    contains: str | None = None
    since: datetime | None = None
    until: datetime | None = None


# --- the /v1/suppressions wire shapes ----------------------------------------------------------------

MAX_BATCH = 1_000
"""Entries a POST may add at once."""


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class SuppressionIn(_Wire):
    """One address to suppress. ``category`` "" (the default) suppresses every category; an
    ``unsubscribe`` without one is Marketing's."""

    address: str = Field(max_length=320, description="An email address (matched case-insensitively)")
    reason: Reason = "manual"
    category: str = Field(default="", max_length=64, pattern=r"^[^\x00-\x1f\x7f]*$")
    detail: str = Field(default="", max_length=1000, description="A note: why, who asked")


class SuppressionBatch(_Wire):
    """Up to 1,000 entries, added all or nothing: one invalid address refuses the batch (400 naming
    ``entries[i].address``); entries already on the list are counted, not an error."""

    entries: list[SuppressionIn] = Field(min_length=1, max_length=MAX_BATCH)


class SuppressionAdded(BaseModel):
    """What a batch did: entries newly in force, and those that already were."""

    added: int
    existing: int


class SuppressionRead(BaseModel):
    """One entry of the list."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)

    address: str
    reason: Reason
    category: str
    source: str
    message_id: str
    detail: str
    created_at: datetime


class SuppressionPage(BaseModel):
    """A page of the list, newest first. ``next``: the cursor of the following page (null at the end);
    ``nextHref``: the same request for it."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    items: list[SuppressionRead]
    limit: int
    next: str | None
    next_href: str | None


class AddressEntries(BaseModel):
    """Every entry in force of one address."""

    address: str
    items: list[SuppressionRead]


class SuppressionsRemoved(BaseModel):
    """How many entries a removal took off the list."""

    removed: int


class SuppressionImport(_Wire):
    """A CSV document (``address`` column, optional ``reason``, ``category``, ``detail``; or addresses in
    the first column without a header). Bad rows are reported by line and skipped; the rest is added."""

    csv: str = Field(min_length=1, max_length=4 * 1024 * 1024)
    reason: Reason = Field(default="manual", description="The reason of rows that name none")


class ImportProblem(BaseModel):
    """A row that was not imported."""

    line: int
    reason: str


class SuppressionImported(BaseModel):
    """What an import did."""

    rows: int
    added: int
    existing: int
    failed: int
    errors: list[ImportProblem] = Field(description="The first 100 bad rows")
