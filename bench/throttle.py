"""bench.throttle — does a throttling configuration hold its rate, order and every call, across processes?

Production mode: PostgreSQL + Redis, ``clarion serve --no-worker`` (the API) and two ``clarion worker``: two
processes take calls from the same overflow queue and pace them with the same Redis GCRA key. A custom
action POSTs ``{"seq": N}`` to ``bench.http_sink``, which records every arrival's seq and time.

Phases:
- baseline: the sink's ceiling with a bare ``aiohttp`` client (64 in flight), and Clarion with no throttling
  configuration (its own unthrottled ceiling towards that sink);
- rate R for each ``--rates``: queue R x (duration + 3) calls through the events API as fast as it accepts
  them while the configuration is at 200/s, set maxThroughput R (PUT), measure arrivals over ``--duration``
  s from 1 s after the update: achieved rate vs R (target ±1 %), the busiest 100 ms window vs R/10 (target
  ≤ 110 %), lost, duplicated, inversions (queueing first keeps the API's intake of ~10,000 events/s from
  sharing the two cores with the sending being measured);
- fifo + update: deploy at 200/s, queue ``--fifo-calls`` (100,000) at once, then raise the rate to 5,000/s:
  time until the new rate shows (target < 1 s), then every call once, in order.

Run: ``.venv/bin/python -m bench.throttle [--rates 200,1000,5000] [--duration 30] [--fifo-calls 100000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from bench.kit.backends import production_backend
from bench.kit.cpu import CpuMeter, wait_for_quiet
from bench.kit.instance import Tenant, create_tenant, serve
from bench.kit.paths import CLARION, PYTHON
from bench.kit.processes import Service, free_port
from bench.kit.report import Targets, code_version, console, loadavg, machine_info, table, write_results
from bench.kit.runner import add_run_options, workdir

THROTTLING = "/journey/orchestration/throttlingConfigs"
WINDOW = 0.1
QUEUEING_RATE = 200
"""The rate calls are queued at before a phase's rate is set (the API's intake then does not compete for
the two cores with the sending being measured)."""
PHASE_SEQ_STRIDE = 10_000_000  # phase k uses seqs [k * stride, ...): arrivals of phases never mix


class HttpSink:
    """``bench.http_sink`` in a subprocess; ``arrivals()`` asks it to dump and reads the file.

    It runs at ``nice -10``: it timestamps arrivals when it reads them, so a sink starved of CPU by the
    processes it measures records clumps that never were (measured: busiest window 170 % → 117 % of the share
    at 5,000/s, with no other change).
    """

    def __init__(self, work: Path) -> None:
        self.port = free_port()
        self.out = work / "arrivals.json"
        self.service = Service(
            "http-sink",
            [
                "nice",
                "-n",
                "-10",
                PYTHON,
                "-m",
                "bench.http_sink",
                "--port",
                str(self.port),
                "--out",
                str(self.out),
            ],
            env=dict(os.environ),
            log_dir=work,
        ).start()
        self.service.wait_for_log("http sink ready")

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def arrivals(self, first_seq: int, last_seq: int) -> list[tuple[float, int]]:
        """(time, seq) of the arrivals with ``first_seq <= seq < last_seq``, by time."""
        dumps = self.service.log_path.read_text().count("dumped")
        os.kill(self.service.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 30
        while self.service.log_path.read_text().count("dumped") <= dumps:
            if time.monotonic() > deadline:
                raise RuntimeError("the http sink did not dump its arrivals")
            time.sleep(0.05)
        data = json.loads(self.out.read_text())
        return sorted(
            (at, seq)
            for seq, at in zip(data["seq"], data["time"], strict=True)
            if first_seq <= seq < last_seq
        )


class Clarion:
    """The API client of the running instance (one tenant)."""

    def __init__(self, base_url: str, tenant: Tenant) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, headers=tenant.headers(), timeout=120)

    async def call(self, method: str, path: str, body: Any = None, *, expect: int) -> httpx.Response:
        """One request; raises unless it answers ``expect``."""
        response = await self.http.request(method, path, json=body)
        if response.status_code != expect:
            raise RuntimeError(f"{method} {path} → {response.status_code}: {response.text[:500]}")
        return response

    async def action(self, url: str) -> str:
        """A custom action POSTing the event's seq to ``url``; its name."""
        body = {"name": "bench_sink", "url": url, "method": "POST", "body": '{"seq": {{{context.seq}}}}'}
        await self.call("POST", "/v1/custom-actions", body, expect=201)
        return "bench_sink"

    async def throttle(self, url: str, rate: int, uid: str | None) -> str:
        """Create (or overwrite) and deploy the organization's configuration at ``rate``; its uid."""
        body = {"name": "bench", "urlPattern": f"{url}/*", "methods": ["POST"], "maxThroughput": rate}
        if uid is None:
            uid = (await self.call("POST", THROTTLING, body, expect=200)).json()["uid"]
            await self.call("POST", f"{THROTTLING}/{uid}/deploy", expect=204)
        else:
            await self.call("PUT", f"{THROTTLING}/{uid}", body, expect=200)
        assert uid is not None
        return uid

    async def fire(self, action: str, first: int, count: int, *, parallel: int = 1) -> float:
        """Queue ``count`` calls (seq ``first``…) in batches of 1,000, one request at a time; seconds it took.

        One at a time: FIFO is acceptance order, and concurrent batches are accepted in any order, which made
        whole batches look displaced by 1,000 places.
        """
        started = time.monotonic()
        starts = list(range(first, first + count, 1000))
        gate = asyncio.Semaphore(parallel)

        async def batch(start: int) -> None:
            events = [
                {"action": action, "context": {"seq": s}}
                for s in range(start, min(start + 1000, first + count))
            ]
            async with gate:
                await self.call("POST", "/v1/events", {"events": events}, expect=202)

        await asyncio.gather(*(batch(start) for start in starts))
        return time.monotonic() - started


