"""Shared rate limiter benchmark: decisions/s and accuracy of the GCRA limiter, memory and Redis.

    .venv/bin/python -m bench.limiter [--backend memory|redis|all] [--seconds 10]

For each backend:
- decisions/s for ``check`` and ``reserve`` with 1 call in flight and 32 concurrent tasks, beside the
  transport's ceiling measured in the same run: a no-op coroutine call (memory); raw ``PING`` and ``INCR``
  round trips, plus the Lua script sent by plain ``EVALSHA`` without the limiter's coalescing (Redis);
- accuracy at 1,000/s and 5,000/s (burst = 1 % of the rate): 32 tasks hammer ``check`` (or reserve a slot
  and sleep until it) for ``--seconds``; reported are the achieved rate once the burst is set aside, and the
  busiest 100 ms window against the ideal (rate / 10) and the requirement (110 % of it), over the whole run
  and from 100 ms after the start. The reserve run starts all 32 callers in the same instant.

Prints a table with rich and writes ``bench/results/limiter.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import platform
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from redis.asyncio import Redis

from bench.kit.backends import redis_version
from bench.kit.report import console, table, write_results
from clarion.limiter.memory import MemoryLimiter
from clarion.limiter.port import Limiter, RateLimit, default_burst
from clarion.limiter.redis import _GCRA_LUA, RedisLimiter

CONCURRENCY = (1, 32)
ACCURACY_TASKS = 32
ACCURACY_RATES = (1000.0, 5000.0)
WINDOW = 0.1
# So high that every decision is allowed with no wait: the work is the same each time.
UNLIMITED = RateLimit(rate=1e9, burst=default_burst(1e9))


@dataclass
class Throughput:
    """One decisions/s measurement."""

    backend: str
    what: str
    concurrency: int
    per_second: float
    client_cpu: float
    """Share of one core used by this process while measuring (1.0 = one core busy)."""
    redis_cpu: float | None
    """Share of one core used by redis-server (None for memory)."""


@dataclass
class Accuracy:
    """One accuracy run: 32 tasks against one key at ``rate`` for ``seconds``."""

    backend: str
    mode: str
    rate: float
    burst: int
    seconds: float
    allowed: int
    achieved_rate: float
    """(allowed - burst) / seconds: the steady rate, with the initial burst set aside."""
    error_pct: float
    max_per_window: int
    max_per_window_after_start: int
    """Busiest window among those starting 100 ms or more after the first slot."""
    ideal_per_window: float
    bound_per_window: int
    attempts_per_second: float
    max_lateness_ms: float | None
    """reserve: the latest wake-up after its slot (event-loop lateness, for diagnosis)."""


def max_in_window(times: list[float], window: float, *, not_before: float = float("-inf")) -> int:
    """The most events in any half-open window ``[t, t + window)`` starting at or after ``not_before``."""
    ordered = sorted(times)
    best = 0
    end = 0
    for start, first in enumerate(ordered):
        while end < len(ordered) and ordered[end] < first + window:
            end += 1
        if first >= not_before:
            best = max(best, end - start)
    return best


class CpuMeter:
    """This process's CPU time and redis-server's (from INFO cpu), over a measured span."""

    def __init__(self, redis: Redis | None) -> None:
        self._redis = redis
        self._wall = self._cpu = self._server = 0.0

    async def _server_cpu(self) -> float:
        if self._redis is None:
            return 0.0
        info = await self._redis.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    async def start(self) -> None:
        """Take the starting readings."""
        self._server = await self._server_cpu()
        self._cpu = time.process_time()
        self._wall = time.perf_counter()

    async def stop(self) -> tuple[float, float | None]:
        """Shares of one core (client, redis-server) since ``start``."""
        wall = time.perf_counter() - self._wall
        cpu = time.process_time() - self._cpu
        server = (await self._server_cpu() - self._server) / wall if self._redis is not None else None
        return cpu / wall, server


async def decisions_per_second(
    call: Callable[[], Awaitable[object]], concurrency: int, seconds: float, meter: CpuMeter
) -> tuple[float, float, float | None]:
    """Run ``call`` back to back in ``concurrency`` tasks for ``seconds``; calls/s and CPU shares."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await call()
            done += 1

    await meter.start()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    client, server = await meter.stop()
    return done / elapsed, client, server


