"""The list as CSV: ``address,reason,category,source,detail,created`` — read by imports (the CLI, the API's
import route and so the console), written by exports.

An import file needs an ``address`` column (or, without a header row, addresses in the first column); the
other columns are optional: ``reason`` (else the import's default, ``manual``), ``category`` and
``detail``. ``source`` and ``created`` are what an export writes; an import records its own source
(``import``) and time. A bad row is reported with its line number and why, and the rest is imported.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import get_args

from sqlalchemy.ext.asyncio import AsyncSession

from clarion.db.uow import UnitOfWork
from clarion.models.suppressions import Suppression
from clarion.suppressions import service
from clarion.suppressions.addresses import invalid
from clarion.suppressions.schemas import ListFilters, NewSuppression, Reason

COLUMNS = ("address", "reason", "category", "source", "detail", "created")
BATCH = 1_000
"""Rows per write (and per transaction for the CLI)."""
MAX_ERRORS = 100
"""Bad rows described in a summary (the count covers them all)."""
MAX_CATEGORY = 64
_REASONS = frozenset(get_args(Reason))


@dataclass
class ImportSummary:
    """What an import did: rows read, entries newly in force, rows already on the list, bad rows."""

    rows: int = 0
    added: int = 0
    existing: int = 0
    failed: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    """(line number, reason) of the first ``MAX_ERRORS`` bad rows."""

    def fail(self, line: int, reason: str) -> None:
        """Count a bad row (and describe it while there is room)."""
        self.failed += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append((line, reason))


Row = tuple[int, NewSuppression | str]
"""A data row: its line number and its entry, or why it cannot be one."""


def parse(lines: Iterable[str], *, default_reason: Reason = "manual") -> Iterator[Row]:
    """The rows of a CSV file (``lines`` with their line ends, as a text file yields them)."""
    reader = csv.reader(lines)
    columns: dict[str, int] | None = None
    for record in reader:
        line = reader.line_num
        if not record or all(not cell.strip() for cell in record):
            continue
        if columns is None:
            columns = _header(record)
            if columns is not None:
                continue
            columns = {"address": 0}
        yield line, _entry(record, columns, default_reason)


def _header(record: Sequence[str]) -> dict[str, int] | None:
    """The column positions when ``record`` is a header row (it names ``address``), else None."""
    names = [cell.strip().lower() for cell in record]
    if "address" not in names and "email" not in names:
        return None
    return {("address" if name == "email" else name): index for index, name in enumerate(names)}


def _entry(record: Sequence[str], columns: dict[str, int], default_reason: Reason) -> NewSuppression | str:
    def cell(name: str) -> str:
        index = columns.get(name)
        return record[index].strip() if index is not None and index < len(record) else ""

    address = cell("address")
    problem = invalid(address)
    if problem is not None:
        return f"address {address[:80]!r}: {problem}"
    reason = cell("reason") or default_reason
    if reason not in _REASONS:
        return f"reason {reason[:40]!r}: must be one of {', '.join(sorted(_REASONS))}"
    category = cell("category")
    if len(category) > MAX_CATEGORY:
        return f"category: at most {MAX_CATEGORY} characters"
    if any(ord(char) < 32 or ord(char) == 127 for char in address + category + cell("detail")):
        return "control characters are not allowed"
    return NewSuppression(address, reason, category=category, detail=cell("detail"))  # type: ignore[arg-type]


async def import_rows(
    unit_of_work: Callable[[], UnitOfWork],
    org_id: str,
    sandbox_id: str,
    rows: Iterable[Row],
    *,
    source: str = "import",
    after_batch: Callable[[ImportSummary], None] | None = None,
) -> ImportSummary:
    """Add the good rows in batches of ``BATCH``, each batch its own transaction; count the bad ones."""
    summary = ImportSummary()
    batch: list[NewSuppression] = []

    async def flush() -> None:
        async with unit_of_work() as uow:
            added = await service.suppress(uow.session, org_id, sandbox_id, batch, source=source)
            await uow.commit()
        summary.added += added
        summary.existing += len(batch) - added
        batch.clear()
        if after_batch is not None:
            after_batch(summary)

    for line, entry in rows:
        summary.rows += 1
        if isinstance(entry, str):
            summary.fail(line, entry)
            continue
        batch.append(entry)
        if len(batch) >= BATCH:
            await flush()
    if batch:
        await flush()
    return summary


async def import_text(
    session: AsyncSession,
    org_id: str,
    sandbox_id: str,
    text: str,
    *,
    default_reason: Reason = "manual",
    source: str = "import",
) -> ImportSummary:
    """Import a whole CSV document in the caller's transaction (the API's import route)."""
    summary = ImportSummary()
    batch: list[NewSuppression] = []
    for line, entry in parse(io.StringIO(text, newline=""), default_reason=default_reason):
        summary.rows += 1
        if isinstance(entry, str):
            summary.fail(line, entry)
        else:
            batch.append(entry)
    for start in range(0, len(batch), BATCH):
        part = batch[start : start + BATCH]
        added = await service.suppress(session, org_id, sandbox_id, part, source=source)
        summary.added += added
        summary.existing += len(part) - added
    return summary


def header() -> str:
    """The export's header line."""
    return _line(COLUMNS)


def row(entry: Suppression) -> str:
    """One entry as an export line."""
    created = entry.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return _line((entry.address, entry.reason, entry.category, entry.source, entry.detail, created))


def _line(cells: Sequence[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue()


async def export_lines(
    session: AsyncSession, org_id: str, sandbox_id: str, filters: ListFilters
) -> AsyncIterator[list[str]]:
    """Export lines in partitions, the header first."""
    yield [header()]
    async for partition in service.export(session, org_id, sandbox_id, filters):
        yield [row(entry) for entry in partition]
