"""Crash recovery under load: SIGKILL the worker, the API and (production) Redis in the middle of a bounded
high-throughput load against a real SMTP server; count what was acknowledged, delivered, lost and
duplicated, and how late the kills made messages.

Per mode (embedded = SQLite + embedded queue; production = a fresh PostgreSQL database + a Redis server this
benchmark starts itself on a free port, with ``appendonly yes`` and ``--appendfsync``, default ``always``):

1. Processes: the capture sink (``bench.capture_sink``: Clarion's aiosmtpd capture server filing every
   message with its arrival time; it takes ``--sink-delay-ms`` to accept each, like a remote relay, so
   that a kill catches messages in flight), ``clarion serve`` (the API; like every ``serve`` by default
   it also runs a queue worker in the same process) and one ``clarion worker`` (a worker process only).
   So "the worker" is the ``clarion worker`` process, and "the API" is the ``serve`` process: killing it
   kills an intake and a worker at once, the default single-box topology. Both modes run the same
   topology (the embedded queue is a SQLite file shared by the processes). Through the API: an IP pool
   pointing at the sink, an HT channel configuration and a Live HT campaign (the 2.6 KB sample email; the
   subject carries the message's own order number, so every message is identified at the sink).
2. Baseline: ``--rate`` requests/s of ``POST /ajo/im/executions/highthroughput`` for
   ``--baseline-seconds`` (an async aiohttp client at a fixed rate; one recipient each), no fault; drain.
3. Faults: the same load for ``--fault-seconds``; at the times of ``--kills`` the named process is
   SIGKILLed (with its descendants) and started again at once. A request that does not get its 202 (the
   API down, Redis down) is sent again with the same ``x-request-id`` (after 0.25 s, doubling up to 1 s)
   until it does (a replay
   is stored once: the queue's ``unique_for``), until ``--give-up`` s after the load. Drain.
4. Counts per phase: acknowledged (requests that got a 202), delivered (distinct messages at the sink),
   lost (acknowledged and never delivered: must be 0), duplicated (sink receipts - distinct), the ledger's
   ``sent`` rows (a duplicate is still one row), and the delay of every acknowledged message, from its 202
   to its first arrival at the sink: max and p99, in the baseline and with faults; per kill, the longest
   delay of the messages accepted from 2 s before it until 2 s before the next one, the longest gap
   between two 202s (how long intake was unavailable), and the messages the killed process had sent but
   not yet recorded, which a surviving worker sends again once their lease lapses (how many, how long
   after the kill: the redelivery time).

Redelivery after a kill takes about ``CLARION_QUEUE_LEASE_SECONDS`` (6 s by default): the killed process's
reserved jobs are taken over by the surviving worker once their lease, no longer renewed, lapses.
``--appendfsync always``: Redis writes and fsyncs its AOF before it answers, so an acknowledged enqueue
survives a SIGKILL of Redis whatever the disk's speed (with ``everysec`` a SIGKILL loses nothing either as
long as Redis's write() is not postponed behind a slow background fsync, which it may be for up to 2 s; a
power loss can lose ~1 s). The cost of ``always`` at this rate is one fsync per Redis event-loop turn.

Usage: .venv/bin/python -m bench.faults [--modes embedded,production] [--rate 150] [--baseline-seconds 15]
       [--fault-seconds 36] [--kills worker@6,api@16,redis@26] [--appendfsync always] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import re
import signal
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import redis

from bench.kit.backends import REDIS_URL, Backend, make_backend
from bench.kit.instance import HT_PATH, Tenant, create_tenant, ledger_counts, provision_over_http, serve
from bench.kit.paths import CLARION
from bench.kit.processes import Service, free_port, tree_pids, wait_http
from bench.kit.report import Targets, code_version, console, table
from bench.kit.runner import add_run_options, option_parser, run_modes
from bench.kit.sinks import Sink
from bench.kit.workload import ht_body
from clarion.devsmtp.outbox import Outbox

RETRY_PAUSE, RETRY_PAUSE_MAX = 0.25, 1.0
"""Seconds between two tries of a request that did not get its 202 (doubling up to the max)."""
REDELIVERY_TARGET = 10.0
"""Issue 12: a killed worker's messages are delivered within 10 s."""
ORDER = re.compile(r"ORD-2024-(\d+)")
"""The order number in a message's subject: the index of its request."""
FAULT_OFFSET = 500_000
"""Indexes of the fault phase's requests start here (the baseline's at 0): one sink, two phases."""


