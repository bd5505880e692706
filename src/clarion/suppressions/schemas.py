"""The suppression list's typed contracts: what other domains hand in, and what the hot path reads back."""

from __future__ import annotations

from typing import Literal, NamedTuple

import msgspec

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
