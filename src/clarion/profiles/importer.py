"""Bulk import: a stream of checked writes stored in batches, one transaction each, memory flat.

Each batch goes through the same plan as the API (deep merge, ``null`` removes, identities of another
profile refused), so an import and the equivalent ``POST /v1/profiles:batch`` calls store the same thing.
Re-importing a file is idempotent: its profiles are found by their primary identities and updated
(unchanged ones are not even written). Batches commit one by one: an interrupted import keeps the batches
already committed, and running it again completes it.

Speed (PostgreSQL, 100k sample profiles, 2 cores): the database's COPY is the bottleneck, and Python keeps
out of its way. Lines are decoded by a typed shortcut that stores most attribute patches verbatim
(``sources.jsonl_write``); while only new profiles are met, batches skip the owner reads and are planned
in the reader thread (``service.write``'s ``presumed``).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from clarion.db.uow import UnitOfWork
from clarion.profiles import service
from clarion.profiles.documents import ProfileInput
from clarion.profiles.plan import Outcome, Planned, plan_presuming_new
from clarion.profiles.sources import SourceLine
from clarion.tenancy.principal import Principal

DEFAULT_BATCH_SIZE = 20_000
REPORTED_ERRORS = 20
"""How many failed lines a summary keeps (the count covers them all)."""


@dataclass(slots=True)
class ImportSummary:
    """Counts of an import and the first failed lines."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def lines(self) -> int:
        """Lines with a profile, good or bad."""
        return self.created + self.updated + self.unchanged + self.failed

    def fail(self, line: int, reason: str) -> None:
        """Count a failed line, keeping the first reasons."""
        self.failed += 1
        if len(self.errors) < REPORTED_ERRORS:
            self.errors.append((line, reason))


async def import_lines(
    unit_of_work: Callable[[], UnitOfWork],
    principal: Principal,
    lines: Iterable[SourceLine],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    after_batch: Callable[[ImportSummary], None] | None = None,
) -> ImportSummary:
    """Store every good line, batch by batch; count and keep the bad ones.

    The next batch is read, checked (and, while betting on new profiles, planned) in a thread while the
    database stores the current one: that is Python work and storing is mostly the database's, so on two
    cores the two overlap.
    """
    async with unit_of_work() as uow:
        importer = _Importer(
            unit_of_work, principal, betting=not await service.has_identities(uow, principal)
        )
    read = functools.partial(_read_batch, iter(lines), batch_size)
    batch = await asyncio.to_thread(read, importer.betting)
    while batch.lines:
        upcoming = asyncio.ensure_future(asyncio.to_thread(read, importer.betting))
        try:
            await importer.store(batch)
        finally:
            # Even on failure: the reader thread must be done with the file before anyone closes it.
            batch = await upcoming
        if after_batch is not None:
            after_batch(importer.summary)
    if importer.summary.created:
        async with unit_of_work() as uow:
            await service.refresh_statistics(uow, created=importer.summary.created)
    return importer.summary


@dataclass(slots=True)
class _Batch:
    """Lines of the file, and their writes planned as all new when read while betting on it."""

    lines: list[SourceLine]
    presumed: Planned | None


def _read_batch(lines: Iterator[SourceLine], size: int, presume: bool) -> _Batch:
    taken = list(islice(lines, size))
    writes = [line.write for line in taken if line.write is not None]
    return _Batch(taken, plan_presuming_new(writes) if presume and writes else None)


class _Importer:
    """Stores batches and counts their outcomes; bets on new profiles while only new ones were met.

    The bet (see ``service.write``) saves the reads of a batch. It starts on when the sandbox is empty,
    else after a first batch of only new profiles, and stops for good once a line meets a stored profile:
    a file of known profiles pays for at most one lost bet.
    """

    def __init__(
        self, unit_of_work: Callable[[], UnitOfWork], principal: Principal, *, betting: bool
    ) -> None:
        self.unit_of_work = unit_of_work
        self.principal = principal
        self.betting = betting
        self.met_stored = False
        self.summary = ImportSummary()

    async def store(self, batch: _Batch) -> None:
        """Write one batch in one transaction and count its outcomes."""
        good = [line for line in batch.lines if line.write is not None]
        failures = [(line.line, line.error) for line in batch.lines if line.error is not None]
        if good:
            writes = [line.write for line in good if line.write is not None]
            async with self.unit_of_work() as uow:
                outcomes = await service.write(
                    uow, self.principal, writes, bulk=True, presumed=self._presumed(batch, writes)
                )
            failures.extend(self._count(good, outcomes))
        for number, reason in sorted(failures):
            self.summary.fail(number, reason)
        self.betting = not self.met_stored

    def _presumed(self, batch: _Batch, writes: list[ProfileInput]) -> Planned | None:
        if not self.betting:
            return None
        return batch.presumed or plan_presuming_new(writes)

    def _count(self, good: list[SourceLine], outcomes: list[Outcome]) -> list[tuple[int, str]]:
        """Count the outcomes of the good lines; the refused ones with their reasons."""
        refused: list[tuple[int, str]] = []
        created = {outcome.profile_id for outcome in outcomes if outcome.status == 201}
        for line, outcome in zip(good, outcomes, strict=True):
            if outcome.status == 201:
                self.summary.created += 1
                continue
            # 409: an identity of another profile. 200: an update, of a stored profile unless an earlier
            # line of the batch created it.
            stored = outcome.status == 409 or (outcome.status == 200 and outcome.profile_id not in created)
            self.met_stored = self.met_stored or stored
            if outcome.status == 200:
                self.summary.updated += outcome.changed
                self.summary.unchanged += not outcome.changed
            else:
                refused.append((line.line, outcome.error or f"refused ({outcome.status})"))
        return refused