@dataclass
class Request:
    """One HT request of the load and what happened to it."""

    index: int
    first_sent: float = 0.0
    accepted_at: float | None = None
    tries: int = 0
    failures: Counter[int] = field(default_factory=Counter)
    """Statuses of the tries that did not get a 202 (0: no answer: connection refused, reset, timeout)."""


@dataclass
class Event:
    """One kill and restart."""

    target: str
    at: float
    killed_at: float = 0.0
    ready_at: float = 0.0


class Cluster:
    """The processes of one mode: sink, Redis (production), ``clarion serve`` and one ``clarion worker``."""

    def __init__(self, kind: str, folder: Path, args: argparse.Namespace) -> None:
        self.kind = kind
        self.folder = folder
        self.args = args
        self.outbox_path = folder / "captured"
        sink_args = ["--outbox", str(self.outbox_path), "--delay-ms", str(args.sink_delay_ms)]
        self.sink = Sink(folder, name="capture-sink", module="bench.capture_sink", args=sink_args)
        self.redis: Service | None = None
        self.redis_url = ""
        self.backend: Backend | None = None
        self.api: Service | None = None
        self.worker: Service | None = None
        self.api_port = free_port()

    @property
    def base(self) -> str:
        """The API's URL."""
        return f"http://127.0.0.1:{self.api_port}"

    def start(self) -> Tenant:
        """Start everything and provision the campaign; the tenant and its campaign id."""
        self.sink.start()
        if self.kind == "production":
            self.redis = self._redis_service()
            self._start_redis()
        self.backend = make_backend(self.kind, self.folder, redis_url=self.redis_url or REDIS_URL)
        tenant = create_tenant(self.backend)
        self.api = serve(self.backend, port=self.api_port, workers=1)
        self.worker = Service(
            "clarion-worker", [CLARION, "worker"], env=self.backend.env, log_dir=self.folder
        )
        self._start_worker()
        return tenant

    def _redis_service(self) -> Service:
        port = free_port()
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        data = self.folder / "redis"
        data.mkdir()
        argv = [
            "redis-server",
            *("--port", str(port), "--bind", "127.0.0.1", "--dir", str(data)),
            *("--appendonly", "yes", "--appendfsync", self.args.appendfsync, "--save", ""),
        ]
        return Service("redis", argv, env=os.environ, log_dir=self.folder)

    def _start_redis(self) -> None:
        assert self.redis is not None
        self.redis.start()
        client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=1)
        deadline = time.monotonic() + 30
        try:
            while True:
                try:
                    if client.ping():
                        return
                except (redis.exceptions.ConnectionError, redis.exceptions.BusyLoadingError):
                    pass
                if time.monotonic() > deadline or not self.redis.alive():
                    raise RuntimeError(f"redis did not start:\n{self.redis.log_tail()}")
                time.sleep(0.05)
        finally:
            client.close()

    def _start_worker(self) -> None:
        assert self.worker is not None
        since = self.worker.log_size()
        self.worker.start().wait_for_log("worker running", timeout=60, since=since)

    def _start_api(self) -> None:
        assert self.api is not None
        self.api.start()
        wait_http(f"{self.base}/healthz", service=self.api)

    def kill_and_restart(self, target: str) -> tuple[float, float]:
        """SIGKILL ``target`` (``worker``, ``api`` or ``redis``) and its descendants, start it again, wait
        until it is ready; (killed at, ready at) on the wall clock."""
        service, restart = {
            "worker": (self.worker, self._start_worker),
            "api": (self.api, self._start_api),
            "redis": (self.redis, self._start_redis),
        }[target]
        if service is None or service.process is None:
            raise RuntimeError(f"no {target} to kill in {self.kind} mode")
        for pid in tree_pids(service.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        killed_at = time.time()
        service.process.wait(10)
        restart()
        return killed_at, time.time()

    def stop(self) -> dict[str, int]:
        """Stop every process (gracefully), clean the backend up; the sink's last counters."""
        for service in (self.worker, self.api):
            if service is not None:
                service.stop()
        counters = self.sink.stop()
        if self.backend is not None:
            self.backend.cleanup()
        if self.redis is not None:
            self.redis.stop()
        return counters


async def send_load(
    base: str, tenant: Tenant, campaign: str, indexes: Sequence[int], rate: float, give_up_at: float
) -> list[Request]:
    """Send one request per index at ``rate``/s; each is retried until its 202 or ``give_up_at``.

    aiohttp, not httpx: while the API is down, hundreds of requests retry at once, and httpx resolves the
    host in the loop's default executor for every new connection (the retries queued behind each other);
    aiohttp caches the resolution and costs ~20 times less CPU a request (``bench.http_clients``).
    """
    requests = [Request(index) for index in indexes]
    headers = {"Content-Type": "application/json", **tenant.headers()}
    connector = aiohttp.TCPConnector(limit=256)
    timeout = aiohttp.ClientTimeout(total=10.0)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as client:
        start = time.monotonic()
        tasks = []
        for n, request in enumerate(requests):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # the load's schedule
            tasks.append(asyncio.create_task(_send(client, headers, campaign, request, give_up_at)))
        await asyncio.gather(*tasks)
    return requests


async def _send(
    client: aiohttp.ClientSession,
    headers: dict[str, str],
    campaign: str,
    request: Request,
    give_up_at: float,
) -> None:
    body = json.dumps(ht_body(campaign, request.index), separators=(",", ":")).encode()
    request_headers = {**headers, "x-request-id": f"faults-{request.index}"}
    request.first_sent = time.time()
    pause = RETRY_PAUSE
    while True:
        request.tries += 1
        try:
            async with client.post(HT_PATH, data=body, headers=request_headers) as response:
                status = response.status
                await response.read()
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        if status == 202:
            request.accepted_at = time.time()
            return
        request.failures[status] += 1
        if (400 <= status < 500 and status != 429) or time.time() > give_up_at:
            return
        await asyncio.sleep(pause)  # the client's backoff
        pause = min(pause * 2, RETRY_PAUSE_MAX)


async def kill_on_schedule(cluster: Cluster, events: list[Event], start: float) -> None:
    """Kill and restart each event's target at its time (seconds after ``start``, wall clock), in a thread
    of its own (never queued behind the client's work in the loop's default executor)."""
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="faults") as killer:
        for event in events:
            await asyncio.sleep(max(0.0, start + event.at - time.time()))  # the fault's schedule
            event.killed_at, event.ready_at = await loop.run_in_executor(
                killer, cluster.kill_and_restart, event.target
            )


