"""The MIME writer, checked by parsing every message back with the standard ``email`` package."""

from __future__ import annotations

import asyncio
import base64
import binascii
import email
import re
import smtplib
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clarion.delivery.channels.email.mime import MessageSkeleton, RenderedMessage, build_skeleton

BARE_CR_OR_LF = re.compile(rb"\r(?!\n)|(?<!\r)\n")
ENCODED_WORD = re.compile(r"=\?utf-8\?([qb])\?([^?]*)\?=")
HTML = "<p>Hello <b>Ada</b> &amp; co</p>\n<p>Your order ORD-1 is ready.</p>\n"
TEXT = "Hello Ada & co\n\nYour order ORD-1 is ready.\n"


def skeleton(**overrides: Any) -> MessageSkeleton:
    """A skeleton with every campaign-level header set, overridable per test."""
    options: dict[str, Any] = {
        "from_address": "noreply@shop.example",
        "from_name": "Example Shop",
        "reply_to": "help@shop.example",
        "headers": {"X-Campaign-Id": "welcome-2024", "X-Priority": "3"},
        "list_unsubscribe": "<https://shop.example/u/abc>, <mailto:unsub@shop.example?subject=u>",
        "list_unsubscribe_post": True,
        "message_id_domain": "mail.shop.example",
    }
    return build_skeleton(**(options | overrides))


