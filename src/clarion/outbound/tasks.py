"""The ``outbound.call`` task: a worker sends a direct (unthrottled) call, or expires it unsent."""

from __future__ import annotations

import msgspec

from clarion.outbound.ledger import CallLedger, expired_record
from clarion.outbound.queues import is_expired
from clarion.outbound.schemas import CallJob, CallRecord
from clarion.outbound.sender import CallSender
from clarion.queue.port import Job


class Calls:
    """The ``outbound.call`` task: sends an unthrottled call, or expires it."""

    def __init__(self, sender: CallSender, ledger: CallLedger) -> None:
        self._sender = sender
        self._ledger = ledger

    async def handle(self, job: Job) -> None:
        """Send the call of ``job`` (the worker acks it after the ledger record is stored)."""
        record = await self.send(msgspec.convert(job.payload, CallJob))
        await self._ledger.record(record)

    async def send(self, call: CallJob) -> CallRecord:
        """Expire or send; the final ledger record."""
        if is_expired(call.accepted_at):
            return expired_record(call)
        return await self._sender.send(call)
