"""The limiter contract, run against the backend chosen by ``CLARION_TEST_QUEUE_URL`` (see conftest.py).

Every contract test runs in real time because the Redis backend reads the Redis server's clock: rates are
slow (10-100/s) so that the few milliseconds a call takes stay well inside the tolerances, and each
tolerance is derived from the time actually measured around the calls. Two 10-second tests check the
accuracy requirement: ±1 % over 10 s at 1,000/s and at most 110 % of the ideal in any 100 ms window.
A few backend-specific checks close the file.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import math
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from clarion.limiter.memory import MemoryLimiter
from clarion.limiter.port import Decision, Limiter, RateLimit, default_burst
from clarion.limiter.redis import RedisLimiter

# Waits come back rounded up to the µs by Redis; a sleeper woken "exactly" on time may still be a hair
# early against the other clock, so the tests sleep this much longer than asked.
MARGIN = 0.005
# Every expected wait is bounded by the time measured around the calls; this covers what that cannot see
# (Redis reads its own clock, and rounds waits to the µs).
JITTER = 0.003
# After a real sleep, the event loop may wake us late (epoll rounds timeouts up to whole ms; a busy
# 2-core machine adds more): checks made after a sleep allow this much.
SLEEP_SLACK = 0.03


def max_in_window(times: Sequence[float], window: float) -> int:
    """The most events in any window ``[t, t + window)`` (half-open: a steady 1,000/s stream counts 100).

    Exact, not sampled on a grid: the busiest window can always be slid right until it starts at an
    event, so checking the window that starts at each event covers every possible one.
    """
    ordered = sorted(times)
    best = 0
    end = 0
    for start, first in enumerate(ordered):
        while end < len(ordered) and ordered[end] < first + window:
            end += 1
        best = max(best, end - start)
    return best


def test_max_in_window_counts_half_open_windows_exactly() -> None:
    """The helper the accuracy tests rely on: exact, order-independent, end of the window excluded."""
    assert max_in_window([], 0.1) == 0
    assert max_in_window([k * 0.25 for k in range(9)], 1.0) == 4  # 0, .25, .5, .75 — not 1.0
    assert max_in_window([0.3, 0.0, 0.05, 0.1, 0.35, 0.36], 0.1) == 3
    assert max_in_window([1.0] * 5 + [1.2], 0.1) == 5


# --- the contract ------------------------------------------------------------------------------------------


async def test_check_allows_the_burst_then_denies_with_the_wait_until_the_next_slot(limiter: Limiter) -> None:
    """burst slots pass at once; the next is denied with the time until one slot has been earned back."""
    limit = RateLimit(rate=10, burst=5)
    started = time.monotonic()
    for _ in range(5):
        assert (await limiter.check("k", limit)).allowed
    denied = await limiter.check("k", limit)
    elapsed = time.monotonic() - started
    # The first slot was taken at ~started, so one interval (0.1 s) after it a slot frees up.
    assert not denied.allowed
    assert 0.1 - elapsed - JITTER <= denied.wait <= 0.1 + 1e-6

    await asyncio.sleep(denied.wait + MARGIN)
    assert (await limiter.check("k", limit)).allowed
    again = await limiter.check("k", limit)
    assert not again.allowed
    # One slot per interval from here on: the next is ~0.1 s away (less the margin and any oversleep).
    assert 0.1 - MARGIN - SLEEP_SLACK <= again.wait <= 0.1 + 1e-6


async def test_cost_takes_several_slots_at_once(limiter: Limiter) -> None:
    """cost=n consumes n slots in check mode and pushes later reservations n intervals back."""
    limit = RateLimit(rate=10, burst=5)
    started = time.monotonic()
    assert await limiter.check("c", limit, cost=3) == Decision(allowed=True, wait=0.0)
    short = await limiter.check("c", limit, cost=3)  # 2 slots left, 3 asked: one interval short
    elapsed = time.monotonic() - started
    assert not short.allowed
    assert 0.1 - elapsed - JITTER <= short.wait <= 0.1 + 1e-6
    assert (await limiter.check("c", limit, cost=2)).allowed  # the denial above took nothing
    assert not (await limiter.check("c", limit)).allowed

    strict = RateLimit(rate=10, burst=1)
    started = time.monotonic()
    assert (await limiter.reserve("r", strict, cost=4, max_wait=10)).wait == 0.0
    after = await limiter.reserve("r", strict, max_wait=10)
    elapsed = time.monotonic() - started
    assert after.allowed
    assert 0.4 - elapsed - JITTER <= after.wait <= 0.4 + 1e-6  # behind the 4 slots taken before it


async def test_keys_are_independent(limiter: Limiter) -> None:
    """Exhausting or resetting one key changes nothing for another."""
    limit = RateLimit(rate=10, burst=3)
    for _ in range(3):
        assert (await limiter.check("a", limit)).allowed
    assert not (await limiter.check("a", limit)).allowed
    for _ in range(3):
        assert (await limiter.check("b", limit)).allowed
    assert not (await limiter.check("b", limit)).allowed
    await limiter.reset("a")
    assert (await limiter.check("a", limit)).allowed
    assert not (await limiter.check("b", limit)).allowed
    first = await limiter.reserve("c", limit, max_wait=1)
    assert first == Decision(allowed=True, wait=0.0)


async def test_many_concurrent_callers_never_over_admit(limiter: Limiter) -> None:
    """500 simultaneous calls (more than redis-py's 100-connection default pool): exact slot accounting."""
    strict = RateLimit(rate=1, burst=100)  # nothing is earned back during the test
    checks = await asyncio.gather(*(limiter.check("many", strict) for _ in range(500)))
    assert sum(d.allowed for d in checks) == 100
    assert all(d.wait > 0 for d in checks if not d.allowed)

    paced = RateLimit(rate=10, burst=1)
    started = time.monotonic()
    reservations = await asyncio.gather(*(limiter.reserve("paced", paced, max_wait=100) for _ in range(500)))
    elapsed = time.monotonic() - started
    assert all(d.allowed for d in reservations)
    waits = sorted(d.wait for d in reservations)
    # Every caller got its own slot: 0, 0.1, 0.2 … 49.9 s (less the time the 500 decisions took).
    assert 49.9 - elapsed - JITTER <= waits[-1] <= 49.9 + 1e-6
    assert all(
        0.1 - elapsed - JITTER <= b - a <= 0.1 + elapsed + JITTER for a, b in itertools.pairwise(waits)
    )


async def test_simultaneous_calls_on_one_key_take_exactly_the_free_slots(limiter: Limiter) -> None:
    """Calls made in the same instant (on Redis: coalesced, those of one pipeline decided by one script run)
    decide as the same calls made one after another, in some order: a denied call takes nothing, so the
    free slots end up exactly used, never over-admitted, whatever order they reached the backend in."""
    costs = [2, 3, 1, 1, 2]  # against 4 slots, in any order, greedy admission fills exactly 4
    checks = await asyncio.gather(*(limiter.check("mix", RateLimit(rate=1, burst=4), cost=c) for c in costs))
    assert sum(cost for cost, d in zip(costs, checks, strict=True) if d.allowed) == 4
    # A denied call of cost c waits until c slots are free again: 1 to 3 s at 1 slot a second.
    assert all(0.9 <= d.wait <= 3.0 + 1e-6 for d in checks if not d.allowed)

    paced = RateLimit(rate=10, burst=1)
    started = time.monotonic()
    reservations = await asyncio.gather(*(limiter.reserve("mix-r", paced, max_wait=0.25) for _ in range(5)))
    elapsed = time.monotonic() - started
    ordered = sorted(reservations, key=lambda d: (not d.allowed, d.wait))
    assert [d.allowed for d in ordered] == [True, True, True, False, False]
    for got, want in zip(ordered, [0.0, 0.1, 0.2, 0.3, 0.3], strict=True):
        assert want - elapsed - JITTER <= got.wait <= want + 1e-6


async def test_reserve_hands_out_waits_spaced_by_the_interval(limiter: Limiter) -> None:
    """After the burst, each reservation waits one more interval (1 / rate) than the one before."""
    limit = RateLimit(rate=20, burst=2)
    started = time.monotonic()
    waits = [(await limiter.reserve("p", limit, max_wait=5)) for _ in range(8)]
    elapsed = time.monotonic() - started
    assert all(d.allowed for d in waits)
    # Slot k (0-based) is due at k/rate after the first, burst-1 intervals earlier thanks to the tolerance.
    expected = [max(0.0, (k - 1) / 20) for k in range(8)]
    for got, want in zip(waits, expected, strict=True):
        assert want - elapsed - JITTER <= got.wait <= want + 1e-6
    gaps = [b.wait - a.wait for a, b in itertools.pairwise(waits[1:])]
    assert all(0.05 - elapsed - JITTER <= gap <= 0.05 + elapsed + JITTER for gap in gaps)


async def test_reserve_denies_past_max_wait_and_takes_nothing(limiter: Limiter) -> None:
    """A reservation that would wait longer than max_wait is refused and leaves the schedule as it was."""
    limit = RateLimit(rate=10, burst=1)
    started = time.monotonic()
    waits = [await limiter.reserve("m", limit, max_wait=0.25) for _ in range(3)]
    assert [d.allowed for d in waits] == [True, True, True]
    refused = await limiter.reserve("m", limit, max_wait=0.25)
    # Had the refusal taken a slot, this one would wait 0.4 s.
    accepted = await limiter.reserve("m", limit, max_wait=1)
    elapsed = time.monotonic() - started
    assert not refused.allowed
    assert 0.3 - elapsed - JITTER <= refused.wait <= 0.3 + 1e-6
    assert accepted.allowed
    assert 0.3 - elapsed - JITTER <= accepted.wait <= 0.3 + 1e-6


async def test_reset_forgets_the_key(limiter: Limiter) -> None:
    """After reset the key starts fresh: full burst in check mode, no wait in reserve mode."""
    limit = RateLimit(rate=1, burst=2)
    assert (await limiter.check("r", limit, cost=2)).allowed
    assert not (await limiter.check("r", limit)).allowed
    assert (await limiter.reserve("q", limit, cost=5, max_wait=10)).allowed
    assert (await limiter.reserve("q", limit, max_wait=10)).wait > 3
    await limiter.reset("r")
    await limiter.reset("q")
    await limiter.reset("never-used")  # resetting an unknown key is not an error
    assert (await limiter.check("r", limit, cost=2)).allowed
    assert await limiter.reserve("q", limit, max_wait=0) == Decision(allowed=True, wait=0.0)


async def test_a_rate_change_applies_to_the_next_decisions(limiter: Limiter) -> None:
    """The limit is passed per call: a new rate spaces the very next slots, up or down, in both modes.

    Slots already handed out keep their times (sleepers are waiting on them), so the new spacing starts
    after them: pacing never exceeds the old or the new rate while the two overlap.
    """
    fast, slow = RateLimit(rate=100, burst=1), RateLimit(rate=20, burst=1)
    started = time.monotonic()
    waits = [(await limiter.reserve("rc", fast, max_wait=5)).wait for _ in range(3)]  # 0, .01, .02
    waits += [(await limiter.reserve("rc", slow, max_wait=5)).wait for _ in range(2)]  # .03, .08
    waits += [(await limiter.reserve("rc", fast, max_wait=5)).wait for _ in range(2)]  # .13, .14
    elapsed = time.monotonic() - started
    for got, want in zip(waits, [0.0, 0.01, 0.02, 0.03, 0.08, 0.13, 0.14], strict=True):
        assert max(0.0, want - elapsed - JITTER) <= got <= want + 1e-6

    # Check mode: a lower rate takes effect at once; a larger burst too.
    assert (await limiter.check("cc", RateLimit(rate=100, burst=1))).allowed
    await asyncio.sleep(0.01 + MARGIN)
    started = time.monotonic()
    assert (await limiter.check("cc", RateLimit(rate=5, burst=1))).allowed
    slower = await limiter.check("cc", RateLimit(rate=5, burst=1))
    elapsed = time.monotonic() - started
    assert not slower.allowed
    assert 0.2 - elapsed - JITTER <= slower.wait <= 0.2 + 1e-6  # the new interval, not 0.01 s
    wider = RateLimit(rate=5, burst=3)
    assert (await limiter.check("cc", wider)).allowed  # the new tolerance admits 2 more at once…
    assert (await limiter.check("cc", wider)).allowed
    assert not (await limiter.check("cc", wider)).allowed  # …counting the one already taken


@pytest.mark.parametrize(
    ("limit", "cost", "max_wait"),
    [
        (RateLimit(rate=0), 1, None),
        (RateLimit(rate=-5), 1, None),
        (RateLimit(rate=math.inf), 1, None),
        (RateLimit(rate=10, burst=0), 1, None),
        (RateLimit(rate=10), 0, None),
        (RateLimit(rate=10, burst=2), 3, None),  # check: more than the burst could never pass
        (RateLimit(rate=10), 1, -1.0),
        (RateLimit(rate=10), 1, math.nan),
    ],
)
async def test_invalid_arguments_are_refused(
    limiter: Limiter, limit: RateLimit, cost: int, max_wait: float | None
) -> None:
    """Nonsense limits raise ValueError instead of silently allowing or denying everything."""
    call = (
        limiter.check("bad", limit, cost=cost)
        if max_wait is None
        else limiter.reserve("bad", limit, cost=cost, max_wait=max_wait)
    )
    with pytest.raises(ValueError, match=r"."):
        await call


# --- accuracy under concurrency (the requirement) ------------------------------------------------

RATE = 1000.0
BURST = default_burst(RATE)  # 10
TAU = (BURST - 1) / RATE  # GCRA's tolerance: 9 ms
SECONDS = 10.0
TASKS = 32
# "No more than 110 % of the ideal in any 100 ms window": ideal 100, so at most 110. A perfect GCRA puts 109
# in the window that opens with the burst (10 at once, then the 99 slots due strictly inside the next
# 100 ms), which leaves one slot (1 ms) for timing noise there; elsewhere the margin is tau = 9 ms.
WINDOW = 0.1
MAX_PER_WINDOW = int(1.1 * RATE * WINDOW)


async def warm_up(limiter: Limiter) -> None:
    """Load the script and open connections before the clock starts (harmless in memory).

    A cold client pays SCRIPT LOAD and TCP set-up on its first calls, so those replies would come back
    late and bunched: a start-up artifact, not the steady state a running service sees.
    """
    limit = RateLimit(rate=RATE, burst=BURST)
    await asyncio.gather(*(limiter.reserve(f"warm-up-{i}", limit, max_wait=0) for i in range(TASKS)))


@asynccontextmanager
async def quiet_measurement() -> AsyncIterator[list[float]]:
    """Measure with the cyclic GC's full collections out of the way, and watch for event-loop stalls.

    pytest's process holds a large heap: a full (generation 2) collection stalls the loop for ~10-25 ms
    here, and every sleeper due in that stall then wakes at once, a bunch the limiter never granted.
    Freezing moves today's objects out of the collector's sight (the advice for long-running servers
    too); young collections, well under 1 ms, still run. The list yielded ends up holding the longest
    stall seen by a 1 ms sleeper, i.e. how long the process could not run (another busy process on
    this 2-core machine can cause that too).
    """
    worst = [0.0]

    async def watch() -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.001)
            worst[0] = max(worst[0], time.monotonic() - before - 0.001)

    gc.collect()
    gc.freeze()
    watcher = asyncio.create_task(watch())
    try:
        yield worst
    finally:
        watcher.cancel()
        gc.unfreeze()


