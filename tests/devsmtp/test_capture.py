"""The bundled SMTP capture server and its outbox, over real sockets and files."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest
import structlog
import uvloop

from clarion.delivery.channels.email.smtp import Relay, SmtpPool
from clarion.devsmtp.outbox import INDEX_NAME, Outbox, bodies_of, subject_of
from clarion.devsmtp.server import ACCEPTED, CaptureServer
from clarion.errors import NotFound

SENDER = "noreply@clarion.test"
ADA = "ada@example.com"
GRACE = "grace@example.org"
SUBJECT = "Réservation confirmée — 東京 ✓ for Ada"
TEXT_BODY = "Hello Ada,\n.leading dot line\n.\n..two dots\nBye\n"
HTML_BODY = "<p>Hello <b>Ada</b></p>\n<p>.dot</p>\n"


def build_message(
    *, to: str, subject: str, text: str = TEXT_BODY, html: str | None = HTML_BODY
) -> EmailMessage:
    """A multipart/alternative message like Clarion sends (text first, then HTML)."""
    message = EmailMessage()
    message["From"] = f"Clarion <{SENDER}>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{abs(hash((to, subject)))}@clarion.test>"
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def wire_bytes(message: EmailMessage) -> bytes:
    """The message as sent on the wire: CRLF line endings, RFC 2047 encoded headers."""
    return message.as_bytes(policy=policy.SMTP)


async def send_raw(port: int, recipients: list[str], raw: bytes) -> str:
    """Send bytes with aiosmtplib (which dot-stuffs them); returns the server's DATA reply."""
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=10) as client:
        errors, response = await client.sendmail(SENDER, recipients, raw)
    assert errors == {}
    return response


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[CaptureServer]:
    """A capture server on a free port, storing under ``tmp_path/outbox``."""
    capture = CaptureServer(Outbox(tmp_path / "outbox"), port=0)
    await capture.start()
    yield capture
    await capture.stop()


async def test_captures_what_was_sent(server: CaptureServer) -> None:
    outbox = server.outbox
    welcome = wire_bytes(build_message(to=f"Ada <{ADA}>", subject=SUBJECT))
    # The cases SMTP transparency must undo: a lone "." line (would end DATA) and lines starting with dots.
    assert b"\r\n.\r\n" in welcome
    assert b"\r\n.leading dot line\r\n" in welcome
    assert b"\r\n..two dots\r\n" in welcome
    assert b"=?utf-8?" in welcome
    assert SUBJECT.encode() not in welcome

    before = datetime.now(UTC)
    reply = await send_raw(server.port, [ADA], welcome)
    assert reply == ACCEPTED.removeprefix("250 ")
    receipt = build_message(to=GRACE, subject="Your receipt", html=None)
    await aiosmtplib.send(receipt, hostname="127.0.0.1", port=server.port, timeout=10)
    after = datetime.now(UTC)

    newest, oldest = outbox.list()
    assert newest.rcpt_tos == (GRACE,)
    assert newest.subject == "Your receipt"
    assert oldest.rcpt_tos == (ADA,)
    assert oldest.mail_from == SENDER
    assert oldest.subject == SUBJECT  # decoded from RFC 2047
    assert oldest.size == len(welcome)
    assert oldest.file_name == f"{oldest.id}.eml"
    assert before <= oldest.received_at <= newest.received_at <= after
    assert oldest.received_at.tzinfo is not None

    assert [mail.id for mail in outbox.list(recipient=ADA)] == [oldest.id]
    assert [mail.id for mail in outbox.list(recipient="GRACE@Example.ORG")] == [newest.id]
    assert outbox.list(recipient="nobody@example.com") == []
    assert outbox.count() == 2
    assert outbox.count(recipient=ADA) == 1

    assert outbox.raw(oldest.id) == welcome  # byte for byte, after dot-unstuffing
    assert (outbox.folder / oldest.file_name).read_bytes() == welcome
    assert outbox.get(oldest.id) == oldest
    parsed = outbox.parse(oldest.id)
    assert parsed["Subject"] == SUBJECT
    assert parsed.get_content_type() == "multipart/alternative"
    bodies = outbox.bodies(oldest.id)
    assert bodies.text is not None
    assert bodies.text.replace("\r\n", "\n") == TEXT_BODY
    assert bodies.html is not None
    assert "<b>Ada</b>" in bodies.html
    receipt_bodies = bodies_of(outbox.parse(newest.id))
    assert receipt_bodies.html is None
    assert receipt_bodies.text is not None
    assert receipt_bodies.text.startswith("Hello Ada")

    index_lines = (outbox.folder / INDEX_NAME).read_text("ascii").splitlines()
    assert [json.loads(line)["id"] for line in index_lines] == [oldest.id, newest.id]
    assert json.loads(index_lines[0])["subject"] == SUBJECT
    assert json.loads(index_lines[0])["received_at"].endswith("Z")

    assert outbox.clear() == 2
    assert outbox.list() == []
    assert outbox.get(oldest.id) is None
    assert sorted(path.name for path in outbox.folder.glob("*.eml")) == []