def arrivals(outbox_path: Path) -> dict[int, list[float]]:
    """Arrival times (epoch s) at the sink of each request index's messages."""
    outbox = Outbox(outbox_path)
    seen: dict[int, list[float]] = {}
    for mail in outbox.list(limit=outbox.count()):
        match = ORDER.search(mail.subject)
        if match is not None:
            seen.setdefault(int(match.group(1)), []).append(mail.received_at.timestamp())
    return seen


def drain(cluster: Cluster, requests: Sequence[Request], timeout: float) -> dict[int, list[float]]:
    """Wait until every acknowledged request's message is at the sink (or ``timeout``); then 2 s more for
    late duplicates. The arrivals of this phase's indexes."""
    wanted = {r.index for r in requests if r.accepted_at is not None}
    indexes = {r.index for r in requests}
    deadline = time.monotonic() + timeout
    while True:
        seen = arrivals(cluster.outbox_path)
        missing = wanted - seen.keys()
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    time.sleep(2.0)  # a duplicate redelivered late shows up in the recount
    return {index: times for index, times in arrivals(cluster.outbox_path).items() if index in indexes}


def phase_result(requests: Sequence[Request], seen: dict[int, list[float]]) -> dict[str, Any]:
    """Counts and delays of one phase (``_delays``: each delivered acknowledged message's delay)."""
    accepted = {r.index: r.accepted_at for r in requests if r.accepted_at is not None}
    delay_by_index = {index: min(seen[index]) - at for index, at in accepted.items() if index in seen}
    delays = list(delay_by_index.values())
    from_first_send = [
        min(seen[r.index]) - r.first_sent for r in requests if r.index in accepted and r.index in seen
    ]
    receipts = sum(len(times) for times in seen.values())
    failures: Counter[int] = Counter()
    for r in requests:
        failures.update(r.failures)
    return {
        "sent_requests": len(requests),
        "acknowledged": len(accepted),
        "delivered": len(seen),
        "lost": sum(1 for index in accepted if index not in seen),
        "duplicated": receipts - len(seen),
        "never_acknowledged": len(requests) - len(accepted),
        "failed_tries_by_status": {str(k): v for k, v in sorted(failures.items())},
        "delay_max_s": round(max(delays, default=0.0), 3),
        "delay_p99_s": round(_percentile(delays, 0.99), 3),
        "delay_p50_s": round(_percentile(delays, 0.50), 3),
        "delay_from_first_send_max_s": round(max(from_first_send, default=0.0), 3),
        "_delays": delay_by_index,
    }


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[max(0, int(q * 1000) - 1)]


