"""``Limiter.exclusive``: one holder at a time per key, across instances sharing the backend."""

from __future__ import annotations

import asyncio

import pytest

from clarion.limiter.port import Limiter


async def test_holders_of_one_key_never_overlap(limiter: Limiter) -> None:
    inside = 0
    most = 0
    order: list[int] = []

    async def hold(n: int) -> None:
        nonlocal inside, most
        async with limiter.exclusive("dispatch", ttl=5):
            inside += 1
            most = max(most, inside)
            order.append(n)
            await asyncio.sleep(0.002)  # yield inside the section, so an overlap would be seen
            inside -= 1

    await asyncio.gather(*(hold(n) for n in range(20)))
    assert most == 1
    assert sorted(order) == list(range(20))


async def test_different_keys_do_not_exclude_each_other(limiter: Limiter) -> None:
    async with limiter.exclusive("a", ttl=5):
        async with asyncio.timeout(2):
            async with limiter.exclusive("b", ttl=5):
                pass


async def test_the_lock_is_released_when_the_body_raises(limiter: Limiter) -> None:
    try:
        async with limiter.exclusive("k", ttl=5):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    async with asyncio.timeout(2):
        async with limiter.exclusive("k", ttl=5):
            pass


async def test_a_holder_that_never_releases_blocks_for_ttl_across_processes(
    backend: str, limiter: Limiter
) -> None:
    """Redis: a crashed holder's lock lapses after ``ttl``. Memory: held until released."""
    stuck = limiter.exclusive("crash", ttl=0.2)
    await stuck.__aenter__()  # acquired and never released, as by a process that died inside
    loop = asyncio.get_running_loop()
    started = loop.time()
    if backend == "memory":
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5), limiter.exclusive("crash", ttl=0.2):
                pass
        await stuck.__aexit__(None, None, None)
        return
    async with asyncio.timeout(3), limiter.exclusive("crash", ttl=5):
        waited = loop.time() - started
    assert 0.1 <= waited <= 2.0