async def test_clarion_pipelines_to_it_and_every_message_lands(server: CaptureServer) -> None:
    """The server offers PIPELINING; Clarion's SMTP pool then sends MAIL, RCPTs and DATA in one write."""
    welcome = wire_bytes(build_message(to=f"Ada <{ADA}>", subject=SUBJECT))
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=server.port, timeout=10) as client:
        assert client.supports_extension("pipelining")
    async with SmtpPool([Relay("127.0.0.1", server.port, "none")], max_connections=2) as pool:
        results = await asyncio.gather(*(pool.send(SENDER, [ADA, GRACE], welcome) for _ in range(5)))

    assert [r.outcome for r in results] == ["sent"] * 5
    assert server.outbox.count(recipient=GRACE) == 5
    assert {mail.size for mail in server.outbox.list()} == {len(welcome)}  # dots un-stuffed, bytes intact


async def test_restart_keeps_stored_mail(tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    first = CaptureServer(Outbox(folder), port=0)
    await first.start()
    port = first.port
    await send_raw(port, [ADA], wire_bytes(build_message(to=ADA, subject="before restart")))
    await first.stop()
    assert not first.serving

    # Same folder and the same port: stop() released the socket.
    async with CaptureServer(Outbox(folder), port=port) as second:
        assert [mail.subject for mail in second.outbox.list()] == ["before restart"]
        await send_raw(port, [GRACE], wire_bytes(build_message(to=GRACE, subject="after restart")))

    assert [mail.subject for mail in Outbox(folder).list()] == ["after restart", "before restart"]


async def test_stop_closes_idle_sessions(server: CaptureServer) -> None:
    port = server.port
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=10)
    await client.connect()
    await client.ehlo()
    await server.stop()
    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await client.noop()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
    await server.stop()  # a second stop is a no-op


async def test_concurrent_senders_all_land(server: CaptureServer) -> None:
    async def one_connection(worker: int) -> dict[str, bytes]:
        sent: dict[str, bytes] = {}
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=server.port, timeout=10) as client:
            for n in range(5):
                message = build_message(to=f"user{worker}@example.com", subject=f"message {worker}-{n}")
                raw = wire_bytes(message)
                await client.sendmail(SENDER, [f"user{worker}@example.com"], raw)
                sent[f"message {worker}-{n}"] = raw
        return sent

    results = await asyncio.gather(*(one_connection(worker) for worker in range(4)))
    sent = {subject: raw for result in results for subject, raw in result.items()}
    listed = server.outbox.list(limit=100)
    assert len(listed) == 20
    assert len({mail.id for mail in listed}) == 20
    for mail in listed:
        assert server.outbox.raw(mail.id) == sent[mail.subject]
    assert len(server.outbox.list(recipient="user2@example.com")) == 5


async def test_large_message_accepted_and_oversize_rejected(tmp_path: Path) -> None:
    big = build_message(to=ADA, subject="big attachment")
    big.add_attachment(os.urandom(3 * 1024 * 1024), maintype="application", subtype="octet-stream")
    big_raw = wire_bytes(big)
    async with CaptureServer(Outbox(tmp_path / "big"), port=0) as capture:
        await send_raw(capture.port, [ADA], big_raw)
        (mail,) = capture.outbox.list()
        assert capture.outbox.raw(mail.id) == big_raw
        assert capture.outbox.bodies(mail.id).text is not None

    async with CaptureServer(Outbox(tmp_path / "small"), port=0, data_size_limit=1024) as capture:
        # aiosmtplib honours the advertised SIZE and is refused at MAIL FROM; either way, 552.
        with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
            await send_raw(capture.port, [ADA], big_raw)
        assert refused.value.code == 552
        # A client that does not declare SIZE is cut off during DATA instead.
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=capture.port, timeout=10) as client:
            await client.mail(SENDER)
            await client.rcpt(ADA)
            with pytest.raises(aiosmtplib.SMTPDataError) as refused:
                await client.data(big_raw)
            assert refused.value.code == 552
            assert (await client.noop()).code == 250  # the session survives
        assert capture.outbox.list() == []


