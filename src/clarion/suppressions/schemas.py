"""Contracts of the suppression list (placeholder of the ``track`` branch: the ``suppress`` branch owns this
file and replaces it at merge; only ``NewSuppression`` as the common brief fixes it is used here)."""

from __future__ import annotations

from typing import Literal

import msgspec

SuppressionReason = Literal["hardBounce", "softBounce", "complaint", "unsubscribe", "manual"]


class NewSuppression(msgspec.Struct, frozen=True, kw_only=True):
    """An address to suppress: why, for which category ("" = every category), and from which message."""

    address: str
    reason: SuppressionReason
    category: str = ""
    message_id: str = ""
    detail: str = ""
