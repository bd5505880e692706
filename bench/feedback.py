"""Bounce reports (RFC 3464 DSNs) parsed and applied per second by the feedback listener, on one core.

A bounce storm after a bad list import must not fall behind: target ≥ 2,000 DSNs/s parsed and applied
(ledger row ``bounced`` + ``bounced`` event + the suppression list asked), on one core. Per backend mode, a
fresh database gets one organization, one email configuration with a bounce domain and ``--messages`` sent
ledger rows per phase; each message gets a Postfix-like DSN (1.4 KB: the text part, the delivery-status
part, the returned headers) sent to its VERP bounce address. Three measurements, each with a baseline of
the same run:

1. **parse**: ``feedback.reports.parse_report`` vs the ``email`` package (``BytesParser``, ``compat32``)
   on the same mails, CPU-µs per mail;
2. **parse + apply, in process**: ``FeedbackIntake.receive`` with ``--concurrency`` reports in flight (group
   commit), reports/s by wall clock and by this process's CPU;
3. **over SMTP**: the real ``FeedbackListener`` in this process, fed by ``--connections`` aiosmtplib
   clients in a separate process; reports/s and the listener process's CPU-µs per report, next to a bare
   aiosmtpd server answering ``250`` to the same mails (the SMTP ceiling of one core).

Every phase checks its outcome: each message ``bounced`` in the ledger, nothing lost.

Note: the suppression list's ``note_bounce`` is the ``suppressions`` domain's; measure again once it is
merged (the placeholder stores nothing).

Usage: .venv/bin/python -m bench.feedback [--modes embedded,production] [--messages 6000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from email.parser import BytesParser
from email.policy import compat32
from pathlib import Path
from typing import Any

import aiosmtplib
import msgspec
import uvloop
from aiosmtpd.smtp import SMTP
from sqlalchemy import func, insert, select

from bench.kit.backends import REDIS_URL, Backend, make_backend
from bench.kit.paths import ROOT
from bench.kit.report import Targets, console, table
from bench.kit.runner import add_run_options, option_parser, run_modes
from clarion.config import Settings
from clarion.container import Container
from clarion.db.migrate import upgrade
from clarion.delivery.tokens import MessageTokens
from clarion.feedback.listener import FeedbackListener
from clarion.feedback.reports import parse_report
from clarion.feedback.service import FeedbackIntake
from clarion.kit.clock import utcnow
from clarion.models.campaigns import ChannelConfiguration
from clarion.models.messages import Message
from clarion.models.tenancy import Sandbox
from clarion.ops.logging import configure_logging
from clarion.tenancy.service import create_organization

TARGET = 2000.0
BOUNCE_DOMAIN = "bounces.bench.example"
PARSE_SAMPLES = 5000


def dsn(bounce_address: str, recipient: str) -> bytes:
    """A Postfix-like DSN: ``recipient`` failed with 5.1.1."""
    boundary = f"{secrets.token_hex(8)}.1733600000/mx.example.net"
    return (
        f"Return-Path: <>\r\nReceived: from mx.example.net (mx.example.net [192.0.2.10])\r\n"
        f"\tby mx.bench.example (Postfix) with ESMTP id 4XyZ1234\r\n\tfor <{bounce_address}>; "
        "Mon,  7 Dec 2026 21:00:01 +0000 (UTC)\r\n"
        "Date: Mon,  7 Dec 2026 21:00:01 +0000 (UTC)\r\n"
        "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"To: {bounce_address}\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="{boundary}"\r\n'
        "Content-Transfer-Encoding: 8bit\r\n"
        f"Message-Id: <20261207210001.4XyZ1234@mx.example.net>\r\n\r\n"
        "This is a MIME-encapsulated message.\r\n\r\n"
        f"--{boundary}\r\nContent-Description: Notification\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        "This is the mail system at host mx.example.net.\r\n\r\n"
        "I'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients. It's attached below.\r\n\r\n"
        f"<{recipient}>: host mx.example.net[192.0.2.10] said: 550 5.1.1\r\n"
        f"    <{recipient}>: Recipient address rejected: User unknown (in reply to RCPT TO command)\r\n\r\n"
        f"--{boundary}\r\nContent-Description: Delivery report\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\nX-Postfix-Queue-ID: 4XyZ1234\r\n"
        f"X-Postfix-Sender: rfc822; {bounce_address}\r\n"
        "Arrival-Date: Mon,  7 Dec 2026 21:00:00 +0000 (UTC)\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nOriginal-Recipient: rfc822;{recipient}\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mx.example.net\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User\r\n"
        "    unknown\r\n\r\n"
        f"--{boundary}\r\nContent-Description: Undelivered Message Headers\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        f"Return-Path: <{bounce_address}>\r\nFrom: Shop <news@shop.example>\r\nTo: {recipient}\r\n"
        "Subject: Your order is confirmed\r\nMessage-ID: <a1b2c3.tag@shop.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n'
        f"--{boundary}--\r\n"
    ).encode()


class Seeded(msgspec.Struct):
    """The ledger rows of one phase: (bounce address, DSN) per message."""

    mails: list[tuple[str, bytes]]
    ids: list[str]


async def seed(container: Container, count: int, tokens: MessageTokens) -> tuple[str, Seeded]:
    """One organization with a bounce-domain configuration and ``count`` sent messages."""
    async with container.unit_of_work() as uow:
        org = await create_organization(uow, f"bench-feedback-{secrets.token_hex(3)}")
    async with container.unit_of_work() as uow:
        sandbox_id = await uow.session.scalar(select(Sandbox.id).where(Sandbox.org_id == org.id))
        uow.session.add(
            ChannelConfiguration(
                org_id=org.id,
                sandbox_id=sandbox_id,
                name="mail",
                channel="email",
                settings={"fromAddress": "news@shop.example", "bounceDomain": BOUNCE_DOMAIN},
            )
        )
        execution = str(uuid.uuid4())
        now = utcnow()
        rows = [
            {
                "id": f"{execution}:{index}",
                "org_id": org.id,
                "sandbox_id": sandbox_id,
                "campaign_id": "bench-campaign",
                "execution_id": execution,
                "recipient": f"user{index}@example.net",
                "channel": "email",
                "status": "sent",
                "attempts": 1,
                "response": "250 2.0.0 Ok",
                "accepted_at": now,
                "updated_at": now,
                "sent_at": now,
            }
            for index in range(count)
        ]
        for start in range(0, count, 2000):
            await uow.session.execute(insert(Message), rows[start : start + 2000])
        await uow.commit()
    ids = [f"{execution}:{index}" for index in range(count)]
    mails = []
    for index, message_id in enumerate(ids):
        address = tokens.bounce_address(message_id, BOUNCE_DOMAIN)
        mails.append((address, dsn(address, f"user{index}@example.net")))
    return org.id, Seeded(mails, ids)


async def bounced(container: Container, ids: list[str]) -> int:
    """How many of these messages are ``bounced``."""
    async with container.unit_of_work() as uow:
        total = 0
        for start in range(0, len(ids), 1000):
            total += int(
                await uow.session.scalar(
                    select(func.count())
                    .select_from(Message)
                    .where(Message.id.in_(ids[start : start + 1000]), Message.status == "bounced")
                )
                or 0
            )
        return total


def parse_phase(mails: list[tuple[str, bytes]]) -> dict[str, float]:
    """CPU-µs per mail of our parser and of the email package on the same mails."""
    sample = [raw for _, raw in mails[:PARSE_SAMPLES]]
    assert all(parse_report(raw).recipients[0].status == "5.1.1" for raw in sample[:10])
    parser = BytesParser(policy=compat32)
    results = {}
    for name, parse in (("ours", parse_report), ("email_package", parser.parsebytes)):
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            for raw in sample:
                parse(raw)
            best = min(best, (time.process_time() - start) / len(sample) * 1e6)
        results[name] = best
    return results


async def apply_phase(
    container: Container, tokens: MessageTokens, seeded: Seeded, concurrency: int
) -> dict[str, Any]:
    """Parse + apply every mail in process with ``concurrency`` in flight."""
    intake = FeedbackIntake(container.unit_of_work, tokens)
    queue = list(seeded.mails)
    outcomes: dict[str, int] = {}

    async def feeder() -> None:
        while queue:
            address, raw = queue.pop()
            for outcome in await intake.receive([address], raw, utcnow()):
                outcomes[outcome] = outcomes.get(outcome, 0) + 1

    start, start_cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(feeder() for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    count = len(seeded.mails)
    return {
        "reports": count,
        "wall_s": round(wall, 3),
        "per_s": count / wall,
        "cpu_us_per_report": cpu / count * 1e6,
        "cpu_per_s": count / cpu,
        "outcomes": outcomes,
        "bounced_in_ledger": await bounced(container, seeded.ids),
    }


class _Sink:
    """The bare aiosmtpd baseline: every recipient and mail accepted, nothing read."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 2.0.0 Ok"


