"""Time helpers: one notion of 'now' (UTC, aware) and the wire formats the contracts use."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def iso_micro(moment: datetime) -> str:
    """ISO-8601 UTC with 6 fractional digits and ``Z`` (the contracts' ``ISO_INSTANT`` style)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_milli(moment: datetime) -> str:
    """ISO-8601 UTC with 3 fractional digits and ``Z`` (the AJO execution responses' style)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
