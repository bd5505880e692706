"""The high-throughput trigger path in process, without HTTP: ``Executions.trigger`` accepted/s and CPU-µs.

Measures what a change to intake costs where it is spent (decode, checks, the quota gate, the group commit
with its queue write and usage upsert), away from uvicorn and wrk, whose noise on a shared 2-core machine
hides a few percent. One process: a fresh embedded backend (SQLite + embedded queue) or, with
``--database-url``/``--queue-url``, the given ones; an HT campaign provisioned through the in-process app;
then ``--concurrency`` tasks call ``trigger`` (one recipient, the sample context) for ``--duration`` s,
``--rounds`` times, alternating the variants given with ``--variants``:

- ``plain``: the organization has no quota (0, the default);
- ``quota``: a high-throughput quota too large to be reached, so every request goes through the gate.

Reported per round: accepted/s and CPU-µs per accepted request (``time.process_time``, this process only,
which includes the aiosqlite and queue writer threads). Alternate rounds and compare medians: that ratio
is the figure to quote. Run it against an older checkout with ``PYTHONPATH=<checkout>/src`` (variants that
the checkout does not know are skipped).

Usage: .venv/bin/python -m bench.trigger [--duration 5] [--rounds 5] [--concurrency 64]
       [--variants plain,quota] [--database-url …] [--queue-url …]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.kit.instance import HT_RATE, Tenant, provision_campaign
from bench.kit.report import console, table, write_results
from bench.kit.workload import context


async def authenticate(gateway: Any, headers: httpx.Headers) -> Any:
    """The trigger routes' principal; a baseline from before roles takes no ``role`` (PYTHONPATH runs)."""
    try:
        from clarion.tenancy.principal import Role
    except ImportError:
        return await gateway.authenticate(headers)
    return await gateway.authenticate(headers, role=Role.USER)


