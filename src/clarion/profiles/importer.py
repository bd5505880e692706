"""Bulk import: a stream of checked writes stored in batches, one transaction each, memory flat.

Each batch goes through the same plan as the API (deep merge, ``null`` removes, identities of another
profile refused), so an import and the equivalent ``POST /v1/profiles:batch`` calls store the same thing.
Re-importing a file is idempotent: its profiles are found by their primary identities and updated
(unchanged ones are not even written). Batches commit one by one: an interrupted import keeps the batches
already committed, and running it again completes it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from clarion.db.uow import UnitOfWork
from clarion.profiles import service
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

    The next batch is read and checked in a thread while the database stores the current one: decoding is
    Python work and storing is mostly the database's, so on two cores the two overlap.
    """
    summary = ImportSummary()
    async with unit_of_work() as uow:
        expect_new = not await service.has_identities(uow, principal)
    met_stored = False
    take = functools.partial(_take, iter(lines), batch_size)
    batch = await asyncio.to_thread(take)
    while batch:
        upcoming = asyncio.ensure_future(asyncio.to_thread(take))
        try:
            met_stored = (
                await _store(unit_of_work, principal, batch, summary, expect_new=expect_new) or met_stored
            )
        finally:
            # Even on failure: the reader thread must be done with the file before anyone closes it.
            following = await upcoming
        # Only new profiles so far: the next batch is likely new too. Once a line met a stored profile, the
        # bet stops for good, so that a file of known profiles pays for at most one lost bet.
        expect_new = not met_stored
        batch = following
        if after_batch is not None:
            after_batch(summary)
    if summary.created:
        async with unit_of_work() as uow:
            await service.refresh_statistics(uow, created=summary.created)
    return summary


async def _store(
    unit_of_work: Callable[[], UnitOfWork],
    principal: Principal,
    batch: list[SourceLine],
    summary: ImportSummary,
    *,
    expect_new: bool,
) -> bool:
    """Write one batch in one transaction and count its outcomes; whether a line met a stored profile."""
    good = [line for line in batch if line.write is not None]
    failures = [(line.line, line.error) for line in batch if line.error is not None]
    met_stored = False
    if good:
        async with unit_of_work() as uow:
            writes = [line.write for line in good if line.write is not None]
            outcomes = await service.write(uow, principal, writes, bulk=True, expect_new=expect_new)
        for line, outcome in zip(good, outcomes, strict=True):
            if outcome.status == 201:
                summary.created += 1
            elif outcome.status == 200:
                summary.updated += outcome.changed
                summary.unchanged += not outcome.changed
                met_stored = True
            else:
                met_stored = met_stored or outcome.status == 409
                failures.append((line.line, outcome.error or f"refused ({outcome.status})"))
    for number, reason in sorted(failures):
        summary.fail(number, reason)
    return met_stored


def _take(lines: Iterator[SourceLine], size: int) -> list[SourceLine]:
    return list(islice(lines, size))
