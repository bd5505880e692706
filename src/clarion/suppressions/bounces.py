"""What a refusal means for an address: RFC 3463 enhanced status codes sorted into hard, soft and policy.

One classifier for both ways a bounce arrives: a relay's reply at RCPT/DATA (``delivery``) and the
``Status:`` of a delivery status notification (``feedback``). Hard bounces suppress the address at once,
soft ones after repeated occurrences, policy blocks (5.7.x: the *sender* was refused, spam filtering,
authentication) never by default: the address is fine, the message or its sender is not.
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

BounceType = Literal["hard", "soft", "policy"]

_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_HARD_MAILBOX = frozenset({"1.1", "1.2", "1.3", "1.6", "1.10", "2.1"})
"""X.1.1 bad mailbox, X.1.2 bad system, X.1.3 bad syntax, X.1.6 moved, X.1.10 null MX, X.2.1 disabled."""
_SOFT_MAILBOX = frozenset({"2.2", "2.3"})
"""Mailbox full and message too large for it: the mailbox exists and may take mail later."""


class Bounce(NamedTuple):
    """A classified refusal: its type and the enhanced status it was read from (``""`` when none)."""

    type: BounceType
    status: str


def enhanced_status(text: str) -> str:
    """The first RFC 3463 status code (``5.1.1``) in a reply or diagnostic; ``""`` when there is none."""
    match = _ENHANCED.search(text)
    return ".".join(match.groups()) if match else ""


def classify(code: int, text: str = "", status: str = "") -> Bounce | None:
    """The bounce type of an SMTP reply ``code`` (or 0 when unknown) with its text, or of an explicit
    enhanced ``status``; ``None`` when it is not a refusal (2xx).

    Permanent mailbox errors are hard; 5.2.2/5.2.3 (mailbox full, too large) and every 4.x.x are soft; 5.7.x
    and other permanent errors without a mailbox meaning (5.3.x system, 5.4.x network, 5.5.x protocol,
    5.6.x content) are policy: reported, not a reason to drop the address. A bare 5xx without an enhanced
    code is taken at its basic code: 550/551/553 (no such user, not local, name not allowed) are hard,
    552 soft (storage), others policy.
    """
    status = status or enhanced_status(text)
    if status:
        klass, _, subject_detail = status.partition(".")
        if klass == "2":
            return None
        if klass == "4":
            return Bounce("soft", status)
        if subject_detail in _HARD_MAILBOX:
            return Bounce("hard", status)
        if subject_detail in _SOFT_MAILBOX:
            return Bounce("soft", status)
        return Bounce("policy", status)
    if 200 <= code < 400:
        return None
    if 400 <= code < 500:
        return Bounce("soft", "")
    if code in (550, 551, 553):
        return Bounce("hard", "")
    if code == 552:
        return Bounce("soft", "")
    return Bounce("policy", "") if 500 <= code < 600 else None
