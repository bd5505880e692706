"""Applying what arrives at a bounce address: the message it names, its history, the suppression list.

``FeedbackIntake`` is the listener's one dependency. For each mail it is handed the envelope recipients and
the parsed ``Report``; it finds the message through the signed VERP address (``delivery/tokens.py``), and
records bounces and complaints in batches: the reports of the last moments (up to ``max_batch``) share one
unit of work — one ``find_messages`` query, one ``record_feedback``, the suppression calls, one commit —
and each mail's SMTP ``250`` is answered only once its batch is committed (``kit/batcher.GroupCommitter``),
so a crash never loses a report the sender was told was delivered: unacknowledged, it is sent again.

Deferrals, positive DSNs, auto-replies, other ARF types and unreadable mail are counted, never stored. Mail
whose addresses do not verify is dropped and counted (``forged``): it is *accepted*, not refused, because a
5xx would make the reporting MTA send a bounce of the bounce to our postmaster, and a 4xx would have it retry
for days; nothing it could resend would ever verify.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

import structlog

from clarion.campaigns import service as campaigns
from clarion.db.uow import UnitOfWork
from clarion.delivery.feedback import Feedback, MessageRef, find_messages, record_feedback
from clarion.delivery.tokens import MessageTokens
from clarion.feedback.reports import parse_report
from clarion.feedback.schemas import Outcome, RecipientStatus, Report
from clarion.kit.batcher import GroupCommitter
from clarion.kit.cache import RefreshingCache
from clarion.suppressions import service as suppressions
from clarion.suppressions.bounces import Bounce, classify, enhanced_status
from clarion.suppressions.schemas import NewSuppression

DOMAINS_TTL = 5.0
"""Seconds the set of bounce domains is served before it is read again (served while being re-read): a new
configuration's ``bounceDomain`` is accepted within twice that; one query per period, none per RCPT."""
MAX_BATCH = 256
"""Reports recorded in one transaction at most."""

OutcomeSink = Callable[[Outcome], None]

log = structlog.get_logger()


class _Work(NamedTuple):
    """A report to record for one message."""

    message_id: str
    report: Report
    at: datetime


