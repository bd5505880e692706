"""RefreshingCache: one load per key however many callers, stale values served while refreshing."""

from __future__ import annotations

import asyncio

import pytest

from clarion.kit.cache import RefreshingCache


class Source:
    """A loader whose calls are counted and whose answers the test releases by hand."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.value = "v1"
        self.ttl = 60.0
        self.error: Exception | None = None

    async def load(self) -> tuple[str, float]:
        self.calls += 1
        await self.release.wait()
        if self.error is not None:
            raise self.error
        return self.value, self.ttl


async def test_concurrent_misses_share_one_load() -> None:
    cache: RefreshingCache[str, str] = RefreshingCache()
    source = Source()
    waiting = [asyncio.ensure_future(cache.get("k", source.load)) for _ in range(50)]
    await asyncio.sleep(0)
    source.release.set()
    assert await asyncio.gather(*waiting) == ["v1"] * 50
    assert source.calls == 1
    assert await cache.get("k", source.load) == "v1"
    assert source.calls == 1


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_expired_entry_is_served_while_one_refresh_runs() -> None:
    clock = Clock()
    cache: RefreshingCache[str, str] = RefreshingCache(clock=clock)
    source = Source()
    source.ttl = 10.0
    source.release.set()
    assert await cache.get("k", source.load) == "v1"
    source.release.clear()
    source.value = "v2"
    clock.now += 15.0  # expired 5 s ago: still servable (less than one ttl past expiry)
    # Expired: every caller gets the old value at once, and a single refresh starts.
    assert [await cache.get("k", source.load) for _ in range(20)] == ["v1"] * 20
    await asyncio.sleep(0)
    assert source.calls == 2
    source.release.set()
    for _ in range(5):
        await asyncio.sleep(0)
    assert await cache.get("k", source.load) == "v2"
    assert source.calls == 2


async def test_entry_expired_longer_than_its_ttl_is_reloaded_before_answering() -> None:
    clock = Clock()
    cache: RefreshingCache[str, str] = RefreshingCache(clock=clock)
    source = Source()
    source.ttl = 10.0
    source.release.set()
    await cache.get("k", source.load)
    source.value = "v2"
    clock.now += 25.0
    assert await cache.get("k", source.load) == "v2"


async def test_zero_ttl_never_serves_a_stale_value() -> None:
    cache: RefreshingCache[str, str] = RefreshingCache()
    source = Source()
    source.ttl = 0.0
    source.release.set()
    assert await cache.get("k", source.load) == "v1"
    source.value = "v2"
    assert await cache.get("k", source.load) == "v2"


async def test_failed_load_reaches_every_waiter_and_is_not_cached() -> None:
    cache: RefreshingCache[str, str] = RefreshingCache()
    source = Source()
    source.error = PermissionError("revoked")
    waiting = [asyncio.ensure_future(cache.get("k", source.load)) for _ in range(3)]
    await asyncio.sleep(0)
    source.release.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(result, PermissionError) for result in results)
    source.error = None
    assert await cache.get("k", source.load) == "v1"
    assert source.calls == 2


async def test_failed_refresh_drops_the_stale_entry() -> None:
    clock = Clock()
    cache: RefreshingCache[str, str] = RefreshingCache(clock=clock)
    source = Source()
    source.ttl = 10.0
    source.release.set()
    await cache.get("k", source.load)
    clock.now += 11.0
    source.error = PermissionError("revoked")
    assert await cache.get("k", source.load) == "v1"  # stale while the refresh runs
    for _ in range(5):
        await asyncio.sleep(0)
    with pytest.raises(PermissionError):
        await cache.get("k", source.load)


async def test_a_cancelled_caller_does_not_cancel_the_load_of_the_others() -> None:
    cache: RefreshingCache[str, str] = RefreshingCache()
    source = Source()
    first = asyncio.ensure_future(cache.get("k", source.load))
    second = asyncio.ensure_future(cache.get("k", source.load))
    await asyncio.sleep(0)
    first.cancel()
    source.release.set()
    assert await second == "v1"
    assert source.calls == 1


async def test_forget_is_a_barrier_for_loads_in_flight() -> None:
    # A verification that read a token before its revocation must not be cached, nor shared, after it.
    cache: RefreshingCache[str, str] = RefreshingCache()
    before = Source()
    early = asyncio.ensure_future(cache.get("k", before.load))
    await asyncio.sleep(0)
    cache.forget()
    after = Source()
    after.value = "v2"
    late = asyncio.ensure_future(cache.get("k", after.load))
    for _ in range(3):
        await asyncio.sleep(0)
    assert after.calls == 1  # the late caller did not join the early load
    before.release.set()
    assert await early == "v1"
    after.release.set()
    assert await late == "v2"
    assert await cache.get("k", Source().load) == "v2"  # the early result never filled the cache