def parse(message: RenderedMessage) -> EmailMessage:
    """Check the wire form, then parse it back as a mail client would."""
    assert_wire_form(message.raw)
    parsed = email.message_from_bytes(message.raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert not parsed.defects
    return parsed


def assert_wire_form(raw: bytes) -> None:
    """ASCII only, CRLF only, no line over 998 octets, header lines ≤ 78 where the writer folds."""
    assert raw.isascii()
    assert BARE_CR_OR_LF.search(raw) is None
    assert raw.endswith(b"\r\n")
    head, _, _ = raw.partition(b"\r\n\r\n")
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    for line in head.split(b"\r\n"):
        if line.startswith((b"Subject:", b"From:", b"To:", b" =?")):
            assert len(line) <= 78, line


def canonical(body: str) -> str:
    """What a body reads back as: line breaks normalized to LF, a final one added when missing."""
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    return body + "\n" if body and not body.endswith("\n") else body


def bodies(parsed: EmailMessage) -> dict[str, str]:
    """Decoded text bodies by content type, line ends normalized to LF."""
    parts = list(parsed.iter_parts()) if parsed.is_multipart() else [parsed]
    return {part.get_content_type(): part.get_content().replace("\r\n", "\n") for part in parts}


def encodings(parsed: EmailMessage) -> dict[str, str]:
    """Content-Transfer-Encoding by content type."""
    parts = list(parsed.iter_parts()) if parsed.is_multipart() else [parsed]
    return {part.get_content_type(): part["Content-Transfer-Encoding"] for part in parts}


def test_every_header_and_both_bodies_round_trip() -> None:
    when = datetime(2024, 11, 5, 9, 30, 15, tzinfo=timezone(timedelta(hours=2)))
    message = skeleton().render(
        to="ada@example.org",
        to_name="Ada Lovelace",
        subject="Your order ORD-1 is confirmed",
        html=HTML,
        text=TEXT,
        message_id="<order-1@mail.shop.example>",
        date=when,
        extra_headers={"X-Recipient-Id": "usr_123"},
    )
    parsed = parse(message)
    assert message.message_id == "<order-1@mail.shop.example>"
    assert str(parsed["From"]) == "Example Shop <noreply@shop.example>"
    assert str(parsed["To"]) == "Ada Lovelace <ada@example.org>"
    assert str(parsed["Reply-To"]) == "help@shop.example"
    assert str(parsed["Subject"]) == "Your order ORD-1 is confirmed"
    assert parsed["Message-ID"] == "<order-1@mail.shop.example>"
    assert parsed["Date"].datetime == when
    assert parsed["MIME-Version"] == "1.0"
    assert parsed["X-Campaign-Id"] == "welcome-2024"
    assert parsed["X-Priority"] == "3"
    assert parsed["X-Recipient-Id"] == "usr_123"
    assert parsed["List-Unsubscribe"] == "<https://shop.example/u/abc>, <mailto:unsub@shop.example?subject=u>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert bodies(parsed) == {"text/plain": TEXT, "text/html": HTML}
    assert encodings(parsed) == {"text/plain": "7bit", "text/html": "7bit"}


@pytest.mark.parametrize(
    ("name", "subject", "body"),
    [
        pytest.param(
            "Adélaïde Müller",
            "Crème brûlée à la carte, ça va ?",
            "Bonjour Adélaïde,\nÀ bientôt !",
            id="latin1",
        ),
        pytest.param("Ada 🎉", "🎉 Party time 🚀 — 50% off", "Party 🎉🎉 starts now 🚀\n", id="emoji"),
        pytest.param(
            "山田太郎", "ご注文ありがとうございます", "山田様\nご注文ありがとうございます。\n", id="cjk"
        ),
        pytest.param("Ωμέγα Ελλάδα", "Παραγγελία 東京 ✓", "Γεια σας 東京 ✓\n", id="mixed"),
    ],
)
def test_non_ascii_names_subjects_and_bodies_round_trip(name: str, subject: str, body: str) -> None:
    html = f"<p>{body}</p>\n"
    parsed = parse(
        skeleton(from_name=name).render(
            to="ada@example.org", to_name=name, subject=subject, html=html, text=body
        )
    )
    assert parsed["From"].addresses[0].display_name == name
    assert parsed["To"].addresses[0].display_name == name
    assert parsed["To"].addresses[0].addr_spec == "ada@example.org"
    assert str(parsed["Subject"]) == subject
    assert bodies(parsed) == {"text/plain": canonical(body), "text/html": html}


def test_mostly_ascii_bodies_are_quoted_printable_and_cjk_bodies_base64() -> None:
    html = "<p>" + "Thanks for your order, " * 20 + "à bientôt</p>\n"
    text = "ご注文ありがとうございます。\n" * 5
    parsed = parse(skeleton().render(to="ada@example.org", subject="s", html=html, text=text))
    assert encodings(parsed) == {"text/plain": "base64", "text/html": "quoted-printable"}
    assert bodies(parsed) == {"text/plain": text, "text/html": html}
    assert b"Thanks for your order" in list(parsed.iter_parts())[1].as_bytes()  # QP stays readable


@pytest.mark.parametrize(
    ("display_name", "expected"),
    [
        ("Lovelace, Ada", '"Lovelace, Ada"'),
        ('Ada "Countess" Lovelace', r'"Ada \"Countess\" Lovelace"'),
        ("Back\\slash (Co.)", r'"Back\\slash (Co.)"'),
        ("Ada  Lovelace ", '"Ada  Lovelace "'),
        ("=?utf-8?q?fake?=", "=?utf-8?b?" + base64.b64encode(b"=?utf-8?q?fake?=").decode() + "?="),
    ],
)
def test_display_names_with_specials_are_quoted_or_encoded(display_name: str, expected: str) -> None:
    message = skeleton().render(to="ada@example.org", to_name=display_name, subject="s", html=None, text="t")
    assert f"To: {expected} <ada@example.org>\r\n".encode() in message.raw
    assert parse(message)["To"].addresses[0].display_name == display_name


def test_long_non_ascii_name_splits_into_valid_encoded_words() -> None:
    name = "Marie-Françoise Élisabeth de la Rochefoucauld-Liancourt 山田"
    message = skeleton().render(to="ada@example.org", to_name=name, subject="s", html=None, text="t")
    parse(message)
    raw_to = email.message_from_bytes(message.raw, policy=policy.compat32)["To"]
    assert_encoded_words_stand_alone(raw_to)
    # Python 3.11's address parser keeps the blank between two encoded words in a display name, which
    # RFC 2047 §6.2 says to drop (mail clients do); the older decode_header API follows the RFC.
    assert str(make_header(decode_header(raw_to))) == f"{name} <ada@example.org>"


@pytest.mark.parametrize("display_name", ["\t", "a\tb", " \x1f", " \xa0", "x \u3000", "\x00"])
def test_blank_and_control_characters_in_names_are_encoded_faithfully(display_name: str) -> None:
    message = skeleton().render(to="ada@example.org", to_name=display_name, subject="s", html=None, text="t")
    parse(message)
    raw_to = email.message_from_bytes(message.raw, policy=policy.compat32)["To"]
    assert str(make_header(decode_header(raw_to))) == f"{display_name} <ada@example.org>"


def assert_encoded_words_stand_alone(header_value: str) -> None:
    """Every encoded word is ≤ 75 characters and decodes to whole UTF-8 characters on its own."""
    words = ENCODED_WORD.findall(header_value)
    assert len(words) > 1
    for kind, payload in words:
        assert len(payload) + 12 <= 75
        raw = base64.b64decode(payload) if kind == "b" else binascii.a2b_qp(payload.encode(), header=True)
        raw.decode("utf-8")  # raises if a character was split between two words


@pytest.mark.parametrize(
    "subject",
    [
        pytest.param("Your order " + "is confirmed and on its way to you " * 8, id="ascii-words"),
        pytest.param("Ihre Bestellung " + "ist bestätigt und unterwegs zu Ihnen " * 6, id="latin1"),
        pytest.param("ご注文ありがとうございます" * 8, id="cjk"),
        pytest.param("🎉🚀" * 40, id="emoji"),
    ],
)
def test_long_subjects_fold_at_78(subject: str) -> None:
    message = skeleton().render(to="ada@example.org", subject=subject, html=None, text="t")
    assert str(parse(message)["Subject"]) == subject
    raw_subject = email.message_from_bytes(message.raw, policy=policy.compat32)["Subject"]
    assert "\r\n " in raw_subject or "\n " in raw_subject
    if not subject.isascii():
        assert_encoded_words_stand_alone(raw_subject)


def test_ascii_subject_with_a_word_over_998_octets_is_encoded() -> None:
    subject = "token " + "x" * 1500
    message = skeleton().render(to="ada@example.org", subject=subject, html=None, text="t")
    assert str(parse(message)["Subject"]) == subject


def test_long_lines_are_quoted_printable() -> None:
    text = "short line\n" + "a" * 2000 + "\n" + "b " * 700 + "\n"
    parsed = parse(skeleton().render(to="ada@example.org", subject="s", html=None, text=text))
    assert encodings(parsed) == {"text/plain": "quoted-printable"}
    assert bodies(parsed) == {"text/plain": text}


def test_a_line_of_exactly_998_octets_stays_7bit() -> None:
    text = "a" * 998 + "\n"
    parsed = parse(skeleton().render(to="ada@example.org", subject="s", html=None, text=text))
    assert encodings(parsed) == {"text/plain": "7bit"}
    assert bodies(parsed) == {"text/plain": text}


@pytest.mark.parametrize(
    ("text", "html", "content_type"),
    [("only text\n", None, "text/plain"), (None, "<p>only html</p>", "text/html")],
)
def test_single_part_messages(text: str | None, html: str | None, content_type: str) -> None:
    parsed = parse(skeleton().render(to="ada@example.org", subject="s", html=html, text=text))
    assert not parsed.is_multipart()
    assert parsed.get_content_type() == content_type
    assert bodies(parsed) == {content_type: canonical(text or html or "")}


def test_a_message_needs_a_body() -> None:
    with pytest.raises(ValueError, match="html or a text body"):
        skeleton().render(to="ada@example.org", subject="s", html=None, text=None)


@pytest.mark.parametrize("body", ["", "\n", "no final newline", "mixed\r\nline\rends\n"])
def test_body_line_ends_are_canonical(body: str) -> None:
    parsed = parse(skeleton().render(to="ada@example.org", subject="s", html=body, text=body))
    assert bodies(parsed) == {"text/plain": canonical(body), "text/html": canonical(body)}


DOTTED = ".\n..\n.hidden\nline\n. \n"


def test_lines_starting_with_a_dot_round_trip() -> None:
    parsed = parse(skeleton().render(to="ada@example.org", subject="s", html=DOTTED, text=DOTTED + "é"))
    assert bodies(parsed) == {"text/plain": canonical(DOTTED + "é"), "text/html": DOTTED}


class _Keep:
    """aiosmtpd handler keeping each message's bytes as received (after the server removed dot-stuffing)."""

    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(envelope.original_content)
        return "250 OK"


@pytest.fixture
async def smtp_sink() -> AsyncIterator[tuple[int, _Keep]]:
    """A real aiosmtpd server on an ephemeral port."""
    handler = _Keep()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, hostname="sink.test"), "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1], handler
    server.close()
    await server.wait_closed()


