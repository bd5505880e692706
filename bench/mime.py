"""MIME writer throughput next to the standard ``email`` package, measured in the same run.

Each message is multipart/alternative: the research sample HTML (``bench/workload/sample_email.html``) and
its ``html_to_text`` alternative, From/To with display names, a per-recipient Subject and address,
Reply-To, a custom header and List-Unsubscribe (+ one-click). Variants: ASCII, Latin (accented words,
the HTML goes quoted-printable) and CJK (Japanese paragraphs, the text goes base64).

- ``skeleton.render``: ``build_skeleton`` once, then one ``render`` per message;
- baseline: ``email.message.EmailMessage`` (SMTP policy, so CRLF like ours) build + ``as_bytes()``;
- reference: the research's minimal hand-rolled writer (f-string headers, always base64, no checks) —
  the ceiling, showing what validation, folding and readable encodings cost.

Single process, single core; each figure is the median of 5 time-boxed rounds, as messages per second
of this process's CPU time (wall-clock rates are reported too, but swing with other load on the machine).
Every writer's output is parsed back once before timing. A second table times the body encoders on the
HTML alone.

Usage: .venv/bin/python -m bench.mime [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import binascii
import email
import os
import platform
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from bench.kit.report import console, table, write_results
from bench.kit.workload import SAMPLE_HTML
from clarion.delivery.channels.email import mime
from clarion.delivery.channels.email.html_text import html_to_text

ROUNDS = 5


@dataclass(frozen=True)
class Variant:
    """One kind of recipient message."""

    name: str
    to_name: str
    subject: str  # "{i}" becomes the message number: subjects are personalized, caches miss
    html: str

    @property
    def text(self) -> str:
        return html_to_text(self.html)


VARIANTS = (
    Variant("ascii", "Ada Lovelace", "Your order ORD-{i} is confirmed", SAMPLE_HTML),
    Variant(
        "latin",
        "Adélaïde Müller",
        "Votre commande ORD-{i} est confirmée ✓",
        SAMPLE_HTML.replace("Hi Ada Lovelace,", "Bonjour Adélaïde Müller,")
        .replace("Thanks for your order", "Merci pour votre commande")
        .replace("We are getting it ready.", "Nous la préparons déjà, à très bientôt.")
        .replace("every future order.", "toutes vos commandes à venir — c'est offert."),
    ),
    Variant(
        "cjk",
        "山田太郎",
        "ご注文 ORD-{i} を承りました",
        SAMPLE_HTML.replace("Hi Ada Lovelace,", "山田太郎様")
        .replace(
            "Thanks for your order <strong>ORD-2024-000123</strong>. We are getting it ready. "
            "Your plan: pro.",
            "ご注文 <strong>ORD-2024-000123</strong> を承りました。ただいま発送の準備をしております。",
        )
        .replace(
            "As a VIP customer you get free express shipping on this and every future order.",
            "VIP会員のお客様は、今回および今後のすべてのご注文で速達配送が無料になります。",
        ),
    ),
)
SKELETON_OPTIONS: dict[str, Any] = {
    "from_address": "noreply@example.com",
    "from_name": "Example Shop",
    "reply_to": "help@example.com",
    "headers": {"X-Campaign-Id": "welcome-series-2024-q4"},
    "list_unsubscribe": "<https://example.com/u/abcdef0123456789>, <mailto:unsubscribe@example.com>",
    "list_unsubscribe_post": True,
    "message_id_domain": "example.com",
}


@dataclass
class Result:
    """One writer on one variant."""

    variant: str
    writer: str
    msgs_per_s: float
    cpu_msgs_per_s: float
    bytes: int
    encodings: str
    ratio_vs_email: float | None = None


def measure(build: Callable[[int], bytes], seconds: float) -> tuple[float, float]:
    """Median messages/s over ``ROUNDS`` time-boxed rounds, by wall clock and by process CPU."""
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(ROUNDS):
        n, start, start_cpu = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - start < seconds / ROUNDS:
            for _ in range(100):
                build(n)
                n += 1
        wall.append(n / (time.perf_counter() - start))
        cpu.append(n / max(time.process_time() - start_cpu, 1e-9))
    return statistics.median(wall), statistics.median(cpu)


def clarion_writer(variant: Variant) -> Callable[[int], bytes]:
    """``render`` on a skeleton built once."""
    skeleton = mime.build_skeleton(**SKELETON_OPTIONS)
    text = variant.text

    def build(i: int) -> bytes:
        return skeleton.render(
            to=f"user{i}@example.org",
            to_name=variant.to_name,
            subject=variant.subject.format(i=i),
            html=variant.html,
            text=text,
        ).raw

    return build


def email_package_writer(variant: Variant) -> Callable[[int], bytes]:
    """The standard library's EmailMessage, everything rebuilt per message (it has no skeleton)."""
    text = variant.text

    def build(i: int) -> bytes:
        message = EmailMessage(policy=policy.SMTP)
        message["From"] = "Example Shop <noreply@example.com>"
        message["To"] = f"{variant.to_name} <user{i}@example.org>"
        message["Subject"] = variant.subject.format(i=i)
        message["Date"] = formatdate()
        message["Message-ID"] = make_msgid(domain="example.com")
        message["Reply-To"] = "help@example.com"
        message["X-Campaign-Id"] = "welcome-series-2024-q4"
        message["List-Unsubscribe"] = SKELETON_OPTIONS["list_unsubscribe"]
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(text)
        message.add_alternative(variant.html, subtype="html")
        return message.as_bytes()

    return build