class FeedbackIntake:
    """Accepts bounce addresses, and records the reports sent to them in group-committed batches."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        tokens: MessageTokens,
        *,
        on_outcome: OutcomeSink | None = None,
        max_batch: int = MAX_BATCH,
        domains_ttl: float = DOMAINS_TTL,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._tokens = tokens
        self._on_outcome = on_outcome
        self._domains_ttl = domains_ttl
        self._domains: RefreshingCache[None, frozenset[str]] = RefreshingCache(limit=1)
        # max_delay=0: a batch is written as soon as the loop is free, the reports arriving meanwhile form the
        # next one — batches grow with the load by themselves and a lone report waits for nothing.
        self._committer: GroupCommitter[_Work, Outcome] = GroupCommitter(
            self._write, max_batch=max_batch, max_delay=0
        )

    async def bounce_domains(self) -> frozenset[str]:
        """Every configured bounce domain (cached: one query per ``domains_ttl``)."""

        async def load() -> tuple[frozenset[str], float]:
            async with self._unit_of_work() as uow:
                return await campaigns.bounce_domains(uow), self._domains_ttl

        return await self._domains.get(None, load)

    async def accepts(self, address: str) -> bool:
        """Whether ``address`` is at a configured bounce domain (a database error propagates: 4xx)."""
        domain = address.rpartition("@")[2].strip().strip(">").rstrip(".").lower()
        return bool(domain) and domain in await self.bounce_domains()

    async def receive(self, rcpt_tos: Sequence[str], raw: bytes, at: datetime) -> list[Outcome]:
        """Parse a mail received at bounce addresses and apply it (``apply``)."""
        return await self.apply(rcpt_tos, parse_report(raw), at)

    async def apply(self, rcpt_tos: Sequence[str], report: Report, at: datetime) -> list[Outcome]:
        """Record what ``report`` says about the messages its addresses name; returns once it is durable,
        with an outcome per message (one when it names none). Raises when it could not be stored."""
        outcome = _uncounted_outcome(report)
        if outcome is not None:
            return self._counted([outcome])
        message_ids, forged = self._message_ids(rcpt_tos, report)
        if not message_ids:
            log.info("feedback.dropped", outcome="forged", kind=report.kind, addresses=forged)
            return self._counted(["forged"])
        outcomes: list[Outcome] = []
        work: list[_Work] = []
        for message_id in message_ids:
            settled = _settled_without_storage(report)
            if settled is None:
                work.append(_Work(message_id, report, at))
            else:
                outcomes.append(settled)
        if work:
            outcomes.extend(await self._committer.submit_all(work))
        return self._counted(outcomes)

    async def drain(self) -> None:
        """Wait for the batches in flight (shutdown)."""
        await self._committer.drain()

    def _message_ids(self, rcpt_tos: Sequence[str], report: Report) -> tuple[list[str], int]:
        """The message ids the recipients (else the report's original envelope) name, and how many
        addresses did not verify."""
        ids: dict[str, None] = {}
        failed = 0
        for candidates in (rcpt_tos, report.addresses):
            for address in candidates:
                message_id = self._tokens.read_bounce_address(address)
                if message_id is None:
                    failed += 1
                else:
                    ids[message_id] = None
            if ids:
                break
        return list(ids), failed

    def _counted(self, outcomes: list[Outcome]) -> list[Outcome]:
        if self._on_outcome is not None:
            for outcome in outcomes:
                self._on_outcome(outcome)
        return outcomes

    async def _write(self, batch: Sequence[_Work]) -> list[Outcome]:
        """One transaction for a batch: find the messages, record, suppress, commit."""
        async with self._unit_of_work() as uow:
            found = await find_messages(uow.session, list({work.message_id for work in batch}))
            outcomes: list[Outcome] = []
            items: list[Feedback] = []
            bounced: set[str] = set()
            for work in batch:
                ref = found.get(work.message_id)
                if ref is None:
                    outcomes.append("unknown_message")
                elif work.report.kind == "complaint":
                    items.append(_complaint(ref, work))
                    outcomes.append("complaint")
                elif ref.status == "bounced" or ref.id in bounced:
                    outcomes.append("duplicate")
                else:
                    bounced.add(ref.id)
                    item = _bounce(ref, work)
                    items.append(item)
                    outcomes.append(_BOUNCE_OUTCOMES[(item.data or {})["type"]])
            recorded = await record_feedback(uow, found, items)
            await _suppress(uow, recorded)
            await uow.commit()
        return outcomes


async def _suppress(uow: UnitOfWork, recorded: Iterable[tuple[MessageRef, Feedback]]) -> None:
    """Tell the suppression list every recorded bounce and complaint, in the same transaction.

    Hard bounces and complaints suppress at once (the published policy: ``hard → hardBounce``), so they go
    in one ``suppress`` call per sandbox for the whole batch — a bounce storm after a bad import is mostly
    hard bounces, and a call per address would cost a few queries each. Soft and policy bounces go through
    ``note_bounce``, which counts soft ones against the N-in-D-days rule.
    """
    batches: dict[tuple[str, str, str], list[NewSuppression]] = defaultdict(list)
    for ref, item in recorded:
        data = item.data or {}
        tenant = (ref.org_id, ref.sandbox_id)
        if item.kind == "complained":
            batches[(*tenant, "complaint")].append(
                NewSuppression(
                    address=ref.recipient,
                    reason="complaint",
                    message_id=ref.id,
                    detail=f"{data['feedbackType']} report from {data['userAgent'] or 'an unnamed agent'}",
                )
            )
        elif item.kind == "bounced" and data["type"] == "hard":
            batches[(*tenant, "bounce")].append(
                NewSuppression(
                    address=ref.recipient, reason="hardBounce", message_id=ref.id, detail=data["diagnostic"]
                )
            )
        elif item.kind == "bounced":
            await suppressions.note_bounce(
                uow.session,
                ref.org_id,
                ref.sandbox_id,
                ref.recipient,
                Bounce(data["type"], data["status"]),
                message_id=ref.id,
                at=item.at,
                detail=data["diagnostic"],
            )
    for (org_id, sandbox_id, source), entries in batches.items():
        await suppressions.suppress(uow.session, org_id, sandbox_id, entries, source=source)


_BOUNCE_OUTCOMES: dict[str, Outcome] = {
    "hard": "bounce_hard",
    "soft": "bounce_soft",
    "policy": "bounce_policy",
}


def _uncounted_outcome(report: Report) -> Outcome | None:
    """The outcome of a mail that names no message worth finding (read before any address is checked)."""
    if report.kind == "auto_reply":
        return "auto_reply"
    if report.kind == "unparsed":
        return "unparsed"
    return None


def _settled_without_storage(report: Report) -> Outcome | None:
    """The outcome of a report about a found message that changes nothing stored; None: record it."""
    if report.kind == "complaint":
        return None if report.feedback_type == "abuse" else "feedback_other"
    actions = {block.action for block in report.recipients}
    if "failed" in actions:
        return None
    return "delayed" if "delayed" in actions else "delivered"


def _block_for(report: Report, recipient: str) -> RecipientStatus:
    """The failed block of a DSN about ``recipient`` (the message's own address), else the first failed."""
    failed = [block for block in report.recipients if block.action == "failed"]
    wanted = recipient.lower()
    return next((block for block in failed if block.recipient.lower() == wanted), failed[0])


def _bounce(ref: MessageRef, work: _Work) -> Feedback:
    """The ``bounced`` feedback of a DSN's failed block, classified by its RFC 3463 status."""
    block = _block_for(work.report, ref.recipient)
    diagnostic_status = enhanced_status(block.diagnostic)
    status = block.status
    # "5.0.0" says only "permanent"; the remote MTA's own reply in Diagnostic-Code often says which.
    if (not status or status.endswith(".0.0")) and diagnostic_status[:1] == (status or diagnostic_status)[:1]:
        status = diagnostic_status or status
    code = _basic_code(block.diagnostic)
    # A failed DSN with a 4.x.x status (the MTA gave up retrying) is soft; one without any code is policy:
    # reported, never a reason to suppress the address on our guess.
    bounce = classify(code, block.diagnostic, status) or Bounce("policy", status)
    return Feedback(
        message_id=ref.id,
        kind="bounced",
        at=work.at,
        response=block.diagnostic or status,
        data={
            "type": bounce.type,
            "status": bounce.status or status,
            "diagnostic": block.diagnostic,
            "source": "dsn",
        },
    )


def _complaint(ref: MessageRef, work: _Work) -> Feedback:
    """The ``complained`` feedback of an ARF abuse report."""
    report = work.report
    return Feedback(
        message_id=ref.id,
        kind="complained",
        at=work.at,
        response=f"Feedback-Type: {report.feedback_type}",
        data={"feedbackType": report.feedback_type, "userAgent": report.user_agent},
    )


def _basic_code(diagnostic: str) -> int:
    """The SMTP reply code a diagnostic starts with (``550 5.1.1 …`` → 550); 0 when it has none."""
    head = diagnostic[:3]
    return int(head) if head.isdigit() and head[0] in "245" else 0
