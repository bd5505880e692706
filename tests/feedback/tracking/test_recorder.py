"""The tracking recorder: batches, a bounded buffer, lost batches counted, everything written at close."""

from __future__ import annotations

import time

import pytest

from clarion.container import Container
from clarion.db.uow import UnitOfWork
from clarion.feedback.machine import machine_click, machine_open
from clarion.feedback.tracking import Hit, TrackingRecorder


def hit(message_id: str = "nope:0") -> Hit:
    return Hit("opened", message_id, time.time(), "Thunderbird/115.0", "192.0.2.1")


async def test_a_full_buffer_drops_and_counts_instead_of_growing(container: Container) -> None:
    recorder = TrackingRecorder(container.unit_of_work, max_pending=3, flush_seconds=60)
    for _ in range(5):
        recorder.hit(hit())
    assert recorder.pending == 3
    assert recorder.dropped == 2
    await recorder.close()  # writes what is left: unknown messages record nothing, and fail nothing
    assert recorder.pending == 0
    assert (recorder.recorded, recorder.failed) == (0, 0)


async def test_a_batch_that_cannot_be_written_is_counted_and_the_next_one_tries_again(
    container: Container,
) -> None:
    calls = 0

    def failing_then_real() -> UnitOfWork:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionRefusedError("database down")
        return container.unit_of_work()

    recorder = TrackingRecorder(failing_then_real, max_batch=2, flush_seconds=0)
    for _ in range(3):
        recorder.hit(hit())
    await recorder.flush()
    assert (recorder.failed, recorder.pending, calls) == (2, 0, 2)


@pytest.mark.parametrize(
    ("agent", "client", "since", "reason"),
    [
        ("Mozilla/5.0", "17.58.0.1", 3600.0, "appleProxy"),
        ("Mozilla/5.0", "203.0.113.9", 3600.0, "appleProxy"),
        ("", "17.58.0.1", 3600.0, "appleProxy"),
        ("", "203.0.113.9", 3600.0, "userAgent"),
        ("Mozilla/5.0 (compatible; Barracuda Sentinel)", "", 3600.0, "userAgent"),
        ("python-requests/2.32", "", 3600.0, "userAgent"),
        (
            "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
            "",
            3600.0,
            "",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
            "",
            0.5,
            "prefetch",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
            "",
            30.0,
            "",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
            "",
            None,
            "",
        ),
    ],
)
def test_machine_opens(agent: str, client: str, since: float | None, reason: str) -> None:
    assert machine_open(agent, client, since) == reason


def test_machine_clicks() -> None:
    person = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    assert machine_click(person, 40.0) == ""
    assert machine_click(person, 0.3) == "scan"
    assert (
        machine_click("Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0)", 40.0) == "userAgent"
    )
    assert machine_click("", 40.0) == "userAgent"
