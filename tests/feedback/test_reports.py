"""The report parser: DSNs, ARF complaints, auto-replies; hostile input never makes it raise."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import Message

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clarion.devsmtp import simulator
from clarion.feedback.reports import parse_report
from clarion.feedback.schemas import RecipientStatus, Report
from tests.feedback.reports import ORIGINAL, arf, auto_reply, dsn

VERP = "b-abcdef@bounces.shop.example"


def test_a_dsn_gives_each_recipient_block() -> None:
    raw = dsn(
        VERP,
        ("ada@example.net", "failed", "5.1.1", "550 5.1.1 <ada@example.net>: Recipient address rejected"),
        ("bob@example.net", "delayed", "4.4.1", "421 4.4.1 connection timed out"),
    )
    report = parse_report(raw)
    assert report == Report(
        "dsn",
        recipients=(
            RecipientStatus(
                "ada@example.net",
                "failed",
                "5.1.1",
                "550 5.1.1 <ada@example.net>: Recipient address rejected",
            ),
            RecipientStatus("bob@example.net", "delayed", "4.4.1", "421 4.4.1 connection timed out"),
        ),
    )


def test_folded_fields_bare_newlines_and_a_base64_status_part_are_read() -> None:
    long = "552 5.2.2 mailbox full " + " ".join(["over quota"] * 20)
    folded = dsn(VERP, ("ada@example.net", "FAILED", "5.2.2", long)).replace(
        b"mailbox full over quota over", b"mailbox full\r\n    over quota\r\n\tover"
    )
    (block,) = parse_report(folded).recipients
    assert (block.action, block.status) == ("failed", "5.2.2")
    assert block.diagnostic == long

    bare = parse_report(folded.replace(b"\r\n", b"\n"))
    assert bare.recipients == parse_report(folded).recipients

    encoded = parse_report(dsn(VERP, ("ada@example.net", "failed", "5.1.1", "550 no"), encoding="base64"))
    assert encoded.recipients == (RecipientStatus("ada@example.net", "failed", "5.1.1", "550 no"),)


def test_global_dsn_of_rfc_6533_is_read() -> None:
    raw = dsn(VERP, ("ada@example.net", "failed", "5.1.1", ""), status_type="message/global-delivery-status")
    assert parse_report(raw).recipients[0].status == "5.1.1"


def test_a_dsn_without_a_readable_status_part_is_unparsed() -> None:
    raw = dsn(VERP, ("ada@example.net", "failed", "5.1.1", "x"))
    broken = raw.replace(b"Action: failed", b"Action: exploded")
    report = parse_report(broken)
    assert report.kind == "unparsed"
    assert "delivery-status" in report.reason


def test_an_arf_abuse_report_names_its_original_envelope() -> None:
    raw = arf("fbl@bounces.shop.example", original_mail_from=VERP, return_path="b-other@bounces.shop.example")
    assert parse_report(raw) == Report(
        "complaint",
        feedback_type="abuse",
        user_agent="SomeFBL/1.0",
        addresses=(VERP, "b-other@bounces.shop.example"),
    )
    other = parse_report(arf(VERP, feedback_type="Not-Spam"))
    assert (other.kind, other.feedback_type, other.addresses) == ("complaint", "not-spam", ())


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied; vacation"},
        {"X_Autoreply": "yes"},
        {"X_Autorespond": "on"},
        {"Precedence": "auto_reply"},
        {"Subject": "Out of Office: Your order"},
        {"Subject": "Automatic reply: Your order"},
        {"Subject": "=?utf-8?q?R=C3=A9ponse_automatique_:_Your_order?="},
        {"Subject": "Abwesenheitsnotiz: Ihre Bestellung"},
    ],
)
def test_auto_replies_are_recognized(headers: dict[str, str]) -> None:
    report = parse_report(auto_reply(VERP, **headers))
    assert report.kind == "auto_reply"
    assert report.reason


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\r\n\r\n",
        b"Subject: hello\r\n\r\nJust a reply from a person\r\n",
        b"Content-Type: multipart/report; report-type=delivery-status\r\n\r\nno boundary",
        b'Content-Type: multipart/report; report-type=disposition-notification; boundary="b"\r\n\r\n--b--',
        ORIGINAL,
    ],
)
def test_anything_else_is_unparsed(raw: bytes) -> None:
    assert parse_report(raw).kind == "unparsed"


def test_the_simulators_reports_are_read_as_what_they_are() -> None:
    original = b"Subject: Your order\r\nMessage-ID: <1@shop.example>\r\n\r\nHello\r\n"
    complaint = parse_report(simulator.arf_report(VERP, "complaint@simulator.clarion.test", original))
    assert (complaint.kind, complaint.feedback_type, complaint.addresses) == ("complaint", "abuse", (VERP,))
    bounce = parse_report(simulator.dsn(VERP, "bounce-async@simulator.clarion.test", original))
    assert bounce.kind == "dsn"
    (block,) = bounce.recipients
    assert (block.recipient, block.action, block.status) == (
        "bounce-async@simulator.clarion.test",
        "failed",
        "5.1.1",
    )
    assert block.diagnostic.startswith("550 5.1.1 <bounce-async@simulator.clarion.test>")
    headers = message_from_bytes(original, policy=policy.compat32)
    assert parse_report(simulator.auto_reply(VERP, "ooto@simulator.clarion.test", headers)).kind == (
        "auto_reply"
    )


# --- Properties ------------------------------------------------------------------------------------------

SAMPLES = [
    dsn(VERP, ("ada@example.net", "failed", "5.1.1", "550 5.1.1 user unknown")),
    dsn(VERP, ("ada@example.net", "failed", "5.1.1", "550 no"), encoding="base64"),
    arf(VERP, original_mail_from=VERP, return_path=VERP),
    auto_reply(VERP, Auto_Submitted="auto-replied"),
]


@settings(max_examples=400, deadline=None)
@given(raw=st.binary(max_size=4096))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    assert parse_report(raw).kind in ("dsn", "complaint", "auto_reply", "unparsed")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sample=st.sampled_from(SAMPLES),
    cut=st.integers(min_value=0, max_value=4000),
    edits=st.lists(
        st.tuples(st.integers(min_value=0, max_value=4000), st.binary(min_size=0, max_size=12)), max_size=8
    ),
)
def test_truncated_and_garbled_reports_never_raise(
    sample: bytes, cut: int, edits: list[tuple[int, bytes]]
) -> None:
    raw = bytearray(sample[: max(cut, 1)])
    for position, replacement in edits:
        at = position % (len(raw) + 1)
        raw[at : at + len(replacement)] = replacement
    report = parse_report(bytes(raw))
    assert report.kind in ("dsn", "complaint", "auto_reply", "unparsed")
    for block in report.recipients:
        assert block.action in ("failed", "delayed", "delivered", "relayed", "expanded")
        assert len(block.diagnostic) <= 1000


@settings(max_examples=100, deadline=None)
@given(
    charset=st.sampled_from(["utf-8", "latin-1", "utf-16", "shift_jis", "x-unknown", ""]),
    text=st.text(max_size=200),
)
def test_wrong_charsets_never_raise(charset: str, text: str) -> None:
    body = text.encode("utf-16" if charset == "utf-16" else "utf-8", "surrogatepass")
    raw = SAMPLES[0].replace(
        b"Content-Type: message/delivery-status",
        b"Content-Type: message/delivery-status" + (f"; charset={charset}".encode() if charset else b""),
    )
    raw = raw.replace(
        b"Status: 5.1.1", b"Status: 5.1.1\r\nX-Note: " + body.replace(b"\r", b"").replace(b"\n", b"")
    )
    subject = (
        f"Subject: =?{charset or 'bogus'}?B?{text.encode('utf-8', 'surrogatepass').hex()}?=\r\n".encode()
    )
    assert parse_report(subject + raw).kind in ("dsn", "unparsed")


def test_huge_headers_and_many_parts_stay_bounded() -> None:
    bomb = b"".join(b"X-Field-%d: %s\r\n" % (index, b"v" * 900) for index in range(20_000))
    assert parse_report(bomb + b"\r\nbody").kind == "unparsed"
    folded = b"Subject: Out of Office" + b"\r\n x" * 50_000 + b"\r\n\r\nbody"
    assert parse_report(folded).kind == "auto_reply"
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\npart\r\n" for _ in range(10_000))
    many = (
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        + parts
        + b"--b--"
    )
    assert parse_report(many).kind == "unparsed"
    blocks = b"".join(
        b"Final-Recipient: rfc822; u%d@x\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n" % i for i in range(5000)
    )
    raw = (
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n"
        + blocks
        + b"--b--\r\n"
    )
    assert len(parse_report(raw).recipients) == 1000


def blocks_of(part: Message) -> list[Message]:
    """The header blocks the ``email`` package parsed a ``message/*`` report part into."""
    payload = part.get_payload()
    assert isinstance(payload, list)
    return [block for block in payload if isinstance(block, Message)]


@settings(max_examples=150, deadline=None)
@given(
    blocks=st.lists(
        st.tuples(
            st.from_regex(r"[a-z]{1,12}@[a-z]{1,10}\.example", fullmatch=True),
            st.sampled_from(["failed", "delayed", "delivered", "relayed", "expanded"]),
            st.from_regex(r"[245]\.[0-9]{1,3}\.[0-9]{1,3}", fullmatch=True),
            st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=300).map(
                lambda text: " ".join(text.split())
            ),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_dsn_fields_agree_with_the_email_package(blocks: list[tuple[str, str, str, str]]) -> None:
    raw = dsn(VERP, *blocks)
    parsed = message_from_bytes(raw, policy=policy.compat32)
    status_part = next(part for part in parsed.walk() if part.get_content_type() == "message/delivery-status")
    expected = []
    for block in blocks_of(status_part)[1:]:
        diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).partition(";")[2].split())
        expected.append(
            RecipientStatus(
                str(block["Final-Recipient"]).partition(";")[2].strip(),
                str(block["Action"]),
                str(block["Status"]),
                diagnostic,
            )
        )
    assert list(parse_report(raw).recipients) == expected