async def test_bytes_cross_a_real_smtp_server_unchanged(smtp_sink: tuple[int, _Keep]) -> None:
    # smtplib sends bytes as they are (no CRLF repair, unlike aiosmtplib), so aiosmtpd sees our line ends.
    port, handler = smtp_sink
    message = skeleton().render(to="ada@example.org", subject="Dots ✓", html=DOTTED, text=DOTTED)

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=10) as client:
            client.sendmail("noreply@shop.example", ["ada@example.org"], message.raw)

    await asyncio.to_thread(send)
    assert handler.received == [message.raw]


def test_date_defaults_to_now_and_refuses_naive_datetimes() -> None:
    before = int(time.time())
    parsed = parse(skeleton().render(to="ada@example.org", subject="s", html=None, text="t"))
    assert before <= parsed["Date"].datetime.timestamp() <= time.time()
    assert parsed["Date"].datetime.utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match="timezone-aware"):
        skeleton().render(to="a@b.example", subject="s", html=None, text="t", date=datetime(2024, 1, 1))


def test_generated_message_ids_are_unique_and_well_formed() -> None:
    renders = [skeleton().render(to="ada@example.org", subject="s", html=None, text="t") for _ in range(50)]
    ids = {message.message_id for message in renders}
    assert len(ids) == 50
    for message in renders:
        assert re.fullmatch(r"<[0-9a-f]{32}@mail\.shop\.example>", message.message_id)
        assert parse(message)["Message-ID"] == message.message_id


