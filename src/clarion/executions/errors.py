"""Errors of the execution API; codes follow the ``MSG-<6 digits>-<status>`` pattern (contract §1.6 [I])."""

from __future__ import annotations

from typing import Any

from clarion.errors import Invalid, NotFound, RateLimited


def invalid(code: int, detail: str, **context: Any) -> Invalid:
    """A 400 ``errorResponse`` whose ``additionalContext`` names the problem."""
    return Invalid(
        detail, code=f"MSG-{code:06d}-400", context={k: v for k, v in context.items() if v is not None}
    )


def not_found(code: int, detail: str, **context: Any) -> NotFound:
    """A 404 ``errorResponse``."""
    return NotFound(
        detail, code=f"MSG-{code:06d}-404", context={k: v for k, v in context.items() if v is not None}
    )


def over_rate(rate: int, mode: str, retry_after: float) -> RateLimited:
    """429 with ``Retry-After``: the organization's cap for this mode is exhausted."""
    return RateLimited(
        f"The organization's {mode} cap of {rate} requests per second is exhausted; retry later",
        retry_after=retry_after,
        code="MSG-000429-429",
    )


BODY = 100
RECIPIENT_COUNT = 101
DUPLICATE_USER = 102
RECIPIENT_TYPE = 103
CONTEXT_SIZE = 104
CONTEXT_RESERVED = 105
CONTEXT_TYPE = 106
CAMPAIGN_UNKNOWN = 110
CAMPAIGN_NOT_LIVE = 111
CAMPAIGN_OUTSIDE_DATES = 112
CAMPAIGN_MODE = 113
PROFILE_MISSING = 114
EXECUTION_UNKNOWN = 120
SCHEDULE_UNKNOWN = 121
SCHEDULE_TRIGGERED = 122
AUDIENCE_UNSUPPORTED = 123
