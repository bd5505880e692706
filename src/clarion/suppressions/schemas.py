"""Placeholder of the ``suppress`` helper's contracts (issue 14), so that ``feedback`` codes against them.

The ``suppress`` branch owns this file: at merge, take its version.
"""

from __future__ import annotations

from typing import Literal

import msgspec

SuppressionReason = Literal["hardBounce", "softBounce", "complaint", "unsubscribe", "manual"]


class NewSuppression(msgspec.Struct, frozen=True, kw_only=True):
    """An address to put on the suppression list."""

    address: str
    reason: SuppressionReason
    category: str = ""
    message_id: str = ""
    detail: str = ""