def test_a_given_message_id_gains_angle_brackets() -> None:
    message = skeleton().render(to="a@b.example", subject="s", html=None, text="t", message_id="x.1@host")
    assert message.message_id == "<x.1@host>"


def test_boundary_skips_values_present_in_a_7bit_body() -> None:
    shop = skeleton()
    first = parse(shop.render(to="a@b.example", subject="s", html="<p>h</p>", text="t"))
    used = first.get_boundary()
    assert used is not None
    prefix, counter = used.rsplit(".", 1)
    upcoming = [f"{prefix}.{int(counter, 16) + step:x}" for step in (1, 2)]
    text = f"--{upcoming[0]}\nsee {upcoming[1]}\n"
    parsed = parse(shop.render(to="a@b.example", subject="s", html="<p>h</p>", text=text))
    assert str(parsed.get_boundary()) not in text
    assert bodies(parsed) == {"text/plain": text, "text/html": "<p>h</p>\n"}


def test_non_ascii_custom_header_values_are_encoded() -> None:
    parsed = parse(
        skeleton(headers={"X-Campaign-Name": "Été 2024 — 東京", "X-Long": "word " * 40}).render(
            to="a@b.example", subject="s", html=None, text="t"
        )
    )
    assert parsed["X-Campaign-Name"] == "Été 2024 — 東京"
    assert parsed["X-Long"] == ("word " * 40).rstrip() + " "


