"""The suppression check on the send path: its cost per message, its refreshes, and its memory.

A sandbox holding ``--entries`` suppressed addresses (1,000,000 by default: a big list after years of
bounces) is written through ``suppressions.service.suppress``; a ``SuppressionCache`` (what every worker
holds) then loads it. Measured, in one process:

- load: the first message of a sandbox streams its whole list into memory (time, rows/s);
- memory: ``tracemalloc`` bytes the loaded list holds (per entry), and the process's RSS growth;
- check: per-message cost of what ``Delivery.send`` adds per recipient (``SuppressionSet.check`` with the
  address as the email channel gives it) on a hit and on a miss, and per job (``await cache.view()`` on a
  fresh cache); the baseline is a bare ``dict.get(address.lower())`` on a dict of the same size, in the same
  run, so the ratio is the price of the rule (category, transactional) on top of a hash lookup;
- what the cache avoids: one indexed ``SELECT`` per message (the obvious implementation), per message;
- refresh: one refresh when nothing changed (the revision counters of every sandbox held, one query),
  and after 1, 100 and 1,000 changes committed by another process (counters + the delta), with 1 and 100
  sandboxes held.

Usage: .venv/bin/python -m bench.suppressions [--entries 1000000] [--database-url URL] [--keep]
"""

from __future__ import annotations

import asyncio
import gc
import os
import secrets
import statistics
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench.kit.report import Targets, console, loadavg, machine_info, table, write_results
from bench.kit.runner import option_parser, workdir
from clarion.config import Settings
from clarion.container import Container
from clarion.db.migrate import upgrade
from clarion.kit.secretbox import new_key
from clarion.models.tenancy import Sandbox
from clarion.suppressions import repository, service
from clarion.suppressions.cache import SuppressionCache
from clarion.suppressions.repository import SuppressionRepository
from clarion.suppressions.schemas import NewSuppression
from clarion.tenancy import service as tenancy

WRITE_BATCH = 5_000


def rss_bytes() -> int:
    """The process's resident set size."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def address(index: int) -> str:
    """A realistic address: 20 to 30 characters, mostly distinct domains."""
    return f"customer.{index:07d}@mail{index % 5000}.example.com"


async def per_call(fn: Callable[[], Any], count: int) -> float:
    """Nanoseconds per call of a synchronous ``fn`` (best of 5 rounds of ``count``)."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter_ns()
        for _ in range(count):
            fn()
        best = min(best, (time.perf_counter_ns() - started) / count)
    return best


