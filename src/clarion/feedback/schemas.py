"""What the inbound feedback listener reads from a mail, and what became of it.

``Report`` is the parser's result (``reports.py``), independent of any message or tenant; the service
(``service.py``) turns it into ``delivery.feedback.Feedback`` for the messages its bounce addresses name.
"""

from __future__ import annotations

from typing import Literal

import msgspec

ReportKind = Literal["dsn", "complaint", "auto_reply", "unparsed"]

Outcome = Literal[
    "bounce_hard",
    "bounce_soft",
    "bounce_policy",
    "delayed",
    "delivered",
    "complaint",
    "feedback_other",
    "auto_reply",
    "unparsed",
    "forged",
    "unknown_message",
    "duplicate",
]
"""What became of one report for one message (the ``outcome`` label of ``clarion_feedback_reports``):

- ``bounce_hard|soft|policy``: a DSN ``Action: failed``, recorded as ``bounced`` by its RFC 3463 class;
- ``delayed``: ``Action: delayed`` (a deferral: the remote MTA still tries), counted only;
- ``delivered``: a positive DSN (``delivered``, ``relayed``, ``expanded``), counted only;
- ``complaint``: an ARF report ``Feedback-Type: abuse``, recorded as ``complained``, address suppressed;
- ``feedback_other``: an ARF report of another type (``fraud``, ``virus``, ``not-spam`` …), counted only;
- ``auto_reply``: an RFC 3834 auto-reply (vacation, out of office), counted only;
- ``unparsed``: mail at a bounce address that is none of the above, or unreadable;
- ``forged``: no address of the mail verifies as a bounce address of this instance (forged, mangled, or
  mail to a bounce domain that names no message), dropped;
- ``unknown_message``: the address verifies but the ledger has no such row (not committed yet, or purged):
  the mail is refused with a 4xx, so the sender tries again;
- ``duplicate``: a bounce for a message already ``bounced`` (a resent DSN), not recorded twice.
"""

OUTCOMES: tuple[Outcome, ...] = Outcome.__args__  # type: ignore[attr-defined]


class RecipientStatus(msgspec.Struct, frozen=True):
    """One per-recipient block of a delivery status notification (RFC 3464 §2.3)."""

    recipient: str
    """The ``Final-Recipient`` address (``Original-Recipient`` when absent), type prefix removed."""
    action: str
    """``failed``, ``delayed``, ``delivered``, ``relayed`` or ``expanded`` (lowercase)."""
    status: str
    """The RFC 3463 status (``5.1.1``); ``""`` when absent or malformed."""
    diagnostic: str = ""
    """The ``Diagnostic-Code`` text with its type (``smtp;``) removed, unfolded, at most 1,000 characters."""


class Report(msgspec.Struct, frozen=True):
    """A mail received at a bounce address, as read by ``reports.parse_report``."""

    kind: ReportKind
    recipients: tuple[RecipientStatus, ...] = ()
    """DSN: the per-recipient blocks."""
    feedback_type: str = ""
    """ARF: ``Feedback-Type`` (lowercase: ``abuse``, ``fraud``, ``virus``, ``not-spam``, ``other`` …)."""
    user_agent: str = ""
    """ARF: the reporting ``User-Agent``."""
    addresses: tuple[str, ...] = ()
    """Addresses in the report that may be the original message's bounce address (ARF
    ``Original-Mail-From``, the returned message's ``Return-Path``): the message is found through them when
    the report was not sent to the bounce address itself (feedback loops send to a fixed address)."""
    reason: str = ""
    """Why a mail is ``unparsed`` or how an auto-reply was recognized (for logs; never the content)."""