async def test_store_failure_answers_retry_later(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("in the way")
    async with CaptureServer(Outbox(not_a_folder), port=0) as capture:
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await send_raw(capture.port, [ADA], wire_bytes(build_message(to=ADA, subject="lost")))
        assert refused.value.code == 451


async def test_log_lines_carry_envelope_not_content(server: CaptureServer) -> None:
    with structlog.testing.capture_logs() as events:
        await send_raw(server.port, [ADA], wire_bytes(build_message(to=ADA, subject=SUBJECT)))
    (captured,) = [event for event in events if event["event"] == "devsmtp.captured"]
    assert captured["mail_from"] == SENDER
    assert captured["rcpt_tos"] == [ADA]
    assert captured["id"] == server.outbox.list()[0].id
    assert "leading dot line" not in repr(events)
    assert SUBJECT not in repr(events)


def test_runs_on_uvloop(tmp_path: Path) -> None:
    """``clarion serve`` runs on uvloop (uvicorn[standard]); the server must work there too."""

    async def scenario() -> None:
        async with CaptureServer(Outbox(tmp_path / "outbox"), port=0) as capture:
            raw = wire_bytes(build_message(to=ADA, subject=SUBJECT))
            await send_raw(capture.port, [ADA], raw)
            idle = aiosmtplib.SMTP(hostname="127.0.0.1", port=capture.port, timeout=10)
            await idle.connect()
        with pytest.raises(aiosmtplib.SMTPServerDisconnected):
            await idle.noop()
        (mail,) = Outbox(tmp_path / "outbox").list()
        assert mail.subject == SUBJECT
        assert Outbox(tmp_path / "outbox").raw(mail.id) == raw

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(scenario())


async def test_port_needs_a_start(tmp_path: Path) -> None:
    capture = CaptureServer(Outbox(tmp_path), port=0)
    with pytest.raises(RuntimeError):
        _ = capture.port
    await capture.stop()  # stopping a server that never started is harmless
    async with capture:
        with pytest.raises(RuntimeError):
            await capture.start()


def test_list_pages_newest_first_with_filter(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path)
    stored = [
        outbox.store(
            SENDER, [ADA if n % 2 == 0 else GRACE], wire_bytes(build_message(to=ADA, subject=f"n{n}"))
        )
        for n in range(7)
    ]
    assert [mail.subject for mail in outbox.list(limit=3)] == ["n6", "n5", "n4"]
    assert [mail.subject for mail in outbox.list(limit=3, offset=5)] == ["n1", "n0"]
    assert [mail.subject for mail in outbox.list(recipient=ADA, limit=2, offset=1)] == ["n4", "n2"]
    assert outbox.list(limit=0) == []
    assert outbox.count(recipient=GRACE) == 3
    assert [mail.id for mail in outbox.list()] == [mail.id for mail in reversed(stored)]
    with pytest.raises(ValueError, match="must not be negative"):
        outbox.list(offset=-1)


def test_unknown_ids(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "never-created")
    assert outbox.list() == []
    assert outbox.get("missing") is None
    with pytest.raises(NotFound):
        outbox.raw("missing")
    with pytest.raises(NotFound):
        outbox.parse("../index.jsonl")
    assert outbox.clear() == 0
    assert not (tmp_path / "never-created").exists()


def test_second_instance_follows_appends_and_clears(tmp_path: Path) -> None:
    """The CLI reads the folder the server writes: another Outbox sees new mail and a clear."""
    writer, reader = Outbox(tmp_path), Outbox(tmp_path)
    first = writer.store(SENDER, [ADA], b"Subject: one\r\n\r\nbody\r\n")
    assert [mail.id for mail in reader.list()] == [first.id]
    second = writer.store(SENDER, [ADA], b"Subject: two\r\n\r\nbody\r\n")
    assert [mail.id for mail in reader.list()] == [second.id, first.id]

    assert writer.clear() == 2
    # A rewritten index, longer than what the reader had read and possibly under the same inode number.
    fresh = [writer.store(SENDER, [GRACE], f"Subject: fresh {n}\r\n\r\nx\r\n".encode()) for n in range(4)]
    assert [mail.id for mail in reader.list()] == [mail.id for mail in reversed(fresh)]
    assert reader.get(first.id) is None
    assert reader.raw(fresh[0].id) == b"Subject: fresh 0\r\n\r\nx\r\n"


def test_torn_index_line_is_skipped(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path)
    first = outbox.store(SENDER, [ADA], b"Subject: first\r\n\r\nx\r\n")
    with open(tmp_path / INDEX_NAME, "ab") as index:  # what a crash mid-append leaves
        index.write(b'{"id":"torn-line","rece')
    reader = Outbox(tmp_path)
    assert [mail.id for mail in reader.list()] == [first.id]
    second = outbox.store(SENDER, [ADA], b"Subject: second\r\n\r\nx\r\n")
    assert [mail.id for mail in reader.list()] == [second.id, first.id]
    assert [mail.id for mail in Outbox(tmp_path).list()] == [second.id, first.id]


def test_clear_removes_orphans_and_keeps_foreign_files(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path)
    outbox.store(SENDER, [ADA], b"Subject: listed\r\n\r\nx\r\n")
    (tmp_path / "orphan.eml").write_bytes(b"left by a crash between rename and index append")
    (tmp_path / "notes.txt").write_text("not ours")
    assert outbox.clear() == 2
    assert sorted(path.name for path in tmp_path.iterdir() if not path.name.startswith(".")) == ["notes.txt"]


def test_subject_decoding_edge_cases() -> None:
    assert subject_of(b"From: a@b\r\n\r\nSubject: in the body\r\n") == ""
    assert subject_of(b"Subject: =?utf-8?q?caf=C3=A9?=\r\n continued\r\n\r\nbody") == "café continued"
    assert subject_of(b"Subject: raw caf\xc3\xa9\n\nbare LF message") == "raw café"
    assert subject_of(b"Subject: \xff\xfe junk\r\n\r\n") == "\ufffd\ufffd junk"