async def per_await(fn: Callable[[], Awaitable[Any]], count: int) -> float:
    """Nanoseconds per awaited call (best of 5 rounds)."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter_ns()
        for _ in range(count):
            await fn()
        best = min(best, (time.perf_counter_ns() - started) / count)
    return best


async def new_sandbox(container: Container, name: str) -> tuple[str, str]:
    async with container.unit_of_work() as uow:
        org = await tenancy.create_organization(uow, name)
        await uow.commit()
        org_id = org.id
    async with container.unit_of_work() as uow:
        sandbox_id = await uow.session.scalar(select(Sandbox.id).where(Sandbox.org_id == org_id))
    assert sandbox_id is not None
    return org_id, sandbox_id


async def fill(container: Container, scope: tuple[str, str], count: int, start: int = 0) -> float:
    """Write ``count`` entries through the service; seconds taken."""
    started = time.perf_counter()
    for first in range(start, start + count, WRITE_BATCH):
        entries = [
            NewSuppression(address(index), "hardBounce" if index % 3 else "unsubscribe", detail="550 5.1.1")
            for index in range(first, min(first + WRITE_BATCH, start + count))
        ]
        async with container.unit_of_work() as uow:
            await service.suppress(uow.session, *scope, entries, source="import")
            await uow.commit()
    return time.perf_counter() - started


def database_url(args: Any, work: Path) -> str:
    """The database the list is written to: ``--database-url``, else a SQLite file in the work folder."""
    return str(args.database_url or f"sqlite:///{work / 'bench.db'}")


async def run(args: Any, work: Path) -> dict[str, Any]:
    url = database_url(args, work)
    settings = Settings(
        home=work / "home",
        database_url=url,
        queue_url="sqlite",
        auto_migrate=False,
        smtp_capture=False,
        secret_key=new_key(),
    )
    container = Container.build(settings)
    try:
        return await measure(container, args)
    finally:
        await container.close()


async def measure(container: Container, args: Any) -> dict[str, Any]:
    results: dict[str, Any] = {}
    scope = await new_sandbox(container, f"bench-{secrets.token_hex(3)}")
    console.print(f"writing {args.entries:,} entries through suppressions.service.suppress …")
    seconds = await fill(container, scope, args.entries)
    results["write"] = {"entries": args.entries, "seconds": seconds, "per_s": args.entries / seconds}

    # The first message of the sandbox: the whole list streamed into memory.
    gc.collect()
    rss_before = rss_bytes()
    cache = SuppressionCache(container.unit_of_work, interval=3600, local_changes=False)
    started = time.perf_counter()
    listed = await cache.view(*scope)
    load_seconds = time.perf_counter() - started
    gc.collect()
    rss_growth = rss_bytes() - rss_before
    assert len(listed) == args.entries
    results["load"] = {"seconds": load_seconds, "rows_per_s": args.entries / load_seconds}

    # The same load under tracemalloc: the bytes the list holds once loaded.
    traced = SuppressionCache(container.unit_of_work, interval=3600, local_changes=False)
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    kept = await traced.view(*scope)
    after, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    results["memory"] = {
        "traced_bytes": after - before,
        "bytes_per_entry": (after - before) / args.entries,
        "peak_during_load_bytes": peak - before,
        "rss_growth_bytes": rss_growth,
    }
    del kept, traced
    gc.collect()

    # Per-message cost on the hot path.
    hit, miss = address(args.entries // 2).upper(), "nobody.at.all@example.org"
    assert listed.check(hit, "Marketing") is not None
    assert listed.check(miss, "Marketing") is None
    baseline_dict = {address(index): 1 for index in range(args.entries)}
    n = args.calls
    results["check_ns"] = {
        "hit": await per_call(lambda: listed.check(hit, "Marketing"), n),
        "miss": await per_call(lambda: listed.check(miss, "Marketing"), n),
        "baseline_dict_get_lower_hit": await per_call(lambda: baseline_dict.get(hit.lower()), n),
        "baseline_dict_get_lower_miss": await per_call(lambda: baseline_dict.get(miss.lower()), n),
        "view_per_job": await per_await(lambda: cache.view(*scope), n),
    }
    baseline_dict.clear()
    gc.collect()

    # What it replaces: one indexed read per message.
    async def one_select() -> None:
        async with container.unit_of_work() as uow:
            await SuppressionRepository(uow.session, *scope).entries_of(address(7))

    results["select_per_message_ns"] = await per_await(one_select, max(200, n // 500))

    # Refreshes: nothing changed, and after changes made by another process, with 1 and 100 sandboxes held.
    refresh: dict[str, Any] = {}
    others = [await new_sandbox(container, f"other-{index}") for index in range(99)]
    for held in (1, 100):
        watcher = SuppressionCache(container.unit_of_work, interval=0.5, local_changes=False)
        keys = [scope] if held == 1 else [scope, *others]
        for key in keys:
            await watcher.view(*key)
        target = scope if held == 1 else others[0]
        timings = []
        for _ in range(20):
            started = time.perf_counter()
            await watcher.refresh()
            timings.append(time.perf_counter() - started)
        refresh[f"{held}_held_unchanged_ms"] = statistics.median(timings) * 1000
        offset = 10_000_000 + held * 100_000
        for changes in (1, 100, 1000):
            await fill(container, target, changes, start=offset)
            offset += changes
            started = time.perf_counter()
            await watcher.refresh()
            refresh[f"{held}_held_{changes}_changes_ms"] = (time.perf_counter() - started) * 1000
            assert (await watcher.view(*target)).check(address(offset - 1), "Marketing") is not None
    results["refresh"] = refresh
    async with container.unit_of_work() as uow:
        revisions = await repository.revisions(uow.session, [scope])
    results["revision"] = revisions[scope]
    return results


def report(results: dict[str, Any], args: Any) -> Targets:
    entries = args.entries
    check = results["check_ns"]
    base_hit, base_miss = check["baseline_dict_get_lower_hit"], check["baseline_dict_get_lower_miss"]
    console.print(
        table(
            f"Suppression check per message ({entries:,} entries in the sandbox)",
            ["path", "ns", "vs dict.get(lower())"],
            [
                [
                    "hit (suppressed address)",
                    check["hit"],
                    check["hit"] / base_hit,
                ],
                [
                    "miss (the common case)",
                    check["miss"],
                    check["miss"] / base_miss,
                ],
                ["baseline: dict.get(lower()), hit", base_hit, 1.0],
                ["baseline: dict.get(lower()), miss", base_miss, 1.0],
                ["await cache.view() per job (fresh)", check["view_per_job"], None],
                ["instead: one indexed SELECT per message", results["select_per_message_ns"], None],
            ],
        )
    )
    memory = results["memory"]
    console.print(
        table(
            "Load and memory",
            ["measure", "value"],
            [
                ["entries written through suppress() /s", results["write"]["per_s"]],
                ["first load (s)", results["load"]["seconds"]],
                ["first load rows/s", results["load"]["rows_per_s"]],
                ["held (MB, tracemalloc)", memory["traced_bytes"] / 2**20],
                ["bytes per entry", memory["bytes_per_entry"]],
                ["peak during the load (MB)", memory["peak_during_load_bytes"] / 2**20],
                ["RSS growth (MB)", memory["rss_growth_bytes"] / 2**20],
            ],
        )
    )
    refresh = results["refresh"]
    console.print(
        table(
            "One refresh (ms): revision counters of every sandbox held in one query, deltas where they moved",
            ["sandboxes held", "unchanged", "1 change", "100 changes", "1,000 changes"],
            [
                [
                    held,
                    refresh[f"{held}_held_unchanged_ms"],
                    refresh[f"{held}_held_1_changes_ms"],
                    refresh[f"{held}_held_100_changes_ms"],
                    refresh[f"{held}_held_1000_changes_ms"],
                ]
                for held in (1, 100)
            ],
        )
    )
    targets = Targets()
    targets.check("miss cost per message (µs)", check["miss"] / 1000, 2.0, at_least=False, unit=" µs")
    targets.check("hit cost per message (µs)", check["hit"] / 1000, 2.0, at_least=False, unit=" µs")
    targets.check(
        "refresh, 100 sandboxes, unchanged (ms)", refresh["100_held_unchanged_ms"], 5.0, at_least=False
    )
    console.print(targets.render())
    return targets


def main() -> None:
    parser = option_parser(__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000, help="suppressed addresses in the sandbox")
    parser.add_argument("--calls", type=int, default=200_000, help="checks per timing round")
    parser.add_argument("--database-url", default="", help="default: a SQLite file in the work folder")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument(
        "--output", default="suppressions", help="results file name (bench/results/NAME.json)"
    )
    args = parser.parse_args()
    results: dict[str, Any] = {
        "benchmark": "suppressions",
        "settings": {"entries": args.entries, "calls": args.calls, "database": args.database_url or "sqlite"},
        "machine": machine_info(),
        "loadavg_start": loadavg(),
    }
    with workdir("suppressions", keep=args.keep) as work:
        upgrade(database_url(args, work))  # Alembic runs its own event loop
        results["results"] = asyncio.run(run(args, work))
    results["loadavg_end"] = loadavg()
    results["targets"] = report(results["results"], args).checks
    path = write_results(args.output, results)
    console.print(
        f"load average: start {results['loadavg_start']}, end {results['loadavg_end']}; wrote {path}"
    )


if __name__ == "__main__":
    main()
