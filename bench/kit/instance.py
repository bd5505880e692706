"""A Clarion instance under benchmark: its tenant (``clarion`` CLI, HT cap raised by SQL), its HT campaign
(IP pool → channel configuration → campaign, through the HTTP API), ``clarion serve``, and what it counted
(the ``messages`` ledger, ``/metrics``)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import text

from bench.kit.backends import Backend
from bench.kit.paths import CLARION
from bench.kit.processes import Service, run_clarion, wait_http
from bench.kit.workload import SUBJECT, TEMPLATE_HTML
from clarion.db.engine import create_engine

HT_PATH = "/ajo/im/executions/highthroughput"
HT_RATE = 1_000_000
"""High-throughput cap given to the benchmark organization (the default of 5,000/s would cap the bench)."""
FINAL_STATUSES = ("sent", "failed", "expired")
"""The ``messages`` ledger statuses a message ends in."""


@dataclass(frozen=True)
class Tenant:
    """An organization with a credential, as the gateway headers need them."""

    ims_org_id: str
    api_key: str
    token: str

    def headers(self) -> dict[str, str]:
        """The four gateway headers."""
        return {
            "Authorization": f"Bearer {self.token}",
            "x-api-key": self.api_key,
            "x-gw-ims-org-id": self.ims_org_id,
            "x-sandbox-name": "prod",
        }


def create_tenant(backend: Backend, *, name: str = "Bench Org", ht_rate: int = HT_RATE) -> Tenant:
    """``clarion org create --high-throughput`` + ``clarion credentials create``; then raise the HT cap."""
    created = run_clarion(["org", "create", name, "--high-throughput"], backend.env)
    match = re.search(r"x-gw-ims-org-id = (\S+@AdobeOrg)", created)
    if match is None:
        raise RuntimeError(f"cannot find the org id in: {created}")
    ims_org_id = match.group(1)
    headers = run_clarion(["credentials", "create", "--org", ims_org_id], backend.env)
    token = re.search(r"Authorization: Bearer (\S+?)'", headers)
    api_key = re.search(r"x-api-key: (\S+?)'", headers)
    if token is None or api_key is None:
        raise RuntimeError(f"cannot parse the credentials in: {headers}")
    set_ht_rate(backend.database_url, ims_org_id, ht_rate)
    return Tenant(ims_org_id, api_key.group(1), token.group(1))


def set_ht_rate(database_url: str, ims_org_id: str, rate: int) -> None:
    """``UPDATE organizations SET high_throughput_rate_per_second`` (the CLI has no flag for it yet)."""

    async def update() -> None:
        engine = create_engine(database_url)
        try:
            async with engine.begin() as connection:
                result = await connection.execute(
                    text(
                        "UPDATE organizations SET high_throughput_rate_per_second = :rate"
                        " WHERE ims_org_id = :org"
                    ),
                    {"rate": rate, "org": ims_org_id},
                )
                if result.rowcount != 1:
                    raise RuntimeError(f"organization {ims_org_id} not found")
        finally:
            await engine.dispose()

    asyncio.run(update())


async def provision_campaign(
    client: httpx.AsyncClient,
    tenant: Tenant,
    *,
    smtp_port: int,
    max_connections: int = 16,
    name: str = "bench",
    campaign_fields: Mapping[str, Any] | None = None,
) -> str:
    """IP pool → HT channel configuration → HT campaign (the sample email) → activate; the campaign id.

    ``campaign_fields`` are merged into the campaign's body (``{"tracking": {"clicks": True}}``)."""
    headers = tenant.headers()

    async def call(method: str, path: str, body: Any, expect: int) -> dict[str, Any]:
        response = await client.request(method, path, json=body, headers=headers)
        if response.status_code != expect:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        result: dict[str, Any] = response.json()
        return result

    pool = await call(
        "POST",
        "/v1/ip-pools",
        {
            "name": f"{name}-pool",
            "relays": [{"host": "127.0.0.1", "port": smtp_port}],
            "maxConnections": max_connections,
        },
        201,
    )
    configuration = await call(
        "POST",
        "/v1/channel-configurations",
        {
            "name": f"{name}-mail",
            "channel": "email",
            "highThroughput": True,
            "email": {"fromAddress": "news@shop.example", "fromName": "Example Shop", "ipPoolId": pool["id"]},
        },
        201,
    )
    campaign = await call(
        "POST",
        "/v1/campaigns",
        {
            "name": "Bench order confirmation",
            "channel": "email",
            "channelConfigurationId": configuration["id"],
            "highThroughputMode": True,
            "content": {"email": {"subject": SUBJECT, "html": TEMPLATE_HTML}},
            **(campaign_fields or {}),
        },
        201,
    )
    await call("POST", f"/v1/campaigns/{campaign['id']}/activate", None, 200)
    campaign_id: str = campaign["id"]
    return campaign_id


def provision_over_http(base_url: str, tenant: Tenant, *, smtp_port: int, max_connections: int = 16) -> str:
    """``provision_campaign`` against a running server."""

    async def work() -> str:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            return await provision_campaign(
                client, tenant, smtp_port=smtp_port, max_connections=max_connections
            )

    return asyncio.run(work())


def serve(backend: Backend, *, port: int, workers: int, name: str = "clarion-serve") -> Service:
    """``clarion serve --port P --workers N`` on the backend, started and ready (``/healthz``)."""
    service = Service(
        name,
        [CLARION, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env=backend.env,
        log_dir=backend.workdir,
    ).start()
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", service=service)
    except Exception:
        service.stop()
        raise
    return service


def ledger_counts(database_url: str) -> dict[str, int]:
    """Rows of the ``messages`` ledger by status."""
    return asyncio.run(ledger_counts_async(database_url))


async def ledger_counts_async(database_url: str, engine: Any = None) -> dict[str, int]:
    """Rows of the ``messages`` ledger by status (reusing ``engine`` when given)."""
    own = engine is None
    engine = engine or create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(text("SELECT status, count(*) FROM messages GROUP BY status"))
            ).all()
    finally:
        if own:
            await engine.dispose()
    return {str(status): int(count) for status, count in rows}


def final_count(counts: Mapping[str, int]) -> int:
    """How many messages of ``ledger_counts`` reached a final status."""
    return sum(counts.get(status, 0) for status in FINAL_STATUSES)


def metric_total(base_url: str, name: str, **labels: str) -> float:
    """Sum of a Prometheus counter's samples matching ``labels`` (e.g. HTTP 202s of the HT route)."""
    exposition = httpx.get(f"{base_url}/metrics", timeout=30).text
    total = 0.0
    for line in exposition.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{key}="{wanted}"' in head for key, wanted in labels.items()):
            total += float(value)
    return total