def per_kill(
    events: Sequence[Event],
    requests: Sequence[Request],
    delays: dict[int, float],
    seen: dict[int, list[float]],
    start: float,
) -> list[dict[str, Any]]:
    """For each kill: the messages accepted from 2 s before it to 2 s before the next one (their longest
    delay, how many were late, the longest gap between two 202s), and the messages the killed process had
    sent but not yet recorded, sent again by a surviving worker (how many, and how long after the kill)."""
    out = []
    for n, event in enumerate(events):
        begin = event.killed_at - 2.0
        end = events[n + 1].killed_at - 2.0 if n + 1 < len(events) else float("inf")
        window = sorted(
            (r.accepted_at, r.index)
            for r in requests
            if r.accepted_at is not None and begin <= r.accepted_at < end
        )
        accepted_times = [at for at, _ in window]
        gaps = [b - a for a, b in itertools.pairwise(accepted_times)]
        window_delays = [delays[index] for _, index in window if index in delays]
        # A message on the wire when the process died arrives up to the sink's delay after the kill; a
        # second copy (sent by a survivor once the lease lapsed) comes at least a second later.
        cut = event.killed_at + 1.0
        next_cut = events[n + 1].killed_at + 1.0 if n + 1 < len(events) else float("inf")
        resent = [
            later - event.killed_at
            for times in seen.values()
            if min(times) < cut
            for later in sorted(times)[1:]
            if cut <= later < next_cut
        ]
        out.append(
            {
                "target": event.target,
                "scheduled_at_s": event.at,
                "killed_at_s": round(event.killed_at - start, 2),
                "restart_ready_s": round(event.ready_at - event.killed_at, 2),
                "messages_in_window": len(window),
                "max_delay_s": round(max(window_delays, default=0.0), 3),
                "delayed_over_1s": sum(1 for delay in window_delays if delay > 1.0),
                "longest_202_gap_s": round(max(gaps, default=0.0), 3),
                "resent": len(resent),
                "resent_after_s": round(max(resent, default=0.0), 3),
            }
        )
    return out


def parse_kills(spec: str, kind: str) -> list[Event]:
    """``worker@6,api@16,redis@26`` → events (Redis kills only in production mode)."""
    events = []
    for item in spec.split(","):
        target, _, at = item.strip().partition("@")
        if target not in ("worker", "api", "redis"):
            raise SystemExit(f"--kills: unknown target {target!r} (worker, api or redis)")
        if target == "redis" and kind != "production":
            continue
        events.append(Event(target, float(at)))
    return sorted(events, key=lambda event: event.at)


