"""Audience export benchmark: 1M profiles, segment evaluation, CSV+GZIP and Parquet exports, ad hoc.

    python -m bench.export [--profiles 1000000] [--modes production,embedded]

Per backend (PostgreSQL, SQLite): load N synthetic profiles, evaluate a PQL audience that holds all of them
(segment evaluation time), then export the audience to a local folder with Clarion's export engine, each
export in a fresh child process so its peak RSS is its own. Baselines measured in the same run on the same
rows: ``COPY (…) TO STDOUT`` piped to ``gzip -1`` (CSV; SQLite: a plain cursor + csv + gzip) and
``pyarrow.parquet.write_table`` of the rows fetched in one go. Finally an ad-hoc activation of the audience
through the HTTP API (local-folder dataflow, worker in process): seconds from the request to the run's
success. Targets (issue 5, PostgreSQL): ≥ 0.7 of the baseline, ≥ 200,000 rows/s CSV+GZIP, ≥ 1,000,000 rows/s
Parquet, peak RSS < 300 MB, ad-hoc file within 10 s.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench.kit.backends import REDIS_URL, drop_database, fresh_database
from bench.kit.paths import PYTHON, ROOT
from bench.kit.report import Targets, console, table
from bench.kit.runner import add_run_options, option_parser, run_modes

ATTRIBUTES = (
    "person.name.firstName",
    "person.name.lastName",
    "homeAddress.city",
    "loyalty.tier",
    "loyalty.points",
)
SEGMENT_PQL = 'loyalty.points >= 0 and homeAddress.countryCode = "US"'
FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Linus"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton"]
CITIES = ["Boston", "Austin", "Denver", "Seattle", "Chicago", "Miami", "Portland", "Atlanta"]
TIERS = ["gold", "silver", "bronze"]
BATCH = 50_000
SAME_PLAN = "SET enable_nestloop = off"
"""The baselines run the query with the plan Clarion's exporter asks for (a hash join of members to profiles),
so that the ratios compare the pipelines, not the planner's guesses without statistics."""


def _profiles(count: int, org_id: str, sandbox_id: str) -> Any:
    rng = random.Random(7)
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    for index in range(count):
        attributes = {
            "person": {"name": {"firstName": rng.choice(FIRST), "lastName": rng.choice(LAST)}},
            "homeAddress": {"city": rng.choice(CITIES), "countryCode": "US"},
            "loyalty": {"tier": rng.choice(TIERS), "points": rng.randint(0, 50_000)},
        }
        identities = {"email": [f"user{index}@example.com"]}
        yield (
            str(uuid.uuid4()),
            org_id,
            sandbox_id,
            json.dumps(attributes),
            json.dumps(identities),
            now,
            now,
        )


# --- setup (in this process) -------------------------------------------------------------------------------


async def _tenant(database_url: str) -> tuple[str, str]:
    from sqlalchemy import select

    from clarion.config import Settings
    from clarion.container import Container
    from clarion.models.tenancy import Sandbox
    from clarion.tenancy import service

    container = Container.build(Settings(database_url=database_url, queue_url="sqlite"))
    try:
        async with container.unit_of_work() as uow:
            org = await service.create_organization(
                uow, f"bench-{uuid.uuid4().hex[:6]}", high_throughput=False
            )
            sandbox = (await uow.session.scalars(select(Sandbox).where(Sandbox.org_id == org.id))).one()
            await uow.commit()
            return org.id, sandbox.id
    finally:
        await container.close()


async def _load_postgres(database_url: str, count: int, org_id: str, sandbox_id: str) -> float:
    import asyncpg

    connection = await asyncpg.connect(database_url)
    started = time.perf_counter()
    try:
        rows: list[tuple[Any, ...]] = []
        for row in _profiles(count, org_id, sandbox_id):
            rows.append((*row[:5], _ts(row[5]), _ts(row[6])))
            if len(rows) == BATCH:
                await _copy_profiles(connection, rows)
                rows = []
        if rows:
            await _copy_profiles(connection, rows)
        await connection.execute("ANALYZE profiles")
    finally:
        await connection.close()
    return time.perf_counter() - started