def accuracy_problems(
    times: Sequence[float], *, duration: float, every: Sequence[float] = (), burst: int = BURST
) -> list[str]:
    """What breaks ±1 % of the rate over ``duration`` (burst set aside) or ≤ 110 in any 100 ms window.

    ``every`` (default: ``times``) is what the windows are counted on, when that differs; ``burst``: how
    many of ``times`` the initial burst is (0 when it was taken before the clock started).
    """
    problems = []
    # GCRA admits at most burst + rate·D in any span of D seconds (the burst at the start, then one slot
    # per 1/rate), and a saturated key admits exactly that. So the steady-state rate is judged on
    # len - burst; counting the 10 burst slots as "rate" would hide a 0.1 % error in our favour.
    steady = len(times) - burst
    ideal = RATE * duration
    if abs(steady - ideal) > 0.01 * ideal:
        problems.append(f"{steady} slots after the burst in {duration:.3f} s (ideal {ideal:.0f} ± 1 %)")
    busiest = max_in_window(every or times, WINDOW)
    if busiest > MAX_PER_WINDOW:
        problems.append(f"{busiest} slots in one 100 ms window (at most {MAX_PER_WINDOW})")
    return problems


MAX_STALLED_RUNS = 3
"""Runs allowed when the machine stalled this process (shared CI hosts); an unstalled miss fails at once."""


