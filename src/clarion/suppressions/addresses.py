"""What an address on the list is: its one spelling (lowercased) and the syntax an entry must have."""

from __future__ import annotations

import re

MAX_ADDRESS = 320
"""RFC 5321: 64 for the local part, @, 255 for the domain."""
_SPECIALS = r"\s@<>()\[\],;:\"\\\x00-\x1f\x7f"
_ADDRESS = re.compile(rf"^[^{_SPECIALS}]{{1,64}}@[^{_SPECIALS}]{{1,255}}$")


def normalize(address: str) -> str:
    """The address as stored and matched: trimmed and lowercased (the list matches case-insensitively)."""
    return address.strip().lower()


def invalid(address: str) -> str | None:
    """Why ``address`` cannot be an entry (a rule to name in a 400), or None."""
    address = address.strip()
    if not address:
        return "must not be empty"
    if len(address) > MAX_ADDRESS:
        return f"at most {MAX_ADDRESS} characters"
    if not _ADDRESS.match(address):
        return "must be an email address (local@domain, no spaces, quotes or angle brackets)"
    domain = address.rpartition("@")[2]
    if domain.startswith(".") or domain.endswith(".") or ".." in domain or domain.startswith("-"):
        return "must be an email address (its domain is not a host name)"
    return None