async def smtp_phase(port: int, seeded: Seeded, connections: int, work: Path, label: str) -> dict[str, Any]:
    """Send every mail over SMTP from a client subprocess; this process's CPU while it runs."""
    feed = work / f"feed-{label}.msgpack"
    feed.write_bytes(msgspec.msgpack.encode(seeded.mails))
    start, start_cpu = time.perf_counter(), time.process_time()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.feedback",
        "--client",
        str(feed),
        "--port",
        str(port),
        "--connections",
        str(connections),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    out, _ = await process.communicate()
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    client = json.loads(out)
    count = client["accepted"]
    return {
        "reports": count,
        "refused": client["refused"],
        "wall_s": round(wall, 3),
        "per_s": count / wall if wall else 0.0,
        "listener_cpu_us_per_report": cpu / max(count, 1) * 1e6,
        "listener_cpu_per_s": count / cpu if cpu else 0.0,
    }


async def client_main(feed: Path, port: int, connections: int) -> None:
    """The load generator (a separate process): ``connections`` clients, one mail per transaction."""
    mails = msgspec.msgpack.decode(feed.read_bytes(), type=list[tuple[str, bytes]])
    queue = list(reversed(mails))
    accepted = refused = 0

    async def client() -> None:
        nonlocal accepted, refused
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=60) as smtp:
            while queue:
                address, raw = queue.pop()
                try:
                    await smtp.sendmail("", [address], raw)
                    accepted += 1
                except aiosmtplib.SMTPException:
                    refused += 1

    await asyncio.gather(*(client() for _ in range(connections)))
    print(json.dumps({"accepted": accepted, "refused": refused}))


