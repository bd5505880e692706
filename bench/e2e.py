"""End to end on one machine: wrk → ``POST /ajo/im/executions/highthroughput`` → queue → the embedded
worker of ``clarion serve`` → SMTP sink, then a drain and a zero-loss check.

1. A fresh backend, organization, credential (``clarion`` CLI; HT cap raised to 1,000,000/s by SQL), the
   fast sink (``bench.smtp_sink``), ``clarion serve`` (1 process embedded; ``--workers 2`` production),
   and through its API an IP pool pointing at the sink, an HT channel configuration and a Live HT campaign
   with the 2.6 KB sample email.
2. Load: ``wrk -t1 -c{--connections}`` for ``--duration`` seconds (default 60); the Lua ``response`` hook
   counts the 202s. The embedded worker delivers at the same time, in the same processes.
3. Drain: after wrk stops, the ledger (``messages``) is polled until it holds a final row for every request
   the server accepted (or ``--drain-timeout``).
4. Checks: the server's own count of 202s (``clarion_http_requests_total{status="202"}`` from
   ``/metrics``, summed over routes: only the HT endpoint answers 202 here; it also counts requests whose
   202 was still in flight when wrk stopped, so it may exceed wrk's count by at most the connection
   count) = ledger ``sent`` rows = messages the sink received.
   ``lost`` = accepted - sent; the sanity request sent before the load is included in both counts.

End-to-end rate = ledger ``sent`` / (time from the start of the load to the end of the drain).

Usage: .venv/bin/python -m bench.e2e [--modes embedded[,production]] [--duration 60] [--connections 64]
       [--embedded-workers 1] [--production-workers 2] [--drain-timeout 900] [--keep]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import httpx

from bench.kit.backends import make_backend
from bench.kit.cpu import CpuMeter, backend_pids, wait_for_quiet
from bench.kit.instance import (
    HT_PATH,
    create_tenant,
    final_count,
    ledger_counts,
    metric_total,
    provision_over_http,
    serve,
)
from bench.kit.load import require_wrk, run_wrk, write_wrk_script
from bench.kit.processes import Service, free_port
from bench.kit.report import Targets, code_version, console, table
from bench.kit.runner import add_run_options, option_parser, run_modes
from bench.kit.sinks import Sink
from bench.kit.workload import ht_body

RATE_TARGET = 3_000.0


def accepted_by_server(base: str) -> int:
    """202s counted by the server itself (summed over its processes); only the HT endpoint answers 202."""
    return int(metric_total(base, "clarion_http_requests_total", status="202"))


def run(kind: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """One end-to-end run; every count and rate."""
    workers = args.embedded_workers if kind == "embedded" else args.production_workers
    console.rule(
        f"[bold]e2e — {kind} (serve workers={workers}, wrk -c{args.connections}, {args.duration:g} s)"
    )
    folder = work / kind
    folder.mkdir()
    backend = make_backend(kind, folder)
    sink = Sink(folder).start()
    server: Service | None = None
    result: dict[str, Any] = {"backend": backend.describe(), "workers": workers, "code": code_version()}
    try:
        tenant = create_tenant(backend)
        port = free_port()
        server = serve(backend, port=port, workers=workers)
        base = f"http://127.0.0.1:{port}"
        campaign = provision_over_http(base, tenant, smtp_port=sink.port)
        body = json.dumps(ht_body(campaign), separators=(",", ":")).encode()
        sanity = httpx.post(
            base + HT_PATH,
            content=body,
            headers={"Content-Type": "application/json", **tenant.headers()},
            timeout=30,
        )
        if sanity.status_code != 202:
            raise RuntimeError(f"sanity request got {sanity.status_code}: {sanity.text}")
        script = write_wrk_script(folder / "post.lua", body, tenant.headers())
        meter = CpuMeter({"server": server.pids, "sink": sink.pids, "backend": backend_pids(kind)})
        result["quiet"] = wait_for_quiet(max_wait=args.quiet_wait)
        start = meter.sample()
        wrk = run_wrk(base + HT_PATH, script, connections=args.connections, duration=args.duration)
        load_end = meter.sample()
        at_load_end = ledger_counts(backend.database_url)
        sink_at_load_end = sink.count()
        accepted = accepted_by_server(base)
        console.print(
            f"  load: {wrk.accepted_per_s:,.0f} accepted/s"
            f" (wrk counted {wrk.accepted:,} 202s, server {accepted:,}),"
            f" p99 {wrk.p99_ms:.1f} ms; delivered during load {sink_at_load_end:,}; draining …"
        )
        deadline = time.monotonic() + args.drain_timeout
        counts = at_load_end
        while True:
            final = final_count(counts)
            if final >= accepted:
                break
            if not server.alive():
                raise RuntimeError(f"clarion serve exited:\n{server.log_tail()}")
            if time.monotonic() > deadline:
                console.print(f"[red]drain timeout: {final:,} of {accepted:,} final[/red]")
                break
            time.sleep(1.0)
            counts = ledger_counts(backend.database_url)
        drained = meter.sample()
        time.sleep(2.0)  # anything still arriving (a duplicate, a late ledger row) shows up in the recount
        counts = ledger_counts(backend.database_url)
        received = sink.count()
        accepted_after = accepted_by_server(base)
        load = CpuMeter.usage(start, load_end)
        drain = CpuMeter.usage(load_end, drained)
        whole = CpuMeter.usage(start, drained)
        sent = counts.get("sent", 0)
        result.update(
            {
                "wrk": wrk.as_dict(),
                "accepted_wrk": wrk.accepted + 1,  # + the sanity request
                "accepted_server": accepted_after,
                "ledger": counts,
                "ledger_at_load_end": at_load_end,
                "sink_received": received,
                "sink_at_load_end": sink_at_load_end,
                "lost": accepted_after - sent,
                "sink_minus_sent": received - sent,
                "load_s": round(load.wall, 2),
                "drain_s": round(drain.wall, 2),
                "total_s": round(whole.wall, 2),
                "e2e_per_s": round(sent / whole.wall, 1),
                "accepted_per_s_during_load": round(wrk.accepted_per_s, 1),
                "delivered_per_s_during_load": round(sink_at_load_end / load.wall, 1),
                "delivered_per_s_during_drain": round((received - sink_at_load_end) / drain.wall, 1)
                if drain.wall > 0
                else None,
                "cpu_load": load.as_dict(),
                "cpu_drain": drain.as_dict(),
                "cpu_total": whole.as_dict(),
                "server_cpu_us_per_msg": round(1e6 * whole.cpu["server"] / max(1, sent), 1),
                "sink_cpu_us_per_msg": round(1e6 * whole.cpu["sink"] / max(1, sent), 1),
                "backend_cpu_us_per_msg": round(1e6 * whole.cpu["backend"] / max(1, sent), 1),
                "wrk_cpu_us_per_msg": round(1e6 * wrk.cpu_s / max(1, sent), 1),
            }
        )
    finally:
        if server is not None and not server.alive():
            console.print(f"[red]clarion serve exited early[/red]\n{server.log_tail()}")
        if server is not None:
            server.stop()
        result["sink"] = sink.stop()
        backend.cleanup()
    return result


def report(results: dict[str, Any]) -> Targets:
    """The table and the targets."""
    targets = Targets()
    metrics = [
        ("accepted/s during load (wrk 202s)", lambda r: r["accepted_per_s_during_load"]),
        ("p50 / p99 latency ms", lambda r: f"{r['wrk']['p50_ms']:.1f} / {r['wrk']['p99_ms']:.1f}"),
        ("delivered/s during load", lambda r: r["delivered_per_s_during_load"]),
        ("delivered/s during drain", lambda r: r["delivered_per_s_during_drain"]),
        ("load s / drain s", lambda r: f"{r['load_s']:.1f} / {r['drain_s']:.1f}"),
        ("202s counted by wrk (+1 sanity)", lambda r: r["accepted_wrk"]),
        ("202s counted by the server", lambda r: r["accepted_server"]),
        ("ledger sent", lambda r: r["ledger"].get("sent", 0)),
        ("ledger other statuses", lambda r: sum(v for k, v in r["ledger"].items() if k != "sent")),
        ("sink received", lambda r: r["sink_received"]),
        ("lost (server 202s - sent)", lambda r: r["lost"]),
        ("END-TO-END msg/s (sent / (load + drain))", lambda r: r["e2e_per_s"]),
        ("server CPU-µs per message", lambda r: r["server_cpu_us_per_msg"]),
        ("sink CPU-µs per message", lambda r: r["sink_cpu_us_per_msg"]),
        ("redis+pg CPU-µs per message", lambda r: r["backend_cpu_us_per_msg"]),
        ("wrk CPU-µs per message", lambda r: r["wrk_cpu_us_per_msg"]),
        (
            "machine CPU% during load / drain",
            lambda r: (
                f"{r['cpu_load']['machine_busy_pct_of_one_core']:.0f} / "
                f"{r['cpu_drain']['machine_busy_pct_of_one_core']:.0f}"
            ),
        ),
    ]
    done = {kind: r for kind, r in results["modes"].items() if "e2e_per_s" in r}
    rows = [[name, *(value(r) for r in done.values())] for name, value in metrics]
    for kind, run_result in done.items():
        targets.check(f"{kind}: end-to-end messages/s", run_result["e2e_per_s"], RATE_TARGET)
        targets.check(f"{kind}: |accepted - sent| (lost)", abs(run_result["lost"]), 0, at_least=False)
        targets.check(
            f"{kind}: |sink - sent| (duplicates or unrecorded sends)",
            abs(run_result["sink_minus_sent"]),
            0,
            at_least=False,
        )
    settings = results["settings"]
    console.print(
        table(
            "e2e",
            ["", *(f"{kind} (serve workers={r['workers']})" for kind, r in done.items())],
            rows,
            caption=(
                f"wrk -t1 -c{settings['connections']} for {settings['duration']:g} s, then drain; "
                "e2e msg/s = ledger sent / (load + drain time); 202s include the one sanity request; "
                "server 202s come from /metrics."
            ),
        )
    )
    console.print(targets.render("e2e targets"))
    return targets


def main(argv: list[str] | None = None) -> None:
    """Parse flags, run, print, write ``bench/results/e2e.json``."""
    parser = option_parser(__doc__)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--production-workers", type=int, default=2)
    parser.add_argument("--embedded-workers", type=int, default=1, help="clarion serve --workers on SQLite")
    parser.add_argument("--drain-timeout", type=float, default=900.0)
    add_run_options(parser, output="e2e", modes="embedded")
    args = parser.parse_args(argv)
    require_wrk()
    settings = {
        "duration": args.duration,
        "connections": args.connections,
        "wrk_threads": 1,
        "production_workers": args.production_workers,
        "embedded_workers": args.embedded_workers,
        "targets": {"e2e_per_s": RATE_TARGET, "lost": 0},
    }
    run_modes("e2e", args, settings, run, report)


if __name__ == "__main__":
    main()
