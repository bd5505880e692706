"""GroupCommitter: every submitter returns only after its batch is written; batches form under load."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from clarion.kit.batcher import GroupCommitter


class Store:
    """Records each batch; a write completes only when the test lets it."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail = False

    async def write(self, items: Sequence[int]) -> list[int]:
        await self.gate.wait()
        if self.fail:
            raise OSError("disk full")
        self.batches.append(list(items))
        return [item * 10 for item in items]


@pytest.mark.parametrize("max_delay", [0, 0.002])
async def test_each_submitter_gets_its_own_result_after_the_write(max_delay: float) -> None:
    store = Store()
    committer: GroupCommitter[int, int] = GroupCommitter(store.write, max_delay=max_delay)
    results = await asyncio.gather(*(committer.submit(n) for n in range(100)))
    assert results == [n * 10 for n in range(100)]
    assert sorted(n for batch in store.batches for n in batch) == list(range(100))
    assert len(store.batches) == 1  # submitted in one loop turn: one write


async def test_submit_all_joins_the_batch_of_single_submits() -> None:
    store = Store()
    committer: GroupCommitter[int, int] = GroupCommitter(store.write, max_batch=10, max_delay=0.002)
    single = asyncio.ensure_future(committer.submit(0))
    await asyncio.sleep(0)  # the single submit has joined the batch
    results = await committer.submit_all(list(range(1, 13)))
    assert results == [n * 10 for n in range(1, 13)]
    assert await single == 0
    assert store.batches == [list(range(10)), [10, 11, 12]]  # capped at max_batch, in submission order


async def test_items_arriving_during_a_write_form_the_next_batch() -> None:
    store = Store()
    store.gate.clear()
    committer: GroupCommitter[int, int] = GroupCommitter(store.write, max_delay=0)
    first = asyncio.ensure_future(committer.submit(1))
    for _ in range(3):
        await asyncio.sleep(0)  # the first write has started and is blocked on the gate
    later = [asyncio.ensure_future(committer.submit(n)) for n in (2, 3, 4)]
    await asyncio.sleep(0)
    assert not first.done()
    assert not any(task.done() for task in later)
    store.gate.set()
    assert await first == 10
    assert await asyncio.gather(*later) == [20, 30, 40]
    assert store.batches == [[1], [2, 3, 4]]


async def test_batches_are_capped_at_max_batch() -> None:
    store = Store()
    committer: GroupCommitter[int, int] = GroupCommitter(store.write, max_batch=10, max_delay=0)
    await asyncio.gather(*(committer.submit(n) for n in range(25)))
    assert [len(batch) for batch in store.batches] == [10, 10, 5]


async def test_a_failed_write_fails_every_submitter_of_that_batch() -> None:
    store = Store()
    store.fail = True
    committer: GroupCommitter[int, int] = GroupCommitter(store.write, max_delay=0)
    results = await asyncio.gather(*(committer.submit(n) for n in range(3)), return_exceptions=True)
    assert all(isinstance(result, OSError) for result in results)
    store.fail = False
    assert await committer.submit(7) == 70


async def test_drain_waits_for_pending_writes() -> None:
    store = Store()
    store.gate.clear()
    committer: GroupCommitter[int, int] = GroupCommitter(store.write, max_delay=0)
    pending = asyncio.ensure_future(committer.submit(5))
    await asyncio.sleep(0)
    draining = asyncio.ensure_future(committer.drain())
    await asyncio.sleep(0)
    assert not draining.done()
    store.gate.set()
    await draining
    assert pending.done()
    assert store.batches == [[5]]