def test_list_unsubscribe_forms() -> None:
    bare = skeleton(list_unsubscribe="https://shop.example/u/1", list_unsubscribe_post=False)
    parsed = parse(bare.render(to="a@b.example", subject="s", html=None, text="t"))
    assert parsed["List-Unsubscribe"] == "<https://shop.example/u/1>"
    assert parsed["List-Unsubscribe-Post"] is None
    none = parse(
        skeleton(list_unsubscribe=None, list_unsubscribe_post=False).render(
            to="a@b.example", subject="s", html=None, text="t"
        )
    )
    assert none["List-Unsubscribe"] is None
    per_recipient = "<https://shop.example/u/" + "t" * 70 + ">, <mailto:u@shop.example>"
    parsed = parse(
        skeleton().render(to="a@b.example", subject="s", html=None, text="t", list_unsubscribe=per_recipient)
    )
    assert parsed["List-Unsubscribe"] == per_recipient
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"list_unsubscribe": "mailto:u@shop.example"}, "https URI"),
        ({"list_unsubscribe": None}, "needs a list_unsubscribe"),
        ({"list_unsubscribe": "<https://a.example/u> <https://b.example>"}, "comma-separated"),
        ({"list_unsubscribe": "https://a.example/u\r\nBcc: x@y.example"}, "line break"),
        ({"message_id_domain": "bad domain"}, "message_id_domain"),
    ],
)
def test_invalid_campaign_settings_are_refused(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        skeleton(**options)


INJECTIONS = ["x\r\nBcc: victim@evil.example", "x\nBcc: victim@evil.example", "x\rBcc: v@evil.example"]


@pytest.mark.parametrize("payload", INJECTIONS)
@pytest.mark.parametrize("where", ["from_name", "reply_to", "headers", "from_address"])
def test_header_injection_in_campaign_settings_is_refused(where: str, payload: str) -> None:
    value: Any = {"X-Tag": payload} if where == "headers" else payload
    with pytest.raises(ValueError, match=r"line break|not a single plain email address"):
        skeleton(**{where: value})


@pytest.mark.parametrize("payload", INJECTIONS)
@pytest.mark.parametrize(
    "where", ["subject", "to_name", "to", "extra_headers", "message_id", "list_unsubscribe"]
)
def test_header_injection_in_a_message_is_refused(where: str, payload: str) -> None:
    arguments: dict[str, Any] = {"to": "ada@example.org", "subject": "s", "html": None, "text": "t"}
    arguments[where] = {"X-Tag": payload} if where == "extra_headers" else payload
    with pytest.raises(ValueError, match=r"line break|not a single plain email address|message_id"):
        skeleton().render(**arguments)


@pytest.mark.parametrize(
    "address",
    [
        "a@b.example, c@d.example",
        "Ada <a@b.example>",
        "<a@b.example>",
        "a b@c.example",
        '"a b"@c.example',
        "a@b.example;c@d.example",
        "@b.example",
        "a@",
        "a@b..example",
        "",
        "ada@exämple.org",
        "x" * 65 + "@b.example",
    ],
)
def test_recipient_must_be_one_plain_address(address: str) -> None:
    with pytest.raises(ValueError, match="not a single plain email address"):
        skeleton().render(to=address, subject="s", html=None, text="t")


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("X Bad", "invalid header name"),
        ("X:Bad", "invalid header name"),
        ("", "invalid header name"),
        ("X-Ünicode", "invalid header name"),
        ("Bcc", "written by the MIME writer"),
        ("content-type", "written by the MIME writer"),
        ("x-campaign-id", "already set by the campaign skeleton"),
    ],
)
def test_bad_extra_header_names_are_refused(name: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        skeleton().render(to="a@b.example", subject="s", html=None, text="t", extra_headers={name: "v"})


@pytest.mark.parametrize(
    ("headers", "match"),
    [
        ({"Subject": "x"}, "written by the MIME writer"),
        ({"X-Tag": "a", "x-tag": "b"}, "repeat a name"),
        ({"X-" + "n" * 80: "v"}, "invalid header name"),
    ],
)
def test_bad_campaign_headers_are_refused(headers: dict[str, str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        skeleton(headers=headers)


no_line_breaks = st.text().filter(lambda s: "\r" not in s and "\n" not in s)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    subject=no_line_breaks,
    # ≤ 10 characters fit one encoded word (see the long-name test). No control characters and no Unicode
    # blanks but the space: after decoding a display name, Python's address parser turns a tab into a space
    # and drops some trailing blanks; the writer encodes them faithfully (see the test below).
    name=st.text(
        st.characters(codec="utf-8", exclude_categories=["Cc", "Zs", "Zl", "Zp"], include_characters=" "),
        max_size=10,
    ),
    text=st.text(),
    html=st.text(),
)
def test_arbitrary_unicode_round_trips_exactly(subject: str, name: str, text: str, html: str) -> None:
    message = PROPERTY_SKELETON.render(
        to="ada@example.org",
        to_name=name,
        subject=subject,
        html=html,
        text=text,
        extra_headers={"X-Echo": subject},
    )
    parsed = parse(message)
    assert str(parsed["Subject"]) == subject
    assert str(parsed["X-Echo"]) == subject
    assert parsed["To"].addresses[0].display_name == name
    assert bodies(parsed) == {"text/plain": canonical(text), "text/html": canonical(html)}


@settings(max_examples=200, deadline=None)
@given(body=st.text(alphabet=st.characters(codec="ascii"), min_size=900, max_size=3000))
def test_arbitrary_ascii_bodies_with_long_lines_round_trip(body: str) -> None:
    parsed = parse(PROPERTY_SKELETON.render(to="ada@example.org", subject="s", html=None, text=body))
    assert bodies(parsed) == {"text/plain": canonical(body)}


PROPERTY_SKELETON = build_skeleton(
    from_address="noreply@shop.example", message_id_domain="shop.example", headers={"X-A": "b"}
)
