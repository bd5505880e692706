"""DSN, ARF and auto-reply mails built per the RFCs with the ``email`` package (independent of the parser)."""

from __future__ import annotations

import base64
from email import message_from_bytes, policy
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid

ORIGINAL = (
    b"From: Shop <news@shop.example>\r\nTo: ada@example.net\r\nSubject: Your order\r\n"
    b"Message-ID: <1.abc@shop.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nHello\r\n"
)


def _fields(*blocks: list[tuple[str, str]]) -> str:
    return "\r\n".join("\r\n".join(f"{name}: {value}" for name, value in block) + "\r\n" for block in blocks)


def _report(
    report_type: str, to: str, subject: str, parts: list[Message], *, placeholder: str = "", **headers: str
) -> bytes:
    mail = MIMEMultipart("report", report_type=report_type)
    mail["From"] = headers.pop("from_", "MAILER-DAEMON@mx.example.net")
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = formatdate()
    mail["Message-ID"] = make_msgid(domain="mx.example.net")
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    for part in parts:
        mail.attach(part)
    raw = mail.as_bytes(policy=WIRE)
    return raw.replace(f"application/{PLACEHOLDER}".encode(), placeholder.encode()) if placeholder else raw


PLACEHOLDER = "x-placeholder"
WIRE = policy.SMTP.clone(max_line_length=998)
"""CRLF; long lines are not folded (the package would turn a long bounce address into encoded words)."""


def _part(content_type: str, blocks: list[list[tuple[str, str]]], *, encoding: str = "7bit") -> Message:
    """A ``message/*`` report part of header blocks; base64-encoded or of a type the package does not know
    (``global-delivery-status``) under a placeholder type, swapped for the real one by ``_report``."""
    if encoding == "base64" or content_type not in ("message/delivery-status", "message/feedback-report"):
        part = MIMEBase("application", PLACEHOLDER)
        text = _fields(*blocks)
        if encoding == "base64":
            part.set_payload(base64.encodebytes(text.encode()).decode())
            part["Content-Transfer-Encoding"] = "base64"
        else:
            part.set_payload(text)
        return part
    maintype, subtype = content_type.split("/")
    part = MIMEBase(maintype, subtype)
    payload: list[Message | str] = []
    for block in blocks:
        fields = Message()
        for name, value in block:
            fields[name] = value
        payload.append(fields)
    part.set_payload(payload)
    return part


def dsn(
    to: str,
    *recipients: tuple[str, str, str, str],
    encoding: str = "7bit",
    status_type: str = "message/delivery-status",
    original: bytes = ORIGINAL,
) -> bytes:
    """A DSN to ``to`` with per-recipient blocks ``(final recipient, action, status, diagnostic)``."""
    blocks = [[("Reporting-MTA", "dns; mx.example.net"), ("Arrival-Date", formatdate())]]
    for recipient, action, status, diagnostic in recipients:
        block = [("Final-Recipient", f"rfc822; {recipient}"), ("Action", action)]
        if status:
            block.append(("Status", status))
        if diagnostic:
            block.append(("Diagnostic-Code", f"smtp; {diagnostic}"))
        blocks.append(block)
    return _report(
        "delivery-status",
        to,
        "Undelivered Mail Returned to Sender",
        [
            MIMEText("This is the mail system at host mx.example.net.\n", "plain"),
            _part(status_type, blocks, encoding=encoding),
            MIMEText(original.split(b"\r\n\r\n")[0].decode() + "\r\n", "rfc822-headers"),
        ],
        placeholder=status_type,
        Auto_Submitted="auto-replied",
    )


def arf(
    to: str,
    *,
    feedback_type: str = "abuse",
    original_mail_from: str = "",
    return_path: str = "",
    user_agent: str = "SomeFBL/1.0",
) -> bytes:
    """An RFC 5965 feedback report with the original message attached (``message/rfc822``)."""
    fields = [("Feedback-Type", feedback_type), ("User-Agent", user_agent), ("Version", "1")]
    if original_mail_from:
        fields.append(("Original-Mail-From", f"<{original_mail_from}>"))
    fields.append(("Arrival-Date", formatdate()))
    original = (f"Return-Path: <{return_path}>\r\n".encode() if return_path else b"") + ORIGINAL
    returned = MIMEBase("message", "rfc822")
    returned.set_payload([message_from_bytes(original, policy=policy.compat32)])
    return _report(
        "feedback-report",
        to,
        "FW: Your order",
        [
            MIMEText("This is an email abuse report.\n", "plain"),
            _part("message/feedback-report", [fields]),
            returned,
        ],
        from_="feedback@fbl.example.org",
    )


def auto_reply(to: str, **headers: str) -> bytes:
    """A plain reply carrying ``headers`` (e.g. ``Auto_Submitted="auto-replied"``)."""
    mail = MIMEText("I am away until Monday.\n", "plain", "utf-8")
    mail["From"] = "ada@example.net"
    mail["To"] = to
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    if "Subject" not in mail:
        mail["Subject"] = "Re: Your order"
    return mail.as_bytes(policy=WIRE)