async def measure(backend: Backend, args: Any, work: Path) -> dict[str, Any]:
    """Every phase on one backend."""
    settings = Settings(
        home=work / f"home-{backend.kind}",
        database_url=backend.database_url,
        queue_url=backend.queue_url,
        secret_key=backend.env.get("CLARION_SECRET_KEY", ""),
        redis_prefix=backend.env.get("CLARION_REDIS_PREFIX", "bench-feedback"),
        auto_migrate=False,
        smtp_capture=False,
        feedback_smtp=False,
    )
    settings.home.mkdir(parents=True, exist_ok=True)
    container = Container.build(settings)
    try:
        tokens = MessageTokens(container.secrets)
        _, first = await seed(container, args.messages, tokens)
        parse = parse_phase(first.mails)
        in_process = await apply_phase(container, tokens, first, args.concurrency)

        async with SmtpBaseline() as baseline:
            sink = await smtp_phase(baseline.port, first, args.connections, work, f"{backend.kind}-sink")
        _, second = await seed(container, args.messages, tokens)
        intake = FeedbackIntake(container.unit_of_work, tokens)
        async with FeedbackListener(intake, port=0) as listener:
            over_smtp = await smtp_phase(
                listener.port, second, args.connections, work, f"{backend.kind}-listener"
            )
        over_smtp["bounced_in_ledger"] = await bounced(container, second.ids)
    finally:
        await container.close()
    return {
        "backend": backend.describe(),
        "parse": parse,
        "in_process": in_process,
        "sink": sink,
        "smtp": over_smtp,
    }


