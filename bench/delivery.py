"""Delivery throughput: queued HT messages delivered by ``clarion worker`` to a fast SMTP sink, next to a
bare aiosmtplib baseline in the same run.

Per backend mode:

1. a fresh backend (embedded SQLite + embedded queue, or a fresh PostgreSQL database + Redis db 9), an
   organization and credential from the ``clarion`` CLI, and — through the HTTP API of an in-process app
   (``create_app`` without background services, ``httpx.ASGITransport``) — an IP pool pointing at the sink
   (``--connections`` persistent connections, default 16), an HT channel configuration and an HT campaign
   with the 2.6 KB sample email (10 ``{{context.*}}`` variables, one ``{{#each}}``, two ``{{#if}}``);
2. ``--messages`` jobs (default 100,000) built with ``clarion.executions.service.delivery_job`` — exactly
   what the HT endpoint enqueues for a 1-recipient request — and enqueued with the app's own queue in
   batches of 1,000, BEFORE any worker runs;
3. ``clarion worker`` (a subprocess, default concurrency) runs until the ledger (``messages``) holds one
   final row per message; the ledger is polled every 0.5 s together with the worker's CPU (``/proc``).
   Reported: messages/s over the whole run (from spawn) and over the steady window (from 5 % of the
   messages to the end, so interpreter start-up and the first connections are excluded), and CPU-µs
   per delivered message of the worker process (and of the sink) in that window;
4. baseline: one process, the same number of persistent aiosmtplib connections to the same sink, sending
   the same count of pre-built messages (one message rendered by Clarion's template + MIME code), on
   uvloop like ``clarion worker`` (the ratio is taken to this row; a row on the stdlib loop for reference).
   Its CPU is this process's ``time.process_time``.

Targets: ≤ 250 CPU-µs per delivered message (≥ 4,000/s per worker core), ≥ 0.8 of the baseline's rate.

Variants (``--variants off,clicks``): the same backend, sink and job count, one campaign per variant, each
variant's jobs enqueued and delivered after the previous one's; a variant names the delivery features it
switches on, joined by ``+`` (``off`` = none): ``clicks`` = click tracking (every link of the sample email
rewritten to a signed redirect, ``FEATURES``). Reported per variant: its worker CPU-µs per message and the
ratio to the first variant's (target ≤ 1.15 with the features on; the ledger grows from run to run, so compare
both orders: ``--variants clicks,off``). A new switch is one ``Feature`` entry
(campaign fields and/or a set-up step before its jobs are enqueued).

The sink offers PIPELINING and CHUNKING, as Postfix does, so Clarion sends each message in one round trip;
``--plain-sink`` takes them away (one command at a time, like the aiosmtplib baseline always does).

Usage: .venv/bin/python -m bench.delivery [--modes embedded[,production]] [--messages 100000]
       [--connections 16] [--concurrency N] [--timeout 900] [--plain-sink] [--variants off,clicks]
       [--profile] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.kit.backends import Backend, make_backend
from bench.kit.cpu import CpuMeter, backend_pids, wait_for_quiet
from bench.kit.instance import create_tenant, final_count, ledger_counts_async, provision_campaign
from bench.kit.paths import CLARION
from bench.kit.processes import Service, run_clarion
from bench.kit.profiling import Profiler, print_profile, summarize_profile
from bench.kit.report import Targets, code_version, console, table
from bench.kit.runner import add_run_options, option_parser, run_modes
from bench.kit.sinks import Sink
from bench.kit.workload import SUBJECT, TEMPLATE_HTML, context

CPU_TARGET_US = 250.0
RATIO_TARGET = 0.8
OVERHEAD_TARGET = 1.15
"""A variant's worker CPU-µs per message over the first variant's (suppression check + click tracking)."""
ENQUEUE_BATCH = 1000


@dataclass(frozen=True)
class Feature:
    """A delivery feature a variant switches on: campaign fields, and what to set up before its jobs."""

    help: str
    campaign: Mapping[str, Any] = field(default_factory=dict)
    """Merged into the variant's campaign body (dicts merged one level deep)."""
    setup: Callable[[Backend, Any], None] | None = None
    """Called with the backend and the tenant before the variant's campaign is made (e.g. fill a list)."""