async def sink_ceiling(url: str, seconds: float, *, in_flight: int = 64) -> float:
    """Requests/s a bare aiohttp client (Clarion's sender's library) gets from the sink (seq -1)."""
    count = 0
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=in_flight)) as client:

        async def loop() -> None:
            nonlocal count
            while time.monotonic() < deadline:
                async with client.post(f"{url}/ceiling", data=b'{"n": 0}') as response:
                    await response.read()
                count += 1

        started = time.monotonic()
        await asyncio.gather(*(loop() for _ in range(in_flight)))
    return count / (time.monotonic() - started)


def max_in_window(times: Sequence[float], window: float) -> int:
    """The most arrivals in any window ``[t, t + window)`` (exact sliding maximum)."""
    best = end = 0
    for start, first in enumerate(times):
        while end < len(times) and times[end] < first + window:
            end += 1
        best = max(best, end - start)
    return best


def order_stats(seqs: Sequence[int], first: int, count: int) -> dict[str, int]:
    """Lost, duplicated, and order (adjacent inversions, largest displacement) of a phase's arrivals."""
    unique = set(seqs)
    expected = range(first, first + count)
    return {
        "arrived": len(seqs),
        "lost": sum(1 for seq in expected if seq not in unique),
        "duplicated": len(seqs) - len(unique),
        "inversions": sum(1 for a, b in itertools.pairwise(seqs) if b < a),
        "max_displacement": max((abs(i - (seq - first)) for i, seq in enumerate(seqs)), default=0),
    }


async def wait_arrivals(
    sink: HttpSink, first: int, count: int, *, timeout: float, not_before: float = 0.0
) -> list[tuple[float, int]]:
    """Poll the sink until ``count`` distinct calls of the phase arrived (or ``timeout``).

    The first poll waits until ``not_before`` (wall clock): a dump makes the sink serialize every arrival
    so far, which stalls it for tens of milliseconds — polled during a measurement, those stalls showed up
    as gaps followed by bursts in the sink's own arrival times.
    """
    deadline = time.monotonic() + timeout
    await asyncio.sleep(max(0.0, not_before - time.time()))
    while True:
        arrivals = sink.arrivals(first, first + count)
        if len({seq for _, seq in arrivals}) >= count or time.monotonic() > deadline:
            return arrivals
        await asyncio.sleep(2.0)