async def assert_accurate_unless_stalled(
    measure: Callable[[int], Awaitable[tuple[list[str], float]]],
) -> None:
    """Run ``measure``; while it misses the requirement because the process was stalled, run it again.

    When a stall of S ms ends, GCRA rightly lets the callers catch up S·rate slots at once (up to the
    burst), and replies that waited out the stall are timed together with them: past half the tolerance
    (4.5 ms) that can exceed the window bound whatever the limiter does, so that run measured the
    machine. The last allowed run's verdict is final, and a run without such a stall gets no second
    chance: a limiter bug still fails at once.
    """
    problems, stall = await measure(1)
    attempt = 1
    while problems and stall > TAU / 2 and attempt < MAX_STALLED_RUNS:
        attempt += 1
        problems, stall = await measure(attempt)
    assert not problems, f"{'; '.join(problems)} (longest event-loop stall {stall * 1e3:.1f} ms)"


@pytest.mark.timeout(90)
async def test_accuracy_under_concurrency_check_mode(limiter: Limiter) -> None:
    """32 tasks hammer check() for 10 s at 1,000/s: ~10,000 pass, never > 110 per 100 ms.

    The burst is taken before the clock starts. Measured with it, the window that opens with the burst
    holds 109 slots by design (10 at once, then 99): 1 ms of margin, less than the jitter of replies
    timed in this process (CI saw 111 once with a 1.6 ms stall); in steady state the margin is tau, 9 ms.
    That the burst itself is exact is checked by the tests above.
    """
    limit = RateLimit(rate=RATE, burst=BURST)
    await warm_up(limiter)

    async def measure(attempt: int) -> tuple[list[str], float]:
        allowed: list[float] = []
        tries = 0
        async with quiet_measurement() as stall:
            assert (await limiter.check(f"acc-check-{attempt}", limit, cost=BURST)).allowed
            started = time.monotonic()
            deadline = started + SECONDS

            async def hammer() -> None:
                nonlocal tries
                while time.monotonic() < deadline:
                    decision = await limiter.check(f"acc-check-{attempt}", limit)
                    tries += 1
                    if decision.allowed:
                        allowed.append(time.monotonic())
                    # The memory backend never suspends; yield so the 32 callers really interleave.
                    await asyncio.sleep(0)

            await asyncio.gather(*(hammer() for _ in range(TASKS)))
            # Decisions already sent at the deadline still land: the span ends when the last is back.
            duration = time.monotonic() - started
        # The offered load must far exceed the rate, or the test would only measure our own callers.
        assert tries >= 3 * RATE * SECONDS
        return accuracy_problems(allowed, duration=duration, burst=0), stall[0]

    await assert_accurate_unless_stalled(measure)