SUPPRESSED = 100_000
"""Entries the ``suppression`` feature puts on the sandbox's list (none of them a recipient of the run)."""


def fill_suppression_list(backend: Backend, tenant: Any) -> None:
    """``clarion suppressions import`` of ``SUPPRESSED`` addresses: the worker's cache then holds a list of
    that size and checks every recipient against it (a miss: the recipients must still be sent)."""
    path = backend.workdir / "suppressed.csv"
    lines = (f"nobody-{number}@suppressed.example" for number in range(SUPPRESSED))
    path.write_text("address\n" + "\n".join(lines) + "\n")
    run_clarion(["suppressions", "import", str(path), "--org", tenant.ims_org_id], backend.env, timeout=600)


FEATURES: dict[str, Feature] = {
    "clicks": Feature(
        "click tracking: the sample email's 2 links signed per message (delivery/channels/email/links.py)",
        campaign={"tracking": {"clicks": True}},
    ),
    "suppression": Feature(
        f"a suppression list of {SUPPRESSED:,} addresses the worker checks each recipient against "
        "(suppressions/cache.py; the check itself always runs, on an empty list without this)",
        setup=fill_suppression_list,
    ),
}


def parse_variants(text: str) -> list[tuple[str, ...]]:
    """``off,clicks+suppression`` → ``[(), ("clicks", "suppression")]``; unknown names are refused."""
    variants: list[tuple[str, ...]] = []
    for item in (part.strip() for part in text.split(",") if part.strip()):
        names = () if item == "off" else tuple(name.strip() for name in item.split("+"))
        unknown = [name for name in names if name not in FEATURES]
        if unknown:
            raise SystemExit(f"--variants: unknown feature {unknown[0]!r} (known: {', '.join(FEATURES)})")
        variants.append(names)
    return variants or [()]


def variant_name(features: Sequence[str]) -> str:
    """``off`` or the features joined by ``+``."""
    return "+".join(features) or "off"


def campaign_fields(features: Sequence[str]) -> dict[str, Any]:
    """The campaign body fields of a variant's features."""
    fields: dict[str, Any] = {}
    for name in features:
        for key, value in FEATURES[name].campaign.items():
            if isinstance(value, Mapping) and isinstance(fields.get(key), Mapping):
                fields[key] = {**fields[key], **value}
            else:
                fields[key] = value
    return fields


def settings_for(backend: Backend) -> Any:
    """Clarion ``Settings`` equal to what the backend's subprocesses read from their environment."""
    from clarion.config import Settings

    values = {
        key.removeprefix("CLARION_").lower(): value
        for key, value in backend.env.items()
        if key.startswith("CLARION_")
    }
    return Settings(**values, smtp_capture=False, feedback_smtp=False, auto_migrate=False)


async def prepare(
    backend: Backend,
    tenant: Any,
    *,
    smtp_port: int,
    messages: int,
    connections: int,
    campaign_id: str | None = None,
    features: Sequence[str] = (),
) -> dict[str, Any]:
    """Provision the campaign (with the variant's ``features``) through the API of an in-process app,
    enqueue the jobs; one sample message."""
    import httpx

    from clarion.app import create_app
    from clarion.executions import service
    from clarion.executions.schemas import ExecutionRequest, ExternalRecipient
    from clarion.kit.clock import iso_milli, utcnow
    from clarion.tenancy.principal import Role

    app = create_app(settings_for(backend))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        if campaign_id is None:
            async with httpx.AsyncClient(transport=transport, base_url="http://x", timeout=60) as client:
                campaign_id = await provision_campaign(
                    client,
                    tenant,
                    smtp_port=smtp_port,
                    max_connections=connections,
                    name=f"bench-{variant_name(features).replace('+', '-')}",  # names: no "+"
                    campaign_fields=campaign_fields(features),
                )
        container = app.state.container
        services = app.state.services
        headers = {key.lower(): value for key, value in tenant.headers().items()}
        principal = await services.gateway.authenticate(headers, role=Role.USER)
        snapshot = await services.executions.snapshot(principal, campaign_id)
        started = time.perf_counter()
        batch = []
        for index in range(messages):
            request = ExecutionRequest(
                requestId=f"bench-{index:08d}",
                campaignId=campaign_id,
                recipients=[
                    ExternalRecipient(
                        userId=f"ada.{index}@example.org", namespace="email", context=context(index)
                    )
                ],
            )
            batch.append(
                service.delivery_job(
                    principal,
                    request,
                    snapshot,
                    execution=str(uuid.uuid4()),
                    accepted_at=iso_milli(utcnow()),
                    profiles=None,
                    dedupe_seconds=0.0,
                )
            )
            if len(batch) == ENQUEUE_BATCH or index == messages - 1:
                await container.queue.enqueue(batch)
                batch = []
        enqueue_seconds = time.perf_counter() - started
        stats = await container.queue.stats()
    return {
        "campaign_id": campaign_id,
        "enqueue_seconds": round(enqueue_seconds, 2),
        "enqueue_per_s": round(messages / enqueue_seconds, 1),
        "queued_ready": stats.ready,
    }


