"""Errors of the usage domain."""

from __future__ import annotations

from clarion.errors import Invalid, RateLimited


class QuotaExhausted(RateLimited):
    """A mode's monthly message quota is spent: 429 until the month resets (``Retry-After``)."""

    status = 429
    code = "MSG-000430-429"
    title = "Monthly message quota exhausted"


class InvalidRange(Invalid):
    """A usage range parameter is malformed or out of bounds."""

    code = "CLARION-0400"