class SmtpBaseline:
    """A bare aiosmtpd server on the running loop (``async with``)."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> SmtpBaseline:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(_Sink(), hostname="bench", decode_data=False, data_size_limit=10 * 1024 * 1024),
            host="127.0.0.1",
            port=0,
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def run(kind: str, args: Any, work: Path) -> dict[str, Any]:
    """One backend mode."""
    backend = make_backend(kind, work, name=f"feedback-{kind}", redis_url=args.redis_url)
    try:
        if backend.kind == "embedded":
            upgrade(backend.database_url)  # before the loop: migrations run their own
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(measure(backend, args, work))
    finally:
        backend.cleanup()


def report(results: dict[str, Any]) -> Targets:
    """Print the tables; check the targets."""
    targets = Targets()
    rows = []
    for kind, mode in results["modes"].items():
        parse, in_process, sink, smtp = mode["parse"], mode["in_process"], mode["sink"], mode["smtp"]
        console.print(
            table(
                f"Parsing a 1.4 KB DSN ({kind})",
                ["parser", "CPU-µs/mail", "ratio vs email package"],
                [
                    ["feedback.reports.parse_report", parse["ours"], parse["ours"] / parse["email_package"]],
                    ["email.parser.BytesParser (compat32)", parse["email_package"], 1.0],
                ],
            )
        )
        rows += [
            [
                kind,
                "parse + apply, in process",
                in_process["per_s"],
                in_process["cpu_per_s"],
                in_process["cpu_us_per_report"],
                f"{in_process['bounced_in_ledger']:,}/{in_process['reports']:,}",
            ],
            [
                kind,
                "bare aiosmtpd sink (baseline)",
                sink["per_s"],
                sink["listener_cpu_per_s"],
                sink["listener_cpu_us_per_report"],
                f"{sink['reports']:,} accepted",
            ],
            [
                kind,
                "feedback listener over SMTP",
                smtp["per_s"],
                smtp["listener_cpu_per_s"],
                smtp["listener_cpu_us_per_report"],
                f"{smtp['bounced_in_ledger']:,}/{smtp['reports']:,}",
            ],
        ]
        targets.check(f"{kind}: parse + apply per CPU-second", in_process["cpu_per_s"], TARGET, unit="/s")
        targets.check(
            f"{kind}: over SMTP, per listener CPU-second", smtp["listener_cpu_per_s"], TARGET, unit="/s"
        )
        targets.check(
            f"{kind}: reports lost",
            (in_process["reports"] - in_process["bounced_in_ledger"])
            + (smtp["reports"] - smtp["bounced_in_ledger"])
            + smtp["refused"],
            0,
            at_least=False,
        )
    console.print(
        table(
            "DSNs parsed and applied (ledger bounced + event + suppression asked)",
            ["mode", "path", "reports/s (wall)", "reports per CPU-s", "CPU-µs/report", "checked"],
            rows,
        )
    )
    console.print(targets.render())
    return targets


def main() -> None:
    """Entry point."""
    parser = option_parser(__doc__)
    add_run_options(parser, output="feedback", modes="embedded,production", quiet_wait=False)
    parser.add_argument("--messages", type=int, default=6000, help="reports per phase")
    parser.add_argument("--concurrency", type=int, default=256, help="reports in flight (in process)")
    parser.add_argument("--connections", type=int, default=128, help="SMTP connections of the load generator")
    parser.add_argument(
        "--redis-url", default=REDIS_URL, help="production mode's Redis (db 9 is flushed; others used as is)"
    )
    parser.add_argument("--client", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(client_main(args.client, args.port, args.connections))
        return
    configure_logging("json", "WARNING")  # a log line per report would be measured too
    settings = {"messages": args.messages, "concurrency": args.concurrency, "connections": args.connections}
    run_modes("feedback", args, settings, run, report)


if __name__ == "__main__":
    main()