async def rate_phase(
    clarion: Clarion, sink: HttpSink, action: str, uid: str | None, rate: int, index: int, duration: float
) -> tuple[str, dict[str, Any]]:
    """Queue enough calls for ``duration`` s at 200/s, set ``rate``, measure the arrivals after that."""
    uid = await clarion.throttle(sink.url, QUEUEING_RATE, uid)
    await asyncio.sleep(1.2)  # two rule refreshes: every process paces at the queueing rate
    first = index * PHASE_SEQ_STRIDE
    count = int(rate * (duration + 3)) + 2 * QUEUEING_RATE * 10
    fire_seconds = await clarion.fire(action, first, count)
    await clarion.throttle(sink.url, rate, uid)
    updated_at = time.time()
    arrivals = await wait_arrivals(
        sink, first, count, timeout=duration + 180, not_before=updated_at + count / rate + 0.5
    )
    start = updated_at + 1.0
    measured = [at for at, _ in arrivals if start <= at < start + duration]
    achieved = len(measured) / duration
    busiest = max_in_window(measured, WINDOW)
    row = {
        "rate": rate,
        "calls": count,
        "queued_in_s": round(fire_seconds, 2),
        "achieved_per_s": round(achieved, 1),
        "error_pct": round(100 * (achieved - rate) / rate, 3),
        "busiest_100ms": busiest,
        "busiest_pct_of_share": round(100 * busiest / (rate * WINDOW), 1),
        **order_stats([seq for _, seq in arrivals], first, count),
    }
    return uid, row


async def fifo_phase(
    clarion: Clarion, sink: HttpSink, action: str, uid: str | None, calls: int, index: int
) -> dict[str, Any]:
    """Queue ``calls`` at 200/s, raise to 5,000/s, time the change, check every call once and in order."""
    uid = await clarion.throttle(sink.url, 200, uid)
    await asyncio.sleep(1.2)
    first = index * PHASE_SEQ_STRIDE
    fire_seconds = await clarion.fire(action, first, calls)
    updated_at = time.time()
    await clarion.throttle(sink.url, 5000, uid)
    arrivals = await wait_arrivals(
        sink, first, calls, timeout=calls / 5000 + 180, not_before=updated_at + calls / 5000 + 0.5
    )
    times = [at for at, _ in arrivals]
    # The new rate shows when a 100 ms window after the update holds at least 90 % of 500 calls.
    effective = next(
        (
            at - updated_at
            for i, at in enumerate(times)
            if at >= updated_at and sum(1 for t in times[i : i + 600] if t < at + WINDOW) >= 450
        ),
        None,
    )
    return {
        "calls": calls,
        "queued_in_s": round(fire_seconds, 2),
        "update_effective_after_s": None if effective is None else round(effective, 3),
        **order_stats([seq for _, seq in arrivals], first, calls),
    }


async def unthrottled_ceiling(clarion: Clarion, sink: HttpSink, action: str, calls: int, index: int) -> float:
    """Calls/s Clarion sends to the sink with no throttling configuration."""
    first = index * PHASE_SEQ_STRIDE
    await clarion.fire(action, first, calls)
    arrivals = await wait_arrivals(sink, first, calls, timeout=300)  # no pacing measured here
    times = [at for at, _ in arrivals]
    return len(times) / max(times[-1] - times[0], 1e-9)


async def measure(options: argparse.Namespace, work: Path) -> dict[str, Any]:
    """All phases on one production instance."""
    backend = production_backend(work)
    backend.env["CLARION_CUSTOM_ACTION_ANY_PORT"] = "1"
    sink = HttpSink(work)
    port = free_port()
    backend.env["CLARION_SERVE_WORKER"] = "0"  # the API process only takes events; two workers send
    api = serve(backend, port=port, workers=1)
    workers = [
        Service(f"clarion-worker-{n}", [CLARION, "worker"], env=backend.env, log_dir=work).start()
        for n in (1, 2)
    ]
    meter = CpuMeter(
        {
            "api": api.pids,
            "workers": lambda: [pid for worker in workers for pid in worker.pids()],
            "sink": sink.service.pids,
        }
    )
    try:
        tenant = await asyncio.to_thread(create_tenant, backend, name="Throttle Bench")
        clarion = Clarion(f"http://127.0.0.1:{port}", tenant)
        action = await clarion.action(sink.url)
        quiet = wait_for_quiet(max_wait=options.quiet_wait)
        ceiling = await sink_ceiling(sink.url, 5.0)
        unthrottled = await unthrottled_ceiling(clarion, sink, action, options.baseline_calls, 1)
        rows, uid = [], None
        for index, rate in enumerate(options.rates, start=2):
            before = meter.sample()
            uid, row = await rate_phase(clarion, sink, action, uid, rate, index, options.duration)
            usage = meter.usage(before, meter.sample())
            row.update(
                api_cpu_pct=round(usage.percent("api")),
                workers_cpu_pct=round(usage.percent("workers")),
                sink_cpu_pct=round(usage.percent("sink")),
                machine_cpu_pct=round(usage.machine_percent),
            )
            rows.append(row)
            console.print(row)
        fifo = await fifo_phase(clarion, sink, action, uid, options.fifo_calls, len(options.rates) + 2)
        console.print(fifo)
        await clarion.http.aclose()
    finally:
        for worker in workers:
            worker.stop()
        api.stop()
        sink.service.stop()
        backend.cleanup()
    return {
        "quiet": quiet,
        "sink_ceiling_per_s": round(ceiling),
        "clarion_unthrottled_per_s": round(unthrottled),
        "rates": rows,
        "fifo": fifo,
    }