async def main(args: argparse.Namespace, home: Path, database_url: str) -> None:
    from clarion.app import create_app
    from clarion.config import Settings
    from clarion.executions.service import HIGH_THROUGHPUT
    from clarion.kit.secretbox import new_key

    settings = Settings(
        home=home,
        database_url=database_url,
        queue_url=args.queue_url,
        auto_migrate=False,
        smtp_capture=False,
        feedback_smtp=False,
        secret_key=new_key(),
        redis_prefix=f"bench-trigger-{secrets.token_hex(3)}",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        services = app.state.services
        tenant, org_id = await make_tenant(services)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            campaign = await provision_campaign(client, tenant, smtp_port=9)
        principal = await authenticate(services.gateway, httpx.Headers(tenant.headers()))
        body = httpx.Request(
            "POST",
            "/",
            json={
                "requestId": "bench",
                "campaignId": campaign,
                "recipients": [
                    {
                        "type": "external",
                        "userId": "a@example.com",
                        "namespace": "email",
                        "context": context(0),
                    }
                ],
            },
        ).content

        async def read() -> bytes:
            return body

        variants = [v for v in args.variants.split(",") if v != "quota" or has_quotas()]
        results: dict[str, list[tuple[float, float]]] = {v: [] for v in variants}
        await run(services, principal, read, HIGH_THROUGHPUT, args, 1.0)  # warm-up
        for round_number in range(args.rounds):
            for variant in variants:
                quota = 10**12 if variant == "quota" else 0
                current = await with_quota(services, org_id, principal, quota)
                rate, cpu = await run(services, principal=current, read=read, mode=HIGH_THROUGHPUT, args=args)
                results[variant].append((rate, cpu))
                print(
                    f"round {round_number + 1} {variant:6s} {rate:9.0f} accepted/s {cpu:7.1f} CPU-µs/accepted"
                )
        summarize(results, args)


def summarize(results: dict[str, list[tuple[float, float]]], args: argparse.Namespace) -> None:
    """The medians as a table, and ``bench/results/trigger.json`` (rounds included, to compare runs)."""
    medians = {
        variant: {
            "accepted_per_s": statistics.median(rate for rate, _ in rows),
            "cpu_us_per_accepted": statistics.median(cpu for _, cpu in rows),
        }
        for variant, rows in results.items()
    }
    rows = [[variant, m["accepted_per_s"], m["cpu_us_per_accepted"]] for variant, m in medians.items()]
    if "plain" in medians and "quota" in medians:
        ratio = medians["quota"]["cpu_us_per_accepted"] / medians["plain"]["cpu_us_per_accepted"]
        rows.append(["quota / plain (CPU-µs)", "", f"{ratio:.3f}"])
    caption = "medians of alternated rounds; compare with the same run under PYTHONPATH=<older checkout>/src"
    console.print(table("bench.trigger", ["variant", "accepted/s", "CPU-µs/accepted"], rows, caption=caption))
    path = write_results(
        "trigger",
        {
            "args": vars(args),
            "medians": medians,
            "rounds": {variant: [list(row) for row in rows] for variant, rows in results.items()},
        },
    )
    console.print(f"wrote {path}")


async def make_tenant(services: Any) -> tuple[Tenant, str]:
    """An HT organization with its cap out of the way and a credential."""
    from clarion.tenancy import service as tenancy

    async with services.container.unit_of_work() as uow:
        org = await tenancy.create_organization(uow, f"bench-{secrets.token_hex(3)}", high_throughput=True)
        await tenancy.update_entitlements(uow, org, high_throughput_rate=HT_RATE)
        credential = await tenancy.create_credential(uow, org, name="bench", ttl_seconds=86400)
    return Tenant(org.ims_org_id, credential.client_id, credential.token.access_token), org.id


def has_quotas() -> bool:
    """Whether the code under test knows monthly quotas."""
    from clarion.tenancy import service as tenancy

    return hasattr(tenancy, "QuotaChange")


async def with_quota(services: Any, org_id: str, principal: Any, quota: int) -> Any:
    """The principal with this HT quota (stored too, so every reader agrees)."""
    import dataclasses

    if not has_quotas():
        return principal
    from clarion.tenancy import service as tenancy

    async with services.container.unit_of_work() as uow:
        org = await tenancy.get_organization(uow, org_id)
        await tenancy.update_entitlements(uow, org, quotas=tenancy.QuotaChange(high_throughput=quota))
    return dataclasses.replace(principal, high_throughput_monthly_quota=quota)


async def run(
    services: Any,
    principal: Any,
    read: Any,
    mode: Any,
    args: argparse.Namespace,
    duration: float | None = None,
) -> tuple[float, float]:
    """``args.concurrency`` callers for ``duration`` seconds: accepted/s and CPU-µs per accepted."""
    executions = services.executions
    stop = time.monotonic() + (duration or args.duration)
    accepted = 0

    async def caller() -> None:
        nonlocal accepted
        while time.monotonic() < stop:
            await executions.trigger(principal, read, mode, None)
            accepted += 1

    cpu, wall = time.process_time(), time.monotonic()
    await asyncio.gather(*(caller() for _ in range(args.concurrency)))
    await executions.drain()
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    return accepted / wall, cpu / max(1, accepted) * 1e6


def parse() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measured round and variant")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--variants", default="plain,quota")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--queue-url", default="sqlite")
    return parser.parse_args()


def migrated() -> tuple[Path, str]:
    """A home folder and the migrated database (Alembic runs its own event loop: before ours)."""
    from clarion.db.migrate import upgrade

    home = Path(tempfile.mkdtemp(prefix="bench-trigger-"))
    database_url = OPTIONS.database_url or f"sqlite:///{home / 'clarion.db'}"
    upgrade(database_url)
    return home, database_url


if __name__ == "__main__":
    OPTIONS = parse()
    asyncio.run(main(OPTIONS, *migrated()))
