"""Which entries stop which campaign: the one rule the send path's cache and the ledger's reasons share."""

from __future__ import annotations

TRANSACTIONAL = "Transactional"
PRECEDENCE = {"hardBounce": 0, "complaint": 1, "softBounce": 2, "manual": 3, "unsubscribe": 4}
"""When an address has several entries, the one a suppressed message names (the gravest first)."""


def applies(reason: str, entry_category: str, campaign_category: str) -> bool:
    """Whether an entry (``reason``, ``entry_category``) stops a campaign of ``campaign_category``.

    An entry of category "" applies to every campaign, one of a category to that category's campaigns.
    Transactional campaigns (receipts, password resets) ignore unsubscribes, never bounces, complaints or
    manual entries: the recipient asked for the mail, but a dead or complaining mailbox stays dead.
    """
    if reason == "unsubscribe" and campaign_category == TRANSACTIONAL:
        return False
    return not entry_category or entry_category == campaign_category


def precedence(reason: str) -> int:
    """Sort key of a reason (unknown reasons last)."""
    return PRECEDENCE.get(reason, len(PRECEDENCE))