def report(result: dict[str, Any], duration: float) -> Targets:
    """Print the tables; the target checks."""
    console.print(
        table(
            "bench.throttle — baselines (same run)",
            ["what", "calls/s"],
            [
                ["sink ceiling (bare aiohttp client, 64 in flight)", result["sink_ceiling_per_s"]],
                ["Clarion, no throttling configuration", result["clarion_unthrottled_per_s"]],
            ],
        )
    )
    columns = [
        "rate",
        "achieved/s",
        "error %",
        "busiest 100 ms",
        "% of share",
        "lost",
        "dup",
        "inversions",
        "max displ.",
        "API CPU%",
        "workers CPU%",
        "sink CPU%",
        "machine CPU%",
    ]
    rows = [
        [
            r["rate"],
            r["achieved_per_s"],
            r["error_pct"],
            r["busiest_100ms"],
            r["busiest_pct_of_share"],
            r["lost"],
            r["duplicated"],
            r["inversions"],
            r["max_displacement"],
            r["api_cpu_pct"],
            r["workers_cpu_pct"],
            r["sink_cpu_pct"],
            r["machine_cpu_pct"],
        ]
        for r in result["rates"]
    ]
    console.print(
        table(f"bench.throttle — rate over {duration:g} s (2 processes, Redis GCRA)", columns, rows)
    )
    fifo = result["fifo"]
    console.print(
        table(
            "bench.throttle — 100,000 queued at once, rate raised 200 → 5,000/s",
            ["calls", "queued in s", "new rate after s", "lost", "dup", "inversions", "max displ."],
            [
                [
                    fifo["calls"],
                    fifo["queued_in_s"],
                    fifo["update_effective_after_s"],
                    fifo["lost"],
                    fifo["duplicated"],
                    fifo["inversions"],
                    fifo["max_displacement"],
                ]
            ],
        )
    )
    targets = Targets()
    for r in result["rates"]:
        targets.check(f"rate {r['rate']}: |error| %", abs(r["error_pct"]), 1.0, at_least=False, unit=" %")
        targets.check(
            f"rate {r['rate']}: busiest 100 ms, % of share",
            r["busiest_pct_of_share"],
            110.0,
            at_least=False,
            unit=" %",
        )
        targets.check(f"rate {r['rate']}: lost + duplicated", r["lost"] + r["duplicated"], 0, at_least=False)
    targets.check("fifo: lost + duplicated", fifo["lost"] + fifo["duplicated"], 0, at_least=False)
    effective = fifo["update_effective_after_s"]
    targets.check(
        "update: new rate within s", 99.0 if effective is None else effective, 1.0, at_least=False, unit=" s"
    )
    console.print(targets.render())
    return targets


def main(argv: Sequence[str] | None = None) -> None:
    """Parse options, run, print, write ``bench/results/throttle.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="200,1000,5000", help="maxThroughput values (comma-separated)")
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds per rate")
    parser.add_argument("--fifo-calls", type=int, default=100_000)
    parser.add_argument("--baseline-calls", type=int, default=20_000)
    add_run_options(parser, output="throttle")
    options = parser.parse_args(argv)
    options.rates = [int(rate) for rate in options.rates.split(",")]
    load_start = loadavg()
    with workdir("throttle", keep=options.keep) as work:
        result = asyncio.run(measure(options, work))
    targets = report(result, options.duration)
    path = write_results(
        options.output,
        {
            "benchmark": "throttle",
            "settings": dict(vars(options).items()),
            "machine": machine_info(),
            "code": code_version(),
            "loadavg": {"start": load_start, "end": loadavg()},
            "result": result,
            "targets": targets.checks,
        },
    )
    console.print(f"[dim]results written to {path}[/dim]")


if __name__ == "__main__":
    main()
