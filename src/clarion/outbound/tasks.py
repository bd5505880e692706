"""The ``outbound.call`` task: a worker sends a direct (unthrottled) call, or expires it unsent."""

from __future__ import annotations

from typing import Any

from clarion.outbound.ledger import CallLedger, expired_row
from clarion.outbound.queues import is_expired
from clarion.outbound.sender import CallSender
from clarion.queue.port import Job


class Calls:
    """The ``outbound.call`` task: sends an unthrottled call, or expires it."""

    def __init__(self, sender: CallSender, ledger: CallLedger) -> None:
        self._sender = sender
        self._ledger = ledger

    async def handle(self, job: Job) -> None:
        """Send the call of ``job`` (the worker acks it after the ledger row is stored)."""
        row = await self.send(job.payload)
        await self._ledger.record(row)

    async def send(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Expire or send; the final ledger row."""
        if is_expired(payload):
            return expired_row(payload)
        return await self._sender.send(payload)
