"""Typed contracts of the usage domain (what intake and the CLI hand it) and the shape of ``/v1/usage``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import msgspec
from pydantic import BaseModel, Field

STANDARD = "standard"
HIGH_THROUGHPUT = "high-throughput"
MODES = (STANDARD, HIGH_THROUGHPUT)
"""Stored mode names: the names of ``executions.service.Mode``."""


class Tally(msgspec.Struct, frozen=True, gc=False):
    """Messages accepted for one organization, sandbox and mode on one UTC day (one per accepted request on
    the intake path: a Struct is built several times faster than a frozen dataclass)."""

    org_id: str
    sandbox_id: str
    mode: str
    day: date
    messages: int


@dataclass(frozen=True, slots=True)
class Quotas:
    """An organization's monthly message quotas (0: unlimited) and what happens once one is spent."""

    org_id: str
    ims_org_id: str
    standard: int
    high_throughput: int
    mode: str
    """``hard``: 429; ``soft``: accepted and flagged."""

    def of(self, mode: str) -> int:
        """The quota of ``mode`` (0: unlimited)."""
        return self.high_throughput if mode == HIGH_THROUGHPUT else self.standard


@dataclass(frozen=True, slots=True)
class MonthUsage:
    """One organization's messages this month per mode, with its quotas (for the Prometheus gauges)."""

    ims_org_id: str
    used: dict[str, int]
    quotas: Quotas


class ModeUsage(BaseModel):
    """One mode's volume in the current month."""

    used: int
    quota: int | None = Field(description="Messages a month; null: unlimited")
    remaining: int | None = Field(description="Messages left this month; null: unlimited")
    overQuota: int = Field(description="Messages accepted beyond the quota (soft mode)")


class CurrentMonth(BaseModel):
    """The month quotas apply to now."""

    month: str
    resetsAt: str
    standard: ModeUsage
    highThroughput: ModeUsage


class Volume(BaseModel):
    """Messages per mode in one period (a UTC day or month)."""

    period: str
    standard: int
    highThroughput: int


class UsageReport(BaseModel):
    """``GET /v1/usage``: the caller's organization's message volumes and quotas."""

    orgId: str
    quotaMode: str
    from_: str = Field(serialization_alias="from")
    to: str
    currentMonth: CurrentMonth
    months: list[Volume]
    days: list[Volume] = Field(description="Days with messages, oldest first")