async def accuracy_check(backend: str, limiter: Limiter, rate: float, seconds: float, key: str) -> Accuracy:
    """32 tasks hammer check(); allowed decisions are timed as they come back."""
    limit = RateLimit(rate=rate, burst=default_burst(rate))
    allowed: list[float] = []
    tries = 0
    started = time.monotonic()
    deadline = started + seconds

    async def hammer() -> None:
        nonlocal tries
        while time.monotonic() < deadline:
            decision = await limiter.check(key, limit)
            tries += 1
            if decision.allowed:
                allowed.append(time.monotonic())
            await asyncio.sleep(0)  # the memory backend never suspends: let the callers interleave

    await asyncio.gather(*(hammer() for _ in range(ACCURACY_TASKS)))
    duration = time.monotonic() - started
    return _accuracy(backend, "check", limit, allowed, duration, tries / duration, None)


async def accuracy_reserve(backend: str, limiter: Limiter, rate: float, seconds: float, key: str) -> Accuracy:
    """32 tasks, started in the same instant, reserve a slot, sleep until it and fire."""
    limit = RateLimit(rate=rate, burst=default_burst(rate))
    fired: list[float] = []
    lateness: list[float] = []
    tries = 0
    started = time.monotonic()
    deadline = started + seconds

    async def pace() -> None:
        nonlocal tries
        while time.monotonic() < deadline:
            decision = await limiter.reserve(key, limit, max_wait=1.0)
            tries += 1
            due = time.monotonic() + decision.wait
            if decision.allowed:
                await asyncio.sleep(decision.wait)
                fired.append(time.monotonic())
                lateness.append(fired[-1] - due)

    await asyncio.gather(*(pace() for _ in range(ACCURACY_TASKS)))
    # Slots booked before the deadline fire just after it: the rate is judged on [start, deadline].
    in_span = [t for t in fired if t <= deadline]
    result = _accuracy(backend, "reserve", limit, in_span, seconds, tries / seconds, max(lateness) * 1e3)
    result.max_per_window = max_in_window(fired, WINDOW)
    result.max_per_window_after_start = max_in_window(fired, WINDOW, not_before=min(fired) + WINDOW)
    return result


def _accuracy(
    backend: str,
    mode: str,
    limit: RateLimit,
    times: list[float],
    duration: float,
    attempts: float,
    lateness_ms: float | None,
) -> Accuracy:
    achieved = (len(times) - limit.burst) / duration
    return Accuracy(
        backend=backend,
        mode=mode,
        rate=limit.rate,
        burst=limit.burst,
        seconds=round(duration, 3),
        allowed=len(times),
        achieved_rate=round(achieved, 1),
        error_pct=round(100 * (achieved - limit.rate) / limit.rate, 3),
        max_per_window=max_in_window(times, WINDOW),
        max_per_window_after_start=max_in_window(times, WINDOW, not_before=min(times) + WINDOW),
        ideal_per_window=limit.rate * WINDOW,
        bound_per_window=int(1.1 * limit.rate * WINDOW),
        attempts_per_second=round(attempts),
        max_lateness_ms=None if lateness_ms is None else round(lateness_ms, 2),
    )


async def bench_backend(
    backend: str, url: str, seconds: float, tp_seconds: float
) -> tuple[list[Throughput], list[Accuracy]]:
    """Every measurement for one backend."""
    raw = Redis.from_url(url) if backend == "redis" else None
    limiter: Limiter = RedisLimiter(url, prefix="clarion-bench") if backend == "redis" else MemoryLimiter()
    meter = CpuMeter(raw)
    throughput: list[Throughput] = []
    accuracy: list[Accuracy] = []

    async def measure(what: str, call: Callable[[], Awaitable[object]]) -> None:
        for concurrency in CONCURRENCY:
            rate, client, server = await decisions_per_second(call, concurrency, tp_seconds, meter)
            throughput.append(Throughput(backend, what, concurrency, round(rate), client, server))
            console.log(f"{backend:6} {what:34} x{concurrency:<3} {rate:>10,.0f}/s")

    try:
        await measure("check", lambda: limiter.check("tp", UNLIMITED))
        await measure("reserve", lambda: limiter.reserve("tp", UNLIMITED, max_wait=1.0))
        if raw is None:

            async def noop() -> None:
                return None

            await measure("no-op coroutine (baseline)", noop)
        else:
            sha = await raw.script_load(_GCRA_LUA)
            args = ("clarion-bench:rl:raw", repr(1e6 / UNLIMITED.rate), UNLIMITED.burst, "check", 0, 1)
            await measure("PING (baseline)", raw.ping)
            await measure("INCR (baseline)", lambda: raw.incr("clarion-bench:incr"))
            await measure("EVALSHA, uncoalesced (baseline)", lambda: raw.evalsha(sha, 1, *args))
        for rate in ACCURACY_RATES:
            for run in (accuracy_check, accuracy_reserve):
                key = f"acc-{run.__name__}-{int(rate)}"
                await limiter.reset(key)
                result = await run(backend, limiter, rate, seconds, key)
                await limiter.reset(key)
                accuracy.append(result)
                console.log(
                    f"{backend:6} {result.mode:7} {rate:>6,.0f}/s achieved {result.achieved_rate:,.1f}/s "
                    f"max/100ms {result.max_per_window} (steady {result.max_per_window_after_start})"
                )
    finally:
        await limiter.reset("tp")
        await limiter.close()
        if raw is not None:
            await raw.delete("clarion-bench:incr", "clarion-bench:rl:raw")
            await raw.aclose()
    return throughput, accuracy