def _ts(text: str) -> Any:
    from datetime import UTC, datetime

    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


async def _copy_profiles(connection: Any, rows: list[tuple[Any, ...]]) -> None:
    columns = ["id", "org_id", "sandbox_id", "attributes", "identities", "created_at", "updated_at"]
    await connection.copy_records_to_table("profiles", records=rows, columns=columns)


def _load_sqlite(path: str, count: int, org_id: str, sandbox_id: str) -> float:
    started = time.perf_counter()
    connection = sqlite3.connect(path)
    try:
        rows: list[tuple[Any, ...]] = []
        for row in _profiles(count, org_id, sandbox_id):
            rows.append(row)
            if len(rows) == BATCH:
                _insert_sqlite(connection, rows)
                rows = []
        if rows:
            _insert_sqlite(connection, rows)
    finally:
        connection.close()
    return time.perf_counter() - started


def _insert_sqlite(connection: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    connection.executemany(
        "INSERT INTO profiles (id, org_id, sandbox_id, attributes, identities, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    connection.commit()


async def _evaluate(database_url: str, org_id: str, sandbox_id: str) -> tuple[str, float, int]:
    """Create the audience and evaluate it with Clarion's segment job code; (id, seconds, members)."""
    from clarion.audiences.evaluation import Evaluation, JobScope
    from clarion.config import Settings
    from clarion.container import Container
    from clarion.kit.ids import new_id
    from clarion.models.audiences import SegmentDefinition, SegmentJob

    container = Container.build(Settings(database_url=database_url, queue_url="sqlite"))
    try:
        async with container.unit_of_work() as uow:
            segment = SegmentDefinition(
                id=new_id(),
                org_id=org_id,
                sandbox_id=sandbox_id,
                name="bench",
                expression={"type": "PQL", "format": "pql/text", "value": SEGMENT_PQL},
                merge_policy_id=new_id(),
            )
            job = SegmentJob(
                id=new_id(), org_id=org_id, sandbox_id=sandbox_id, status="NEW", segment_ids=[segment.id]
            )
            uow.session.add_all([segment, job])
            await uow.commit()
            segment_id, job_id = segment.id, job.id
        started = time.perf_counter()
        await Evaluation(container.unit_of_work, JobScope(org_id, sandbox_id, job_id)).run()
        seconds = time.perf_counter() - started
        async with container.unit_of_work() as uow:
            stored = await uow.session.get(SegmentJob, job_id)
            assert stored is not None
            assert stored.status == "SUCCEEDED", stored.errors
            members = int(stored.metrics["segmentedProfileCounter"][segment_id])
        return segment_id, seconds, members
    finally:
        await container.close()


# --- measured exports (each in a child process) ------------------------------------------------------------


def _child(argv: list[str]) -> dict[str, Any]:
    output = subprocess.run(
        [PYTHON, "-m", "bench.export", "child", *argv], capture_output=True, text=True, cwd=ROOT, timeout=900
    )
    if output.returncode != 0:
        raise RuntimeError(f"child failed: {output.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(output.stdout.strip().splitlines()[-1])
    return result


async def _clarion_export(args: argparse.Namespace) -> dict[str, Any]:
    from clarion.activation.export.destinations import local_folder
    from clarion.activation.export.schemas import STATUS_COLUMN, Audience, Columns, CsvOptions, FileFormat
    from clarion.activation.export.service import export_audience
    from clarion.config import Settings
    from clarion.container import Container

    container = Container.build(Settings(database_url=args.database_url, queue_url="sqlite"))
    columns = Columns(("email",), (*ATTRIBUTES, STATUS_COLUMN))
    file_format = FileFormat(args.file_type, args.compression, CsvOptions())
    try:
        destination = local_folder(Path(args.folder), ".")
        started = time.perf_counter()
        upload = await destination.open(f"clarion.{file_format.extension}")
        async with container.unit_of_work() as uow:
            audience = Audience(args.org, args.sandbox, args.segment)
            result = await export_audience(uow.session, audience, columns, file_format, upload)
        seconds = time.perf_counter() - started
        await destination.close()
    finally:
        await container.close()
    return {"rows": result.rows, "bytes": result.bytes, "seconds": seconds}


def _baseline_sql(segment: str) -> str:
    paths = ", ".join("p.attributes #>> '{" + path.replace(".", ",") + "}'" for path in ATTRIBUTES)
    return (
        f"SELECT p.identities #>> '{{email,0}}', {paths}, m.status FROM segment_memberships m "
        f"JOIN profiles p ON p.id = m.profile_id WHERE m.segment_id = '{segment}' "
        "AND m.status IN ('realized', 'existing')"
    )


def _sqlite_baseline_sql(segment: str) -> str:
    paths = ", ".join(f"json_extract(p.attributes, '$.{path}')" for path in ATTRIBUTES)
    return (
        f"SELECT json_extract(p.identities, '$.email[0]'), {paths}, m.status FROM segment_memberships m "
        f"JOIN profiles p ON p.id = m.profile_id WHERE m.segment_id = '{segment}' "
        "AND m.status IN ('realized', 'existing')"
    )


def _baseline_csv(args: argparse.Namespace) -> dict[str, Any]:
    target = Path(args.folder) / "baseline.csv.gz"
    started = time.perf_counter()
    if args.database_url.startswith("postgresql"):
        copy = f"COPY ({_baseline_sql(args.segment)}) TO STDOUT WITH (FORMAT csv, HEADER)"
        command = (
            f"psql -h 127.0.0.1 -U postgres -d {args.database_url.rsplit('/', 1)[1]} -q "
            f'-c "{SAME_PLAN}" -c "{copy}" | gzip -1'
        )
        with target.open("wb") as out:
            subprocess.run(["bash", "-o", "pipefail", "-c", command], stdout=out, check=True)
        seconds = time.perf_counter() - started
        # The database's own ceiling: the same COPY, output thrown away.
        query_started = time.perf_counter()
        database = args.database_url.rsplit("/", 1)[1]
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-q", "-c", SAME_PLAN, "-c", copy],
            stdout=subprocess.DEVNULL,
            check=True,
        )
        query_seconds = time.perf_counter() - query_started
        return {
            "rows": None,
            "bytes": target.stat().st_size,
            "seconds": seconds,
            "copy_only_seconds": query_seconds,
        }
    import csv

    connection = sqlite3.connect(args.database_url.removeprefix("sqlite:///"))
    rows = 0
    with gzip.open(target, "wt", compresslevel=1, newline="") as out:
        writer = csv.writer(out)
        cursor = connection.execute(_sqlite_baseline_sql(args.segment))
        while batch := cursor.fetchmany(10_000):
            writer.writerows(batch)
            rows += len(batch)
    return {"rows": rows, "bytes": target.stat().st_size, "seconds": time.perf_counter() - started}


async def _baseline_parquet(args: argparse.Namespace) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = ["email", *ATTRIBUTES, "status"]
    started = time.perf_counter()
    if args.database_url.startswith("postgresql"):
        import asyncpg

        connection = await asyncpg.connect(args.database_url)
        await connection.execute(SAME_PLAN)
        records = await connection.fetch(_baseline_sql(args.segment))
        await connection.close()
    else:
        connection_sqlite = sqlite3.connect(args.database_url.removeprefix("sqlite:///"))
        records = connection_sqlite.execute(_sqlite_baseline_sql(args.segment)).fetchall()
    fetched = time.perf_counter()
    columns = [
        pa.array([None if row[i] is None else str(row[i]) for row in records], pa.string())
        for i in range(len(names))
    ]
    table_ = pa.Table.from_arrays(columns, names=names)
    write_started = time.perf_counter()
    pq.write_table(table_, Path(args.folder) / "baseline.parquet", compression="snappy")
    ended = time.perf_counter()
    return {
        "rows": table_.num_rows,
        "seconds": ended - started,
        "fetch_seconds": fetched - started,
        "write_table_seconds": ended - write_started,
    }


def child_main(argv: list[str]) -> None:
    """Run one measured export and print its result (JSON) with this process's peak RSS."""
    parser = argparse.ArgumentParser(prog="bench.export child")
    parser.add_argument("what", choices=["clarion", "baseline-csv", "baseline-parquet"])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--org", required=True)
    parser.add_argument("--sandbox", required=True)
    parser.add_argument("--segment", required=True)
    parser.add_argument("--folder", required=True)
    parser.add_argument("--file-type", default="CSV")
    parser.add_argument("--compression", default="GZIP")
    args = parser.parse_args(argv)
    if args.what == "clarion":
        result = asyncio.run(_clarion_export(args))
    elif args.what == "baseline-csv":
        result = _baseline_csv(args)
    else:
        result = asyncio.run(_baseline_parquet(args))
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


# --- ad-hoc activation through the API ---------------------------------------------------------------------


async def _adhoc(
    database_url: str, queue_url: str, home: Path, segment_id: str, org_id: str
) -> dict[str, Any]:
    """Create a local-folder dataflow for the audience, call adhocrun, wait for the run's success."""
    import httpx

    from clarion.app import create_app
    from clarion.config import Settings
    from clarion.models.tenancy import Organization
    from clarion.ops.metrics import Metrics
    from clarion.runtime import BackgroundServices
    from clarion.tenancy import service as tenancy

    settings = Settings(
        database_url=database_url,
        queue_url=queue_url,
        home=home,
        activation_first_run_delay_seconds=0,
        smtp_capture=False,
        feedback_smtp=False,
        redis_prefix=f"bench-{uuid.uuid4().hex[:6]}",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        container = app.state.container
        async with container.unit_of_work() as uow:
            org = await uow.session.get(Organization, org_id)
            assert org is not None
            credential = await tenancy.create_credential(uow, org, name="bench", ttl_seconds=3600)
        headers = {
            "Authorization": f"Bearer {credential.token.access_token}",
            "x-api-key": credential.client_id,
            "x-gw-ims-org-id": org.ims_org_id,
            "x-sandbox-name": "prod",
        }
        workers = BackgroundServices(app.state.services, Metrics(), run_worker=True, capture_smtp=False)
        await workers.start()
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://clarion", headers=headers
            ) as client:
                flow_id = await _local_flow(client, segment_id)
                started = time.perf_counter()
                response = await client.post(
                    "/data/core/activation/disflowprovider/adhocrun",
                    json={"activationInfo": {flow_id: [segment_id]}},
                    headers={"Accept": "application/vnd.adobe.adhoc.activation+json; version=2"},
                )
                assert response.status_code == 200, response.text
                run_url = response.json()["order"][0]["statusURL"].split("http://127.0.0.1:8080", 1)[-1]
                while True:
                    run = (await client.get(run_url)).json()["items"][0]
                    status = run["metrics"].get("statusSummary", {}).get("status") or run.get("status")
                    if status in ("success", "failed"):
                        break
                    await asyncio.sleep(0.05)
                seconds = time.perf_counter() - started
        finally:
            await workers.stop()
    records = run["metrics"]["recordSummary"]["outputRecordCount"]
    return {"seconds": seconds, "status": status, "records": records}


async def _local_flow(client: Any, segment_id: str) -> str:
    from clarion.activation.flowservice import specs

    async def created(path: str, body: dict[str, Any]) -> str:
        response = await client.post(f"/data/foundation/flowservice/{path}", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    spec = {"id": specs.LOCAL_SPEC_ID, "version": "1.0"}
    base = await created("connections", {"name": "bench", "connectionSpec": spec})

    target = await created(
        "targetConnections",
        {
            "name": "bench target",
            "baseConnectionId": base,
            "connectionSpec": spec,
            "params": {"path": "adhoc", "fileType": "CSV", "compression": "GZIP"},
        },
    )
    source = await created(
        "sourceConnections",
        {
            "name": "profiles",
            "connectionSpec": {"id": specs.PROFILE_STORE_SPEC_ID, "version": "1.0"},
        },
    )
    selector = {
        "type": "PLATFORM_SEGMENT",
        "value": {
            "id": segment_id,
            "name": "bench",
            "filenameTemplate": "%DESTINATION_NAME%_%SEGMENT_ID%_%DATETIME(YYYYMMdd_HHmmss)%",
            "exportMode": "DAILY_FULL_EXPORT",
            "schedule": {
                "frequency": "DAILY",
                "startDate": "2026-01-01",
                "startTime": "00:00",
                "triggerType": "SCHEDULED",
            },
        },
    }
    return await created(
        "flows",
        {
            "name": "bench flow",
            "flowSpec": {"id": specs.LOCAL_FLOW_SPEC_ID, "version": "1.0"},
            "sourceConnectionIds": [source],
            "targetConnectionIds": [target],
            "transformations": [
                {
                    "name": "GeneralTransform",
                    "params": {
                        "mandatoryFields": [],
                        "primaryFields": [],
                        "profileMapping": {
                            "mappings": [{"source": path} for path in ("identityMap.email", *ATTRIBUTES)]
                        },
                        "segmentSelectors": {"selectors": [selector]},
                    },
                }
            ],
        },
    )


# --- driver ------------------------------------------------------------------------------------------------


def run(kind: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """One backend: load, evaluate, export (Clarion and baselines), ad-hoc activation."""
    from clarion.db.migrate import upgrade
    from clarion.kit.secretbox import new_key

    folder = work / kind
    folder.mkdir()
    # Every Settings() of this run, and the child processes, read these.
    os.environ["CLARION_HOME"] = str(folder / "home")
    os.environ["CLARION_SECRET_KEY"] = new_key()
    database_name = ""
    if kind == "production":
        database_name, database_url = fresh_database()
    else:
        database_url = f"sqlite:///{folder / 'clarion.db'}"
    try:
        upgrade(database_url)
        org_id, sandbox_id = asyncio.run(_tenant(database_url))
        console.print(f"[{kind}] loading {args.profiles:,} profiles …")
        if kind == "production":
            load_seconds = asyncio.run(_load_postgres(database_url, args.profiles, org_id, sandbox_id))
        else:
            load_seconds = _load_sqlite(
                database_url.removeprefix("sqlite:///"), args.profiles, org_id, sandbox_id
            )
        console.print(f"[{kind}] evaluating the audience …")
        segment_id, evaluation_seconds, members = asyncio.run(_evaluate(database_url, org_id, sandbox_id))
        common = [
            "--database-url",
            database_url,
            "--org",
            org_id,
            "--sandbox",
            sandbox_id,
            "--segment",
            segment_id,
        ]
        exports: dict[str, Any] = {}
        for label, what, extra in (
            ("clarion_csv_gzip", "clarion", ["--file-type", "CSV", "--compression", "GZIP"]),
            ("baseline_csv_gzip", "baseline-csv", []),
            ("clarion_parquet", "clarion", ["--file-type", "PARQUET", "--compression", "NONE"]),
            ("baseline_parquet", "baseline-parquet", []),
        ):
            console.print(f"[{kind}] {label} …")
            out = folder / label
            out.mkdir()
            result = _child([what, *common, "--folder", str(out), *extra])
            result["rows"] = result.get("rows") or members
            result["rows_per_second"] = result["rows"] / result["seconds"]
            exports[label] = result
        adhoc: dict[str, Any] | None = None
        if not args.skip_adhoc:
            console.print(f"[{kind}] ad-hoc activation …")
            queue_url = REDIS_URL if kind == "production" else "sqlite"
            adhoc = asyncio.run(_adhoc(database_url, queue_url, folder / "home", segment_id, org_id))
        return {
            "profiles": args.profiles,
            "members": members,
            "load_seconds": load_seconds,
            "evaluation_seconds": evaluation_seconds,
            "exports": exports,
            "adhoc": adhoc,
        }
    finally:
        if database_name:
            drop_database(database_name)


def report(results: dict[str, Any]) -> Targets:
    """Print the tables and check the targets (PostgreSQL ones per the issue)."""
    targets = Targets()
    rows = []
    for kind, mode in results["modes"].items():
        exports = mode["exports"]
        csv_ratio = (
            exports["clarion_csv_gzip"]["rows_per_second"] / exports["baseline_csv_gzip"]["rows_per_second"]
        )
        parquet_ratio = (
            exports["clarion_parquet"]["rows_per_second"] / exports["baseline_parquet"]["rows_per_second"]
        )
        for label, result in exports.items():
            ratio = csv_ratio if "csv" in label else parquet_ratio
            rows.append(
                [
                    f"{kind} {label}",
                    result["rows"],
                    result["seconds"],
                    result["rows_per_second"],
                    result["peak_rss_mb"],
                    ratio if label.startswith("clarion") else None,
                ]
            )
        if kind == "production":
            targets.check(
                "CSV+GZIP rows/s (PostgreSQL)", exports["clarion_csv_gzip"]["rows_per_second"], 200_000
            )
            targets.check("CSV+GZIP ratio to COPY | gzip", csv_ratio, 0.7)
            targets.check(
                "Parquet rows/s (PostgreSQL)", exports["clarion_parquet"]["rows_per_second"], 1_000_000
            )
            targets.check("Parquet ratio to write_table", parquet_ratio, 0.7)
            peak = max(exports[label]["peak_rss_mb"] for label in ("clarion_csv_gzip", "clarion_parquet"))
            targets.check("peak RSS MB", peak, 300, at_least=False)
            if mode["adhoc"]:
                targets.check("ad-hoc activation seconds", mode["adhoc"]["seconds"], 10, at_least=False)
    console.print(table("Exports", ["run", "rows", "seconds", "rows/s", "peak RSS MB", "ratio"], rows))
    for kind, mode in results["modes"].items():
        baseline = mode["exports"]["baseline_csv_gzip"]
        if baseline.get("copy_only_seconds"):
            ceiling = baseline["rows"] / baseline["copy_only_seconds"]
            console.print(f"{kind}: the COPY query alone (output discarded) runs at {ceiling:,.0f} rows/s")
    console.print(
        table(
            "Audience",
            ["backend", "profiles", "load s", "evaluation s", "members", "ad-hoc s", "ad-hoc records"],
            [
                [
                    kind,
                    mode["profiles"],
                    mode["load_seconds"],
                    mode["evaluation_seconds"],
                    mode["members"],
                    (mode["adhoc"] or {}).get("seconds"),
                    (mode["adhoc"] or {}).get("records"),
                ]
                for kind, mode in results["modes"].items()
            ],
        )
    )
    console.print(targets.render())
    return targets


def main() -> None:
    """Parse arguments and run."""
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child_main(sys.argv[2:])
        return
    parser = option_parser(__doc__)
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--skip-adhoc", action="store_true")
    add_run_options(parser, output="export", modes="production,embedded", quiet_wait=False)
    args = parser.parse_args()
    settings = {
        "profiles": args.profiles,
        "segment": SEGMENT_PQL,
        "columns": ["email", *ATTRIBUTES, "status"],
    }
    run_modes("export", args, settings, run, report)


if __name__ == "__main__":
    main()