def run(kind: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Baseline then faults on one cluster."""
    console.rule(
        f"[bold]faults — {kind} ({args.rate:g}/s, baseline {args.baseline_seconds:g} s,"
        f" faults {args.fault_seconds:g} s)"
    )
    folder = work / kind
    folder.mkdir()
    cluster = Cluster(kind, folder, args)
    result: dict[str, Any] = {
        "code": code_version(),
        "topology": "clarion serve (API + worker) + clarion worker",
    }
    try:
        tenant = cluster.start()
        assert cluster.backend is not None
        result["backend"] = cluster.backend.describe()
        if kind == "production":
            result["redis"] = {"appendonly": "yes", "appendfsync": args.appendfsync, "url": cluster.redis_url}
        campaign = provision_over_http(cluster.base, tenant, smtp_port=cluster.sink.port)
        result["baseline"] = _phase(
            cluster, tenant, campaign, args, offset=0, seconds=args.baseline_seconds, events=[]
        )
        events = parse_kills(args.kills, kind)
        result["faults"] = _phase(
            cluster, tenant, campaign, args, offset=FAULT_OFFSET, seconds=args.fault_seconds, events=events
        )
        result["ledger"] = ledger_counts(cluster.backend.database_url)
    finally:
        result["sink"] = cluster.stop()
    return result


def _phase(
    cluster: Cluster,
    tenant: Tenant,
    campaign: str,
    args: argparse.Namespace,
    *,
    offset: int,
    seconds: float,
    events: list[Event],
) -> dict[str, Any]:
    name = "faults" if events else "baseline"
    count = int(args.rate * seconds)
    console.print(f"  {name}: {count:,} requests at {args.rate:g}/s …")

    async def load_and_faults() -> list[Request]:
        start = time.time()
        give_up_at = start + seconds + args.give_up
        indexes = range(offset, offset + count)
        load = asyncio.create_task(send_load(cluster.base, tenant, campaign, indexes, args.rate, give_up_at))
        if events:
            await kill_on_schedule(cluster, events, start)
        return await load

    start = time.time()
    requests = asyncio.run(load_and_faults())
    load_s = time.time() - start
    seen = drain(cluster, requests, args.drain_timeout)
    result = phase_result(requests, seen)
    delays = result.pop("_delays")
    result["kills"] = per_kill(events, requests, delays, seen, start)
    result["load_s"] = round(load_s, 1)
    for kill in result["kills"]:
        console.print(
            f"  killed {kill['target']} at +{kill['killed_at_s']:.1f} s, ready again"
            f" {kill['restart_ready_s']:.1f} s later; {kill['resent']} messages sent again"
        )
    console.print(
        f"  {name}: acknowledged {result['acknowledged']:,}, delivered {result['delivered']:,},"
        f" lost {result['lost']}, duplicated {result['duplicated']}, max delay {result['delay_max_s']:.2f} s"
    )
    return result


def report(results: dict[str, Any]) -> Targets:
    """The table and the targets."""
    targets = Targets()
    done = {kind: r for kind, r in results["modes"].items() if "faults" in r}
    columns = ["", *(f"{kind} {phase}" for kind in done for phase in ("baseline", "faults"))]
    metrics: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
        ("requests sent", lambda p: p["sent_requests"]),
        ("acknowledged (202)", lambda p: p["acknowledged"]),
        ("never acknowledged", lambda p: p["never_acknowledged"]),
        ("delivered (distinct at the sink)", lambda p: p["delivered"]),
        ("LOST (acknowledged - delivered)", lambda p: p["lost"]),
        ("duplicated (receipts - distinct)", lambda p: p["duplicated"]),
        ("delay 202 → sink p50 s", lambda p: p["delay_p50_s"]),
        ("delay 202 → sink p99 s", lambda p: p["delay_p99_s"]),
        ("delay 202 → sink MAX s", lambda p: p["delay_max_s"]),
        ("delay first try → sink max s", lambda p: p["delay_from_first_send_max_s"]),
        (
            "failed tries by status",
            lambda p: ", ".join(f"{k}: {v}" for k, v in p["failed_tries_by_status"].items()) or "-",
        ),
    ]
    rows = [
        [name, *(value(r[phase]) for r in done.values() for phase in ("baseline", "faults"))]
        for name, value in metrics
    ]
    console.print(
        table("faults", columns, rows, caption="delay = first arrival at the sink - the request's 202")
    )
    kill_rows = []
    for kind, r in done.items():
        for kill in r["faults"]["kills"]:
            kill_rows.append(
                [
                    f"{kind}: {kill['target']} @ {kill['killed_at_s']:.1f} s",
                    kill["restart_ready_s"],
                    kill["longest_202_gap_s"],
                    kill["messages_in_window"],
                    kill["delayed_over_1s"],
                    kill["max_delay_s"],
                    r["baseline"]["delay_max_s"],
                    kill["resent"],
                    kill["resent_after_s"] if kill["resent"] else None,
                ]
            )
            if kill["target"] in ("worker", "api"):
                targets.check(
                    f"{kind}: max delay after the {kill['target']} kill (s)",
                    kill["max_delay_s"],
                    REDELIVERY_TARGET,
                    at_least=False,
                )
                targets.check(
                    f"{kind}: redelivery after the {kill['target']} kill (s)",
                    kill["resent_after_s"],
                    REDELIVERY_TARGET,
                    at_least=False,
                )
        for phase in ("baseline", "faults"):
            targets.check(f"{kind} {phase}: lost", r[phase]["lost"], 0, at_least=False)
    console.print(
        table(
            "kills",
            [
                "kill",
                "restart → ready s",
                "longest gap between 202s s",
                "messages accepted in window",
                "of which delayed > 1 s",
                "max delay s",
                "baseline max delay s",
                "sent again (duplicates)",
                "sent again, s after the kill",
            ],
            kill_rows,
            caption="window: messages accepted from 2 s before the kill to 2 s before the next one; "
            "sent again: messages at the sink before the kill and again after it (sent, not yet recorded "
            "by the killed process, redelivered once its lease lapsed)",
        )
    )
    console.print(targets.render("faults targets"))
    return targets


def main(argv: list[str] | None = None) -> None:
    """Parse flags, run, print, write ``bench/results/faults.json``."""
    parser = option_parser(__doc__)
    parser.add_argument("--rate", type=float, default=150.0, help="HT requests per second")
    parser.add_argument("--baseline-seconds", type=float, default=15.0)
    parser.add_argument("--fault-seconds", type=float, default=36.0)
    parser.add_argument("--kills", default="worker@6,api@16,redis@26", help="TARGET@SECONDS, comma-separated")
    parser.add_argument(
        "--sink-delay-ms",
        type=float,
        default=50.0,
        help="the sink takes this long to accept a message, like a remote relay (so kills catch messages "
        "in flight)",
    )
    parser.add_argument("--appendfsync", choices=("always", "everysec"), default="always")
    parser.add_argument(
        "--give-up", type=float, default=30.0, help="s after the load a request stops retrying"
    )
    parser.add_argument("--drain-timeout", type=float, default=60.0)
    add_run_options(parser, output="faults", modes="embedded,production", quiet_wait=False)
    args = parser.parse_args(argv)
    settings = {
        "rate": args.rate,
        "baseline_seconds": args.baseline_seconds,
        "fault_seconds": args.fault_seconds,
        "kills": args.kills,
        "appendfsync": args.appendfsync,
        "sink_delay_ms": args.sink_delay_ms,
        "retry_pause_s": [RETRY_PAUSE, RETRY_PAUSE_MAX],
        "targets": {"lost": 0, "max_delay_after_worker_or_api_kill_s": REDELIVERY_TARGET},
    }
    run_modes("faults", args, settings, run, report)


if __name__ == "__main__":
    main()