@pytest.mark.timeout(90)
async def test_accuracy_under_concurrency_reserve_mode(limiter: Limiter) -> None:
    """32 tasks reserve slots and sleep until them for 10 s at 1,000/s: same bounds on the firing times."""
    limit = RateLimit(rate=RATE, burst=BURST)
    await warm_up(limiter)

    async def measure(attempt: int) -> tuple[list[str], float]:
        fired: list[float] = []
        refused = 0

        async def reserve() -> Decision:
            return await limiter.reserve(f"acc-reserve-{attempt}", limit, max_wait=1.0)

        async def pace(decision: Decision, deadline: float) -> None:
            nonlocal refused
            while True:
                if decision.allowed:
                    await asyncio.sleep(decision.wait)
                    fired.append(time.monotonic())
                else:
                    refused += 1
                if time.monotonic() >= deadline:
                    return
                decision = await reserve()

        async with quiet_measurement() as stall:
            started = time.monotonic()
            deadline = started + SECONDS
            # The pacers join one after another, each once its first reservation is answered (~0.2 ms
            # apart on Redis), like callers arriving within a few ms. Were all 32 to ask in the same
            # instant, Redis would answer them as one 32-script round trip (~1 ms, against ~0.15 ms for
            # every call after), so the whole burst would fire ~1 ms late relative to the slots that
            # follow it, and the burst window, which a perfect GCRA fills to 109 of the 110 allowed, can
            # reach 111. bench/limiter.py measures that simultaneous start.
            pacers = [asyncio.create_task(pace(await reserve(), deadline)) for _ in range(TASKS)]
            await asyncio.gather(*pacers)
        assert refused == 0  # 32 callers keep at most ~32 ms of slots booked, far below max_wait
        # Slots booked before the deadline fire up to ~32 ms after it; the rate is judged on [started,
        # deadline] (the schedule runs without gaps, so that span holds burst + rate·10 s), while the
        # windows are counted on every firing, that tail included.
        in_span = [t for t in fired if t <= deadline]
        return accuracy_problems(in_span, duration=SECONDS, every=fired), stall[0]

    await assert_accurate_unless_stalled(measure)