def render(throughput: list[Throughput], accuracy: list[Accuracy]) -> None:
    """The two result tables."""
    rows = [
        [
            row.backend,
            row.what,
            str(row.concurrency),
            f"{row.per_second:,.0f}",
            f"{row.client_cpu:.0%}",
            "" if row.redis_cpu is None else f"{row.redis_cpu:.0%}",
        ]
        for row in throughput
    ]
    console.print(
        table(
            "Decisions per second (limit set so high that every call is allowed)",
            ["backend", "what", "in flight", "per second", "client CPU", "redis CPU"],
            rows,
            left={"what"},
        )
    )
    columns = [
        "backend",
        "mode",
        "rate",
        "allowed",
        "achieved/s",
        "error",
        "max/100ms",
        "after 1st 100ms",
        "ideal / bound",
        "attempts/s",
        "max late",
    ]
    rows = [
        [
            acc.backend,
            acc.mode,
            f"{acc.rate:,.0f}",
            f"{acc.allowed:,}",
            f"{acc.achieved_rate:,.1f}",
            f"{acc.error_pct:+.2f} %",
            str(acc.max_per_window),
            str(acc.max_per_window_after_start),
            f"{acc.ideal_per_window:.0f} / {acc.bound_per_window}",
            f"{acc.attempts_per_second:,.0f}",
            "" if acc.max_lateness_ms is None else f"{acc.max_lateness_ms:.1f} ms",
        ]
        for acc in accuracy
    ]
    title = f"Accuracy: {ACCURACY_TASKS} tasks on one key, burst = 1 % of the rate"
    console.print(table(title, columns, rows, left={"mode"}))


async def main(args: argparse.Namespace) -> None:
    """Run the selected backends, print the tables, write the JSON."""
    backends: tuple[str, ...] = ("memory", "redis") if args.backend == "all" else (args.backend,)
    version = await redis_version(args.redis_url) if "redis" in backends else None
    if "redis" in backends and version is None:
        console.print(f"[yellow]no Redis at {args.redis_url}: skipped[/yellow]")
        backends = tuple(backend for backend in backends if backend != "redis")
    # A full collection of a big heap stalls the loop for ~10-25 ms and bunches the sleepers woken after it;
    # long-running services freeze their start-up heap for the same reason.
    gc.collect()
    gc.freeze()
    throughput: list[Throughput] = []
    accuracy: list[Accuracy] = []
    for backend in backends:
        tp, acc = await bench_backend(backend, args.redis_url, args.seconds, args.tp_seconds)
        throughput += tp
        accuracy += acc
    render(throughput, accuracy)
    meta: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "loop": type(asyncio.get_running_loop()).__module__,
        "accuracy_seconds": args.seconds,
        "throughput_seconds": args.tp_seconds,
    }
    if version is not None:
        meta["redis_version"] = version
    payload = {
        "meta": meta,
        "throughput": [asdict(t) for t in throughput],
        "accuracy": [asdict(a) for a in accuracy],
    }
    console.print(f"wrote {write_results('limiter', payload)}")


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("memory", "redis", "all"), default="all")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each accuracy run")
    parser.add_argument("--tp-seconds", type=float, default=3.0, help="length of each decisions/s run")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop", help="uvloop, as served")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.loop == "uvloop":
        import uvloop

        uvloop.run(main(arguments))
    else:
        asyncio.run(main(arguments))