def reference_writer(variant: Variant) -> Callable[[int], bytes]:
    """The research's minimal writer (eco-bench/fast_mime.py): no validation, no folding, always base64."""
    text = variant.text

    def b64(s: str) -> bytes:
        raw = s.encode()
        return b"".join(
            binascii.b2a_base64(raw[i : i + 57]).replace(b"\n", b"\r\n") for i in range(0, len(raw), 57)
        )

    def word(value: str) -> str:
        return (
            value
            if value.isascii()
            else "=?utf-8?b?" + binascii.b2a_base64(value.encode(), newline=False).decode() + "?="
        )

    def build(i: int) -> bytes:
        boundary = uuid.uuid4().hex.encode()
        head = (
            "From: Example Shop <noreply@example.com>\r\n"
            f"To: {word(variant.to_name)} <user{i}@example.org>\r\n"
            f"Subject: {word(variant.subject.format(i=i))}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@example.com>\r\n"
            f"Date: {formatdate()}\r\nReply-To: help@example.com\r\nX-Campaign-Id: welcome-series-2024-q4\r\n"
            f"List-Unsubscribe: {SKELETON_OPTIONS['list_unsubscribe']}\r\n"
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nMIME-Version: 1.0\r\n"
            f'Content-Type: multipart/alternative; boundary="{boundary.decode()}"\r\n\r\n'
        ).encode()
        part = b"\r\nContent-Type: text/%s; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        return b"".join(
            (
                head,
                b"--",
                boundary,
                part % b"plain",
                b64(text),
                b"--",
                boundary,
                part % b"html",
                b64(variant.html),
                b"--",
                boundary,
                b"--\r\n",
            )
        )

    return build


WRITERS: dict[str, Callable[[Variant], Callable[[int], bytes]]] = {
    "skeleton.render": clarion_writer,
    "EmailMessage+as_bytes": email_package_writer,
    "reference (minimal)": reference_writer,
}


