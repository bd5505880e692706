"""Message events: what the history, the ``?event=`` filter, campaign statistics, feedback recording and the
event counter cost, each next to a baseline measured in the same run.

Per backend mode (embedded SQLite, or a fresh PostgreSQL database), one campaign's ledger of ``--messages``
messages (default 200,000; plus as many of another campaign, so the reads must stay inside theirs) with the
feedback a real campaign gets: 30 % opened (a third of them by a prefetcher, half of the openers twice),
8 % clicked, 2 % bounced (hard and soft), 0.1 % complained, 0.5 % unsubscribed. Then, medians of
``--repeat`` runs:

1. **campaign statistics**: the grouped reads of ``GET /v1/campaigns/{id}/stats`` (ledger by status and
   whether sent, feedback by kind with distinct messages, both per hour) vs the two status reads the
   endpoint made before message events (baseline);
2. **``?event=opened``**: a page of 50 and its total, vs the same page unfiltered (baseline);
3. **``record_feedback``**: items/s recording batches of 500 opens (event rows, counter, webhook
   subscriptions from the per-process cache) and committing, vs inserting the same event rows alone;
4. **``count_event``**: ns per call (cached label child) vs ``Counter.labels(…).inc()`` (baseline), against
   the worker's budget of 250 CPU-µs per delivered message.

Targets: statistics ≤ 250 ms and the filtered page ≤ 100 ms at 200,000 messages; ``record_feedback`` ≥ 5,000
items/s (the inbound listener's DSN target is 2,000/s with parsing and suppression on top) and ≥ 0.5 of the
bare insert; ``count_event`` ≤ 2 µs.

Usage: .venv/bin/python -m bench.events [--modes embedded[,production]] [--messages 200000] [--repeat 5]
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.kit.backends import make_backend
from bench.kit.report import Targets, console, table
from bench.kit.runner import add_run_options, option_parser, run_modes

BATCH = 5_000
FEEDBACK_BATCH = 500
ORG, SANDBOX, CAMPAIGN, OTHER = "org-bench", "sbx-bench", "campaign-bench", "campaign-other"


def main() -> None:
    """Parse the options, run each mode, print the tables and write ``bench/results/events.json``."""
    parser = option_parser(__doc__)
    add_run_options(parser, output="events", modes="embedded", quiet_wait=False)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    run_modes("events", args, {"messages": args.messages, "repeat": args.repeat}, run_mode, report)


def run_mode(kind: str, args: Any, work: Path) -> dict[str, Any]:
    """One backend: fill it, measure, clean up."""
    backend = make_backend(kind, work, name=f"events-{kind}")
    try:
        from clarion.db.migrate import upgrade

        upgrade(backend.database_url)
        return asyncio.run(_measure(backend.database_url, backend.queue_url, work / kind, args))
    finally:
        backend.cleanup()


async def _measure(database_url: str, queue_url: str, home: Path, args: Any) -> dict[str, Any]:
    from clarion.config import Settings
    from clarion.container import Container
    from clarion.kit.secretbox import new_key

    settings = Settings(home=home, database_url=database_url, queue_url=queue_url, secret_key=new_key())
    container = Container.build(settings)
    try:
        started = time.perf_counter()
        ids = await _fill(container, args.messages)
        fill_seconds = time.perf_counter() - started
        result = {
            "fill_seconds": round(fill_seconds, 1),
            "stats": await _stats(container, args.repeat),
            "event_filter": await _event_filter(container, args.repeat),
            "record_feedback": await _record(container, ids, args.repeat),
            "count_event": _counter(),
        }
    finally:
        await container.close()
    return result


def _message(index: int, campaign: str, accepted: datetime) -> dict[str, Any]:
    return {
        "id": f"exec-{campaign}-{index // 10}:{index % 10}",
        "org_id": ORG,
        "sandbox_id": SANDBOX,
        "campaign_id": campaign,
        "execution_id": f"exec-{campaign}-{index // 10}",
        "request_id": "",
        "user_id": f"user{index}@example.com",
        "recipient": f"user{index}@example.com",
        "channel": "email",
        "status": "sent",
        "attempts": 1,
        "response": "250 2.0.0 queued",
        "rendered_size": 2600,
        "header_message_id": "",
        "accepted_at": accepted,
        "updated_at": accepted,
        "sent_at": accepted,
        "payload": None,
    }


def _event(message: dict[str, Any], kind: str, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "message_id": message["id"],
        "org_id": ORG,
        "sandbox_id": SANDBOX,
        "campaign_id": message["campaign_id"],
        "kind": kind,
        "attempt": 1,
        "response": "",
        "header_message_id": "",
        "data": data,
        "at": at,
    }


def _feedback_of(message: dict[str, Any], rng: random.Random, at: datetime) -> list[dict[str, Any]]:
    """The events a message gets, drawn with the shares of the docstring."""
    events = []
    draw = rng.random()
    if draw < 0.02:
        bounce = {"type": "hard" if rng.random() < 0.7 else "soft", "status": "5.1.1", "diagnostic": "x"}
        events.append(_event(message, "bounced", at, bounce))
        message["status"] = "bounced"
        return events
    if draw < 0.32:
        machine = rng.random() < 0.33
        events.append(_event(message, "opened", at, {"machine": machine, "first": True}))
        if rng.random() < 0.5:
            events.append(_event(message, "opened", at, {"machine": False, "first": False}))
        if rng.random() < 0.27:
            events.append(_event(message, "clicked", at, {"url": "https://shop.example/a"}))
    if rng.random() < 0.001:
        events.append(_event(message, "complained", at, {"feedbackType": "abuse"}))
    if rng.random() < 0.005:
        events.append(_event(message, "unsubscribed", at, {"method": "one-click"}))
    return events


async def _fill(container: Any, count: int) -> list[str]:
    """``count`` messages of the measured campaign and as many of another one, with their feedback."""
    from clarion.delivery import repository

    rng = random.Random(14)
    start = datetime.now(UTC) - timedelta(hours=20)
    ids: list[str] = []
    for campaign in (CAMPAIGN, OTHER):
        for first in range(0, count, BATCH):
            rows, events = [], []
            for index in range(first, min(first + BATCH, count)):
                at = start + timedelta(seconds=index * 72_000 / count)
                row = _message(index, campaign, at)
                events.extend(_feedback_of(row, rng, at + timedelta(minutes=5)))
                rows.append(row)
                if campaign == CAMPAIGN:
                    ids.append(row["id"])
            async with container.unit_of_work() as uow:
                await repository.upsert_messages(uow.session, rows)
                await repository.add_events(uow.session, events)
                await uow.commit()
    return ids


async def _timed(container: Any, repeat: int, work: Any) -> float:
    """Median milliseconds of ``work(session)``, each run in its own unit of work."""
    samples = []
    for _ in range(repeat + 1):  # the first run warms caches and is dropped
        async with container.unit_of_work() as uow:
            started = time.perf_counter()
            await work(uow.session)
            samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples[1:])


async def _stats(container: Any, repeat: int) -> dict[str, float]:
    from clarion.delivery import repository

    since = datetime.now(UTC) - timedelta(hours=24)

    async def new(session: Any) -> None:
        scope = (session, ORG, SANDBOX, CAMPAIGN)
        await repository.campaign_counts(*scope)
        await repository.campaign_bounced_after_sending(*scope)
        await repository.campaign_event_counts(*scope)
        await repository.campaign_hourly(*scope, since)
        await repository.campaign_event_hourly(*scope, since)

    async def before(session: Any) -> None:  # what /stats read before message events: status, hourly
        await repository.campaign_counts(session, ORG, SANDBOX, CAMPAIGN)
        await repository.campaign_hourly(session, ORG, SANDBOX, CAMPAIGN, since)

    return {
        "events_ms": await _timed(container, repeat, new),
        "baseline_ms": await _timed(container, repeat, before),
    }


async def _event_filter(container: Any, repeat: int) -> dict[str, float]:
    from clarion.delivery.repository import MessageRepository

    def page(event: str | None) -> Any:
        async def work(session: Any) -> None:
            repo = MessageRepository(session, ORG, SANDBOX)
            await repo.search({"campaignId": CAMPAIGN, "event": event}, limit=50, offset=0)

        return work

    return {
        "opened_ms": await _timed(container, repeat, page("opened")),
        "complained_ms": await _timed(container, repeat, page("complained")),
        "baseline_ms": await _timed(container, repeat, page(None)),
    }


async def _record(container: Any, ids: list[str], repeat: int) -> dict[str, float]:
    from clarion.delivery import repository
    from clarion.delivery.feedback import Feedback, feedback_event, find_messages, record_feedback

    now = datetime.now(UTC)
    rates: list[float] = []
    bare: list[float] = []
    for run in range(repeat):
        chosen = ids[run * FEEDBACK_BATCH * 4 : (run + 1) * FEEDBACK_BATCH * 4]
        batches = [chosen[i : i + FEEDBACK_BATCH] for i in range(0, len(chosen), FEEDBACK_BATCH)]
        started = time.perf_counter()
        for batch in batches:
            items = [
                Feedback(message_id=mid, kind="opened", at=now, data={"machine": False}) for mid in batch
            ]
            async with container.unit_of_work() as uow:
                found = await find_messages(uow.session, batch)
                await record_feedback(uow, found, items)
                await uow.commit()
        rates.append(len(chosen) / (time.perf_counter() - started))
        started = time.perf_counter()
        for batch in batches:  # baseline: the same lookup and event rows, inserted alone
            items = [
                Feedback(message_id=mid, kind="opened", at=now, data={"machine": False}) for mid in batch
            ]
            async with container.unit_of_work() as uow:
                found = await find_messages(uow.session, batch)
                await repository.add_events(
                    uow.session, [feedback_event(found[i.message_id], i) for i in items]
                )
                await uow.commit()
        bare.append(len(chosen) / (time.perf_counter() - started))
    return {"items_per_s": statistics.median(rates), "baseline_items_per_s": statistics.median(bare)}


def _counter() -> dict[str, float]:
    from clarion.delivery.counters import MESSAGE_EVENTS, count_event

    calls = 200_000
    started = time.perf_counter()
    for _ in range(calls):
        count_event("sent", "email")
    ours = (time.perf_counter() - started) / calls * 1e9
    started = time.perf_counter()
    for _ in range(calls):
        MESSAGE_EVENTS.labels("sent", "email").inc()
    labelled = (time.perf_counter() - started) / calls * 1e9
    return {"ns_per_call": ours, "baseline_ns_per_call": labelled}


def report(results: dict[str, Any]) -> Targets:
    """The tables and the targets."""
    targets = Targets()
    rows = []
    for kind, mode in results["modes"].items():
        stats, found, record, counter = (
            mode["stats"],
            mode["event_filter"],
            mode["record_feedback"],
            mode["count_event"],
        )
        rows += [
            [
                kind,
                "campaign stats (grouped reads)",
                stats["events_ms"],
                "ms",
                stats["baseline_ms"],
                "status reads before events",
                stats["events_ms"] / stats["baseline_ms"],
            ],
            [
                kind,
                "?event=opened page + total",
                found["opened_ms"],
                "ms",
                found["baseline_ms"],
                "same page, no event filter",
                found["opened_ms"] / found["baseline_ms"],
            ],
            [
                kind,
                "?event=complained page + total",
                found["complained_ms"],
                "ms",
                found["baseline_ms"],
                "same page, no event filter",
                found["complained_ms"] / found["baseline_ms"],
            ],
            [
                kind,
                "record_feedback (batches of 500)",
                record["items_per_s"],
                "items/s",
                record["baseline_items_per_s"],
                "event rows inserted alone",
                record["items_per_s"] / record["baseline_items_per_s"],
            ],
            [
                kind,
                "count_event",
                counter["ns_per_call"],
                "ns",
                counter["baseline_ns_per_call"],
                "Counter.labels().inc()",
                counter["ns_per_call"] / counter["baseline_ns_per_call"],
            ],
        ]
        targets.check(f"{kind}: campaign stats", stats["events_ms"], 250, at_least=False, unit=" ms")
        targets.check(f"{kind}: ?event=opened page", found["opened_ms"], 100, at_least=False, unit=" ms")
        targets.check(f"{kind}: record_feedback", record["items_per_s"], 5000, unit="/s")
        targets.check(
            f"{kind}: record_feedback / bare insert",
            record["items_per_s"] / record["baseline_items_per_s"],
            0.5,
        )
        targets.check(f"{kind}: count_event", counter["ns_per_call"] / 1000, 2, at_least=False, unit=" µs")
    messages = results["settings"]["messages"]
    console.print(
        table(
            f"Message events, {messages:,} messages of the campaign (+ {messages:,} of another)",
            ["mode", "measured", "value", "unit", "baseline", "baseline is", "ratio"],
            rows,
            left=("measured", "unit", "baseline is"),
        )
    )
    console.print(targets.render())
    return targets


if __name__ == "__main__":
    main()