# --- backend-specific checks (none needs a server the run was not given) -----------------------------------


async def test_memory_limiter_exact_formulas_on_a_fake_clock() -> None:
    """MemoryLimiter with an injected clock: the GCRA formulas to the last digit."""
    now = [100.0]
    memory = MemoryLimiter(clock=lambda: now[0])
    limit = RateLimit(rate=4, burst=2)  # T = 0.25 s, tau = 0.25 s
    assert await memory.check("k", limit) == Decision(True, 0.0)  # TAT 100.25
    assert await memory.check("k", limit) == Decision(True, 0.0)  # TAT 100.5
    assert await memory.check("k", limit) == Decision(False, 0.25)  # new TAT 100.75 - 2T - now
    now[0] = 100.25
    assert await memory.check("k", limit) == Decision(True, 0.0)  # TAT 100.75
    assert await memory.reserve("k", limit, max_wait=1) == Decision(True, 0.25)  # 100.75 - tau - now
    assert await memory.reserve("k", limit, cost=3, max_wait=1) == Decision(True, 0.5)  # TAT 101.0 → 101.75
    assert await memory.reserve("k", limit, max_wait=1) == Decision(False, 1.25)  # 101.75 - 0.25 - 100.25
    now[0] = 200.0  # long idle: a stale TAT behaves like a fresh key
    assert await memory.check("k", limit, cost=2) == Decision(True, 0.0)


