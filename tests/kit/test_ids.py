"""Identifiers: references are valid, unique, time-ordered UUIDv7 strings."""

from __future__ import annotations

import time
import uuid

from clarion.kit.ids import new_reference


def test_references_are_uuid7_with_the_current_time() -> None:
    before = time.time_ns() // 1_000_000
    parsed = uuid.UUID(new_reference())
    after = time.time_ns() // 1_000_000
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert before <= parsed.int >> 80 <= after


def test_references_are_unique_and_sort_by_creation_millisecond() -> None:
    references = [new_reference() for _ in range(20_000)]
    assert len(set(references)) == len(references)
    millis = [uuid.UUID(reference).int >> 80 for reference in references]
    assert millis == sorted(millis)