def sample_message() -> bytes:
    """One message as Clarion renders it (compiled templates + MIME skeleton), for the baseline."""
    from clarion.delivery.channels.email.channel import skeleton_for
    from clarion.delivery.channels.email.html_text import html_to_text
    from clarion.templating import compile_template

    variables = {"context": context(0), "profile": {}}
    html = compile_template(TEMPLATE_HTML, autoescape=True).render(variables)
    text = compile_template(html_to_text(TEMPLATE_HTML), autoescape=False).render(variables)
    subject = compile_template(SUBJECT, autoescape=False).render(variables)
    skeleton = skeleton_for({"fromAddress": "news@shop.example", "fromName": "Example Shop"}, {})
    raw: bytes = skeleton.render(to="ada.0@example.org", subject=subject, html=html, text=text).raw
    return raw


async def run_worker(
    backend: Backend,
    sink: Sink,
    folder: Path,
    *,
    messages: int,
    already: int,
    concurrency: int | None,
    timeout: float,
    profile_seconds: float = 0.0,
    quiet_wait: float = 60.0,
) -> dict[str, Any]:
    """``clarion worker`` until ``already + messages`` final ledger rows (or the timeout); the timeline."""
    from clarion.db.engine import create_engine

    engine = create_engine(backend.database_url)
    argv = [CLARION, "worker"] + ([f"--concurrency={concurrency}"] if concurrency else [])
    worker = Service("clarion-worker", argv, env=backend.env, log_dir=folder)
    meter = CpuMeter(
        {"worker": lambda: worker.pids(), "sink": sink.pids, "backend": backend_pids(backend.kind)}
    )
    timeline: list[dict[str, Any]] = []
    profiler: Profiler | None = None
    quiet = wait_for_quiet(max_wait=quiet_wait)
    sink_before = sink.count()
    start = meter.sample()
    worker.start()
    deadline = time.monotonic() + timeout
    try:
        while True:
            await asyncio.sleep(0.5)
            counts = await ledger_counts_async(backend.database_url, engine)
            final = final_count(counts) - already
            sample = meter.sample()
            timeline.append({"sample": sample, "final": final, "counts": counts})
            if profile_seconds and profiler is None and final > 0:
                profiler = Profiler([worker.pid], seconds=profile_seconds, out_dir=folder, label="worker")
            if final >= messages:
                break
            if not worker.alive():
                raise RuntimeError(f"clarion worker exited:\n{worker.log_tail()}")
            if time.monotonic() > deadline:
                console.print(f"[red]timeout: {final:,} of {messages:,} final after {timeout:g} s[/red]")
                break
    finally:
        worker.stop()
        await engine.dispose()
    profile = summarize_profile(profiler.wait()) if profiler is not None else None
    end = timeline[-1]
    total = CpuMeter.usage(start, end["sample"])
    # Steady window: from the first poll at >= 5 % of the messages to the end.
    first = next((point for point in timeline if point["final"] >= 0.05 * messages), timeline[0])
    steady = CpuMeter.usage(first["sample"], end["sample"])
    steady_messages = end["final"] - first["final"]
    delivered = sink.count() - sink_before
    result: dict[str, Any] = {
        "messages": messages,
        "final_rows": end["final"],
        "ledger": end["counts"],
        "sink_received": delivered,
        "wall_s": round(total.wall, 2),
        "per_s_total": round(end["final"] / total.wall, 1),
        "worker_cpu_us_per_msg_total": round(1e6 * total.cpu["worker"] / max(1, end["final"]), 1),
        "steady_messages": steady_messages,
        "steady_wall_s": round(steady.wall, 2),
        "per_s_steady": round(steady_messages / steady.wall, 1) if steady.wall else 0.0,
        "worker_cpu_us_per_msg": round(1e6 * steady.cpu["worker"] / max(1, steady_messages), 1),
        "sink_cpu_us_per_msg": round(1e6 * steady.cpu["sink"] / max(1, steady_messages), 1),
        "backend_cpu_us_per_msg": round(1e6 * steady.cpu["backend"] / max(1, steady_messages), 1),
        "worker_cpu_pct": round(steady.percent("worker"), 1),
        "sink_cpu_pct": round(steady.percent("sink"), 1),
        "backend_cpu_pct": round(steady.percent("backend"), 1),
        "machine_cpu_pct": round(steady.machine_percent, 1),
        "others_cpu_pct": round(steady.machine_percent - sum(steady.percent(name) for name in steady.cpu), 1),
        "quiet": quiet,
        "cpu_total": total.as_dict(),
        "cpu_steady": steady.as_dict(),
        "timeline": [
            {"t": round(point["sample"].at - start.at, 2), "final": point["final"]}
            for point in timeline[:: max(1, len(timeline) // 60)]
        ],
    }
    if profile is not None:
        result["profile"] = profile
    return result


async def _baseline_send(port: int, raw: bytes, *, messages: int, connections: int) -> int:
    import aiosmtplib

    counter = 0

    async def one_connection() -> None:
        nonlocal counter
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, use_tls=False, timeout=30)
        await smtp.connect()
        while counter < messages:
            index = counter
            counter += 1
            await smtp.sendmail("news@shop.example", [f"ada.{index}@example.org"], raw)
        await smtp.quit()

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return counter


def run_baseline(
    sink: Sink, raw: bytes, *, messages: int, connections: int, loop: str, quiet_wait: float = 60.0
) -> dict[str, Any]:
    """The bare aiosmtplib loop in this process; CPU from ``process_time``, the sink's from ``/proc``."""
    meter = CpuMeter({"sink": sink.pids})
    quiet = wait_for_quiet(max_wait=quiet_wait)
    sink_before = sink.count()
    start, cpu0 = meter.sample(), time.process_time()
    coroutine = _baseline_send(sink.port, raw, messages=messages, connections=connections)
    if loop == "uvloop":
        import uvloop

        sent = uvloop.run(coroutine)
    else:
        sent = asyncio.run(coroutine)
    cpu = time.process_time() - cpu0
    usage = CpuMeter.usage(start, meter.sample())
    received = sink.count() - sink_before
    return {
        "loop": loop,
        "messages": sent,
        "sink_received": received,
        "wall_s": round(usage.wall, 2),
        "per_s": round(sent / usage.wall, 1),
        "client_cpu_us_per_msg": round(1e6 * cpu / sent, 1),
        "client_cpu_pct": round(100 * cpu / usage.wall, 1),
        "sink_cpu_us_per_msg": round(1e6 * usage.cpu["sink"] / sent, 1),
        "sink_cpu_pct": round(usage.percent("sink"), 1),
        "machine_cpu_pct": round(usage.machine_percent, 1),
        "others_cpu_pct": round(usage.machine_percent - usage.percent("sink") - 100 * cpu / usage.wall, 1),
        "quiet": quiet,
    }


def run_mode(kind: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Prepare, run the worker, run the baselines; clean up."""
    console.rule(f"[bold]delivery — {kind}")
    folder = work / kind
    folder.mkdir()
    backend = make_backend(kind, folder)
    sink = Sink(folder, extensions=not args.plain_sink).start()
    result: dict[str, Any] = {
        "backend": backend.describe(),
        "code": code_version(),
        "sink_offers": "neither PIPELINING nor CHUNKING" if args.plain_sink else "PIPELINING, CHUNKING",
    }
    try:
        tenant = create_tenant(backend)
        result["variants"] = {}
        already = 0
        for features in args.variants:
            name = variant_name(features)
            for feature in features:
                setup = FEATURES[feature].setup
                if setup is not None:
                    setup(backend, tenant)
            console.print(f"  {name}: enqueueing {args.messages:,} jobs …")
            prepared = asyncio.run(
                prepare(
                    backend,
                    tenant,
                    smtp_port=sink.port,
                    messages=args.messages,
                    connections=args.connections,
                    features=features,
                )
            )
            console.print(
                f"  {name}: enqueued in {prepared['enqueue_seconds']} s; running clarion worker"
                f" (concurrency {args.concurrency or 'default'})"
            )
            run = asyncio.run(
                run_worker(
                    backend,
                    sink,
                    folder,
                    messages=args.messages,
                    already=already,
                    concurrency=args.concurrency,
                    timeout=args.timeout,
                    quiet_wait=args.quiet_wait,
                )
            )
            already += run["final_rows"]
            run["prepare"] = prepared
            result["variants"][name] = run
            console.print(
                f"  {name}: clarion: {run['per_s_steady']:,.0f} msg/s steady ({run['per_s_total']:,.0f}"
                f" overall), worker {run['worker_cpu_us_per_msg']:.0f} CPU-µs/msg, sink got"
                f" {run['sink_received']:,}"
            )
        first = variant_name(args.variants[0])
        clarion = result["clarion"] = result["variants"][first]
        result["prepare"] = clarion["prepare"]
        base_cpu = clarion["worker_cpu_us_per_msg"]
        result["overhead"] = {
            name: round(run["worker_cpu_us_per_msg"] / base_cpu, 3) if base_cpu else None
            for name, run in result["variants"].items()
            if name != first
        }
        raw = sample_message()
        result["message_bytes"] = len(raw)
        result["baselines"] = []
        for loop in ("asyncio", "uvloop"):
            baseline = run_baseline(
                sink, raw, messages=args.messages, connections=args.connections, loop=loop
            )
            result["baselines"].append(baseline)
            console.print(
                f"  baseline ({loop}): {baseline['per_s']:,.0f} msg/s,"
                f" client {baseline['client_cpu_us_per_msg']:.0f} CPU-µs/msg"
            )
        if args.profile:
            more = args.profile_messages
            console.print(f"  profile run: {more:,} more jobs under py-spy (not reported as a measure)")
            asyncio.run(
                prepare(
                    backend,
                    tenant,
                    smtp_port=sink.port,
                    messages=more,
                    connections=args.connections,
                    campaign_id=result["prepare"]["campaign_id"],
                )
            )
            profiled = asyncio.run(
                run_worker(
                    backend,
                    sink,
                    folder,
                    messages=more,
                    already=already,
                    concurrency=args.concurrency,
                    timeout=args.timeout,
                    profile_seconds=args.profile_seconds,
                )
            )
            result["profile"] = profiled.get("profile")
    finally:
        result["sink"] = sink.stop()
        backend.cleanup()
    same_loop = {row["loop"]: row for row in result.get("baselines", [])}.get("uvloop", {})
    if "clarion" in result and same_loop.get("per_s"):
        result["ratio"] = round(result["clarion"]["per_s_steady"] / same_loop["per_s"], 3)
    return result


def report(results: dict[str, Any]) -> Targets:
    """The table per mode and the targets."""
    targets = Targets()
    rows = []
    for kind, mode in results["modes"].items():
        clarion = mode.get("clarion")
        variants = mode.get("variants") or ({"off": clarion} if clarion else {})
        for name, run in variants.items():
            rows.append(
                [
                    f"{kind}: clarion worker" + ("" if len(variants) == 1 else f" ({name})"),
                    run["final_rows"],
                    run["sink_received"],
                    run["per_s_steady"],
                    run["per_s_total"],
                    run["worker_cpu_us_per_msg"],
                    run["worker_cpu_pct"],
                    run["sink_cpu_us_per_msg"],
                    run["backend_cpu_us_per_msg"] if kind == "production" else None,
                    run["machine_cpu_pct"],
                    run["others_cpu_pct"],
                ]
            )
        for baseline in mode.get("baselines", []):
            rows.append(
                [
                    f"{kind}: baseline ({baseline['loop']})",
                    baseline["messages"],
                    baseline["sink_received"],
                    baseline["per_s"],
                    baseline["per_s"],
                    baseline["client_cpu_us_per_msg"],
                    baseline["client_cpu_pct"],
                    baseline["sink_cpu_us_per_msg"],
                    None,
                    baseline["machine_cpu_pct"],
                    baseline["others_cpu_pct"],
                ]
            )
        if clarion:
            targets.check(
                f"{kind}: worker CPU-µs per delivered message",
                clarion["worker_cpu_us_per_msg"],
                CPU_TARGET_US,
                at_least=False,
                unit=" µs",
            )
        if "ratio" in mode:
            targets.check(f"{kind}: ratio to baseline (uvloop, as the worker)", mode["ratio"], RATIO_TARGET)
        first = next(iter(variants), "off")
        for name, overhead in (mode.get("overhead") or {}).items():
            if overhead is not None:
                targets.check(
                    f"{kind}: worker CPU-µs/msg ({name}) / ({first})",
                    overhead,
                    OVERHEAD_TARGET,
                    at_least=False,
                )
    settings = results["settings"]
    size = next((mode.get("message_bytes") for mode in results["modes"].values()), "?")
    caption = (
        f"{settings['messages']:,} messages of {size} bytes; "
        f"{settings['connections']} SMTP connections; clarion worker concurrency "
        f"{settings['concurrency'] or 'default'}; 'steady' = from 5 % of the messages to the last; "
        "CPU % of one core (machine: 200 % = both cores, includes other users)."
    )
    console.print(
        table(
            "delivery",
            [
                "run",
                "ledger final",
                "sink got",
                "msg/s steady",
                "msg/s overall",
                "client CPU-µs/msg",
                "client CPU%",
                "sink CPU-µs/msg",
                "redis+pg CPU-µs/msg",
                "machine CPU%",
                "others CPU%",
            ],
            rows,
            caption=caption,
        )
    )
    for kind, mode in results["modes"].items():
        if mode.get("profile"):
            print_profile(f"clarion worker ({kind})", mode["profile"])
    console.print(targets.render("delivery targets"))
    return targets


def main(argv: list[str] | None = None) -> None:
    """Parse flags, run each mode, print, write ``bench/results/delivery.json``."""
    parser = option_parser(__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=16, help="SMTP connections (IP pool and baseline)")
    parser.add_argument("--concurrency", type=int, default=None, help="clarion worker --concurrency")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up on the worker after this long")
    parser.add_argument("--profile", action="store_true", help="an extra worker run under py-spy")
    parser.add_argument("--profile-messages", type=int, default=20_000)
    parser.add_argument("--profile-seconds", type=float, default=10.0)
    parser.add_argument(
        "--plain-sink",
        action="store_true",
        help="the sink offers neither PIPELINING nor CHUNKING (as aiosmtpd)",
    )
    parser.add_argument(
        "--variants",
        default="off",
        help=f"comma-separated runs, each 'off' or features joined by '+' ({', '.join(FEATURES)});"
        " the first is the reference of the overhead ratios",
    )
    add_run_options(parser, output="delivery", modes="embedded")
    args = parser.parse_args(argv)
    args.variants = parse_variants(args.variants)
    settings = {
        "messages": args.messages,
        "connections": args.connections,
        "concurrency": args.concurrency,
        "plain_sink": args.plain_sink,
        "variants": [variant_name(features) for features in args.variants],
        "targets": {
            "worker_cpu_us_per_msg": CPU_TARGET_US,
            "ratio": RATIO_TARGET,
            "variant_overhead": OVERHEAD_TARGET,
        },
    }
    run_modes("delivery", args, settings, run_mode, report)


if __name__ == "__main__":
    main()