async def test_memory_limiter_evicts_idle_keys_without_changing_decisions() -> None:
    """Keys whose TAT has passed are swept as the dict grows; busy keys survive with their state."""
    now = [0.0]
    memory = MemoryLimiter(clock=lambda: now[0])
    slow = RateLimit(rate=0.01, burst=1)  # one slot per 100 s: stays busy through the test
    assert (await memory.check("busy", slow)).allowed
    fast = RateLimit(rate=1000, burst=10)
    for wave in range(20):
        now[0] += 1.0  # every key of the previous wave is idle by now
        for i in range(1000):
            assert (await memory.check(f"w{wave}-{i}", fast)).allowed
    assert len(memory) <= 2 * 1000 + 1  # ~2x the busy keys, not the 20,001 ever seen
    denied = await memory.check("busy", slow)
    assert not denied.allowed
    assert denied.wait == pytest.approx(100.0 - now[0])


if os.environ.get("CLARION_TEST_QUEUE_URL", "").startswith(("redis://", "rediss://", "unix://")):
    # Defined only when Redis is the backend (nothing to skip otherwise: the memory twin has no layout).

    async def test_redis_stores_an_integer_tat_in_microseconds_expiring_after_it(limiter: Limiter) -> None:
        """On Redis: the TAT is an integer of µs under {prefix}:rl:{key}, expiring just after the TAT."""
        assert isinstance(limiter, RedisLimiter)
        client = Redis.from_url(os.environ["CLARION_TEST_QUEUE_URL"])
        try:
            await limiter.reserve("layout", RateLimit(rate=10, burst=1), cost=5, max_wait=1)
            name = limiter.redis_key("layout")
            assert name.endswith(":rl:layout")
            stored = await client.get(name)
            seconds, micros = await client.time()
            now_us = seconds * 1_000_000 + micros
            assert stored is not None
            assert stored.isdigit()
            assert 0.4e6 <= int(stored) - now_us <= 0.5e6  # 5 slots of 0.1 s ahead of "now"
            ttl_ms = await client.pttl(name)
            assert 400 <= ttl_ms <= 501  # the TAT (<= 500 ms away) plus the 1 ms margin
        finally:
            await client.aclose()

    async def test_redis_loads_the_script_when_the_server_answers_noscript(limiter: Limiter) -> None:
        """EVALSHA of an unknown SHA (as after a restart or SCRIPT FLUSH) falls back to SCRIPT LOAD."""
        assert isinstance(limiter, RedisLimiter)
        real_sha = limiter._sha
        # Pretend the server lost the script without flushing the shared server's cache: ask by a SHA it
        # has never seen, once alone and once inside a pipeline of several calls.
        limiter._sha = "0" * 40
        assert await limiter.check("ns", RateLimit(rate=10, burst=1)) == Decision(allowed=True, wait=0.0)
        assert limiter._sha == real_sha
        limiter._sha = "0" * 40
        burst = await asyncio.gather(*(limiter.check("ns2", RateLimit(rate=1, burst=3)) for _ in range(5)))
        assert [d.allowed for d in burst].count(True) == 3
        assert limiter._sha == real_sha

    async def test_redis_errors_reach_every_caller_of_a_coalesced_batch() -> None:
        """Calls queued together share one pipeline; when it fails, each caller gets the error."""
        unreachable = RedisLimiter("redis://127.0.0.1:1/0", prefix="nowhere")
        try:
            results = await asyncio.gather(
                *(unreachable.check("k", RateLimit(rate=10)) for _ in range(3)), return_exceptions=True
            )
            assert all(isinstance(result, RedisConnectionError) for result in results)
        finally:
            await unreachable.close()

    async def test_redis_a_call_cancelled_before_it_goes_out_takes_nothing(limiter: Limiter) -> None:
        """Cancelling a queued call drops it from the batch; the other callers are answered as usual."""
        limit = RateLimit(rate=1, burst=5)
        # A call already under way makes the next ones queue (a lone call would go straight out).
        under_way = asyncio.create_task(limiter.check("elsewhere", limit))
        callers = [asyncio.create_task(limiter.check("cancel", limit)) for _ in range(5)]
        await asyncio.sleep(0)  # every caller has queued its call; the batch leaves on the next loop turn
        callers[0].cancel()
        results = await asyncio.gather(*callers, return_exceptions=True)
        assert (await under_way).allowed
        assert isinstance(results[0], asyncio.CancelledError)
        assert all(isinstance(r, Decision) and r.allowed for r in results[1:])
        assert (await limiter.check("cancel", limit)).allowed  # the 5th slot was left for this call
        assert not (await limiter.check("cancel", limit)).allowed