def check(raw: bytes, variant: Variant) -> str:
    """Parse one message back; returns its parts' transfer encodings (text/html)."""
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    parts = list(parsed.iter_parts())
    assert str(parsed["Subject"]) == variant.subject.format(i=0)
    # Writers differ only in whether they add a final line break.
    assert parts[1].get_content().replace("\r\n", "\n").rstrip("\n") == variant.html.rstrip("\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    short = {"quoted-printable": "QP", "base64": "b64"}
    return "/".join(short.get(str(part["Content-Transfer-Encoding"]), "7bit") for part in parts)


def bench_writers(seconds: float) -> list[Result]:
    results: list[Result] = []
    for variant in VARIANTS:
        baseline: float | None = None
        for writer, make in WRITERS.items():
            build = make(variant)
            sample = build(0)
            encodings = check(sample, variant)
            wall, cpu = measure(build, seconds)
            result = Result(variant.name, writer, wall, cpu, len(sample), encodings)
            if writer.startswith("EmailMessage"):
                baseline = cpu
            results.append(result)
        for result in results[-len(WRITERS) :]:
            result.ratio_vs_email = result.cpu_msgs_per_s / baseline if baseline else None
    return results


def bench_encoders(seconds: float) -> list[dict[str, Any]]:
    """Each body encoding of each variant's HTML alone: µs per part and output bytes."""
    rows: list[dict[str, Any]] = []
    encoders: dict[str, Callable[[bytes], bytes]] = {
        "7bit check + CRLF": lambda data: data.replace(b"\n", b"\r\n"),
        "quoted-printable (b2a_qp)": lambda data: binascii.b2a_qp(data.replace(b"\n", b"\r\n"), istext=True),
        "base64 (b2a_base64, 76/line)": lambda data: mime._base64_lines(data.replace(b"\n", b"\r\n")),
    }
    for variant in VARIANTS:
        data = variant.html.encode()
        for name, encode in encoders.items():
            if name.startswith("7bit") and not data.isascii():
                continue
            _, cpu = measure(lambda _, encode=encode, data=data: encode(data), seconds / 3)  # type: ignore[misc]
            rows.append(
                {
                    "variant": variant.name,
                    "encoder": name,
                    "us_per_part": 1e6 / cpu,
                    "bytes": len(encode(data)),
                }
            )
    return rows


def bench_html_to_text(seconds: float) -> dict[str, Any]:
    """``html_to_text`` of the sample template (run once per campaign version, not per message)."""
    _, cpu = measure(lambda _: html_to_text(SAMPLE_HTML).encode(), seconds / 3)
    return {"calls_per_cpu_s": cpu, "us_per_call": 1e6 / cpu, "html_bytes": len(SAMPLE_HTML)}


def render_tables(results: list[Result], encoders: list[dict[str, Any]], to_text: dict[str, Any]) -> None:
    columns = [
        "variant",
        "writer",
        "msgs/CPU-s",
        "CPU µs/msg",
        "wall msgs/s",
        "bytes",
        "text/html CTE",
        "x EmailMessage",
    ]
    rows = [
        [
            r.variant,
            r.writer,
            f"{r.cpu_msgs_per_s:,.0f}",
            f"{1e6 / r.cpu_msgs_per_s:.1f}",
            f"{r.msgs_per_s:,.0f}",
            f"{r.bytes:,}",
            r.encodings,
            f"{r.ratio_vs_email:.1f}x" if r.ratio_vs_email else "-",
        ]
        for r in results
    ]
    caption = (
        "msgs/CPU-s: this process's CPU time (robust when other work shares the 2 cores); wall msgs/s: "
        "elapsed time; x EmailMessage: msgs/CPU-s over the standard library's, same variant, same run"
    )
    title = "MIME build — multipart/alternative, 2.6 KB HTML + text, one core"
    console.print(table(title, columns, rows, caption=caption, left={"writer", "text/html CTE"}))
    rows = [
        [row["variant"], row["encoder"], f"{row['us_per_part']:.1f}", f"{row['bytes']:,}"] for row in encoders
    ]
    title = "Body encoders on the HTML part alone"
    console.print(table(title, ["variant", "encoder", "CPU µs/part", "bytes"], rows, left={"encoder"}))
    console.print(
        f"html_to_text(sample, {to_text['html_bytes']:,} B): {to_text['us_per_call']:.0f} µs per call "
        f"({to_text['calls_per_cpu_s']:,.0f}/CPU-s; once per campaign version)"
    )


def main(args: argparse.Namespace) -> None:
    meta = {
        "seconds_per_writer": args.seconds,
        "rounds": ROUNDS,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average_1m_before": os.getloadavg()[0],
    }
    results = bench_writers(args.seconds)
    encoders = bench_encoders(args.seconds)
    to_text = bench_html_to_text(args.seconds)
    render_tables(results, encoders, to_text)
    payload = {
        "meta": meta,
        "results": [asdict(r) for r in results],
        "encoders": encoders,
        "html_to_text": to_text,
    }
    console.print(f"written {write_results('mime', payload)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=1.0, help="time per writer and variant")
    main(parser.parse_args())
