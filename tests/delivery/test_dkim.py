"""DKIM signing verified by an independent implementation (dkimpy): both algorithms, both at once, the
messages our MIME writer makes (Unicode subjects, folded headers, quoted-printable and base64 bodies), and
the bytes an SMTP server received over each way the pool sends (one by one, pipelined, BDAT)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator

import dkim as dkimpy
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clarion.delivery.bundle import BundleCache
from clarion.delivery.channels.email.channel import EmailChannel, PoolRef
from clarion.delivery.channels.email.dkim import DkimKey, DkimSigner, canonical_body, load_keys
from clarion.delivery.channels.email.mime import build_skeleton
from clarion.delivery.channels.email.smtp import Relay, SmtpPool
from clarion.delivery.schemas import ChannelData, Recipient
from clarion.kit import dkim as keys
from clarion.kit.secretbox import SecretBox, new_key
from tests.delivery.dkimcheck import record_of, verify
from tests.delivery.servers import SmtpServer

DOMAIN = "shop.example"
LATIN = "Déjà vu — votre commande est confirmée, à très bientôt chez nous ✓ " * 3
QP = "Votre commande est confirmée, merci beaucoup pour votre confiance et à bientôt. " * 12
CJK = "ご注文ありがとうございます。ただいま発送の準備をしております。\n" * 20


@pytest.fixture(scope="module")
def ed_key() -> DkimKey:
    return DkimKey(DOMAIN, "ed", "ed25519-sha256", keys.generate("ed25519-sha256"))


@pytest.fixture(scope="module")
def rsa_key() -> DkimKey:
    return DkimKey(DOMAIN, "rsa", "rsa-sha256", keys.generate("rsa-sha256", 2048))


def dns(*identities: DkimKey) -> dict[str, str]:
    return dict(record_of(identity.selector, identity.domain, identity.key) for identity in identities)


def skeleton(**extra: object) -> object:
    return build_skeleton(
        from_address=f"news@{DOMAIN}",
        from_name="Shop — Boutique",
        reply_to=f"help@{DOMAIN}",
        headers={"X-Campaign": "welcome " * 30},  # folded over several lines
        list_unsubscribe="<https://shop.example/u/abc>, <mailto:u@shop.example>",
        list_unsubscribe_post=True,
        message_id_domain=DOMAIN,
        **extra,  # type: ignore[arg-type]
    )


ENCODINGS = {
    "ascii": {b"7bit"},
    "unicode subject, quoted-printable": {b"quoted-printable"},
    "base64 body": {b"base64"},
    "html only": {b"7bit"},
}
MESSAGES = {
    "ascii": {"subject": "Your order", "html": "<p>Hi  there\t</p>\n\n\n", "text": "Hi there  \n"},
    "unicode subject, quoted-printable": {"subject": LATIN, "html": f"<p>{QP}</p>", "text": QP},
    "base64 body": {"subject": "ご注文 ORD-1", "html": None, "text": CJK},
    "html only": {"subject": "x" * 200, "html": "<p>only html</p>", "text": None},
}


@pytest.mark.parametrize("kind", list(MESSAGES))
@pytest.mark.parametrize("which", ["ed25519", "rsa", "both"])
def test_signed_messages_verify_with_dkimpy(kind: str, which: str, ed_key: DkimKey, rsa_key: DkimKey) -> None:
    chosen = {"ed25519": [ed_key], "rsa": [rsa_key], "both": [ed_key, rsa_key]}[which]
    writer = skeleton()
    message = writer.render(to="ada@example.com", to_name="Adélaïde Müller", **MESSAGES[kind])  # type: ignore[attr-defined]
    encodings = set(re.findall(rb"Content-Transfer-Encoding: (\S+)", message.raw))
    assert encodings == ENCODINGS[kind]  # each way the writer encodes a body is signed
    for signer in (DkimSigner(chosen), DkimSigner(chosen).for_head(writer.head)):  # type: ignore[attr-defined]
        signed = signer.sign(message.raw)
        assert signed.endswith(message.raw)
        assert verify(signed, dns(ed_key, rsa_key)) == [True] * len(chosen)
        assert all(len(line) <= 998 for line in signed.split(b"\r\n"))


def test_the_signature_names_what_it_signs_and_oversigns_from(ed_key: DkimKey) -> None:
    message = skeleton().render(to="ada@example.com", subject="Hi", html="<p>x</p>", text="x")  # type: ignore[attr-defined]
    signed = DkimSigner([ed_key]).sign(message.raw, now=1_800_000_000)
    header = signed.split(b"\r\nFrom:", 1)[0].replace(b"\r\n", b"").decode()
    tags = dict(tag.strip().split("=", 1) for tag in header.removeprefix("DKIM-Signature:").split(";"))
    assert tags["v"] == "1"
    assert tags["a"] == "ed25519-sha256"
    assert tags["c"] == "relaxed/relaxed"
    assert (tags["d"], tags["s"], tags["t"]) == (DOMAIN, "ed", "1800000000")
    # Each header RFC 5322 allows once is named once more than it occurs (oversigned).
    assert tags["h"].replace(" ", "").split(":") == [
        "from", "from", "to", "to", "subject", "subject", "date", "date", "message-id", "message-id",
        "mime-version", "content-type", "list-unsubscribe", "list-unsubscribe-post",
    ]  # fmt: skip
    body = message.raw.split(b"\r\n\r\n", 1)[1]
    assert tags["bh"] == dkimpy.base64.b64encode(hashlib.sha256(canonical_body(body)).digest()).decode()


def test_an_added_from_or_a_changed_body_or_header_fails_verification(
    ed_key: DkimKey, rsa_key: DkimKey
) -> None:
    message = skeleton().render(
        to="ada@example.com", subject="Pay 10 EUR", html="<p>Pay 10 EUR</p>", text=None
    )  # type: ignore[attr-defined]
    signed = DkimSigner([ed_key, rsa_key]).sign(message.raw)
    records = dns(ed_key, rsa_key)
    assert verify(signed, records) == [True, True]
    assert verify(signed.replace(b"<p>Pay 10 EUR</p>", b"<p>Pay 99 EUR</p>"), records) == [False, False]
    assert verify(signed.replace(b"Subject: Pay 10 EUR", b"Subject: Pay 99 EUR"), records) == [False, False]
    # A second From above ours (what a forger adds so that readers show theirs): oversigning catches it.
    forged = signed.replace(b"From: ", b"From: boss@shop.example\r\nFrom: ", 1)
    assert verify(forged, records) == [False, False]
    # A key published for another one fails too.
    other = dns(DkimKey(DOMAIN, "ed", "ed25519-sha256", keys.generate("ed25519-sha256")), rsa_key)
    assert verify(signed, other) == [False, True]


def test_relaxed_canonicalization_tolerates_what_relays_do(ed_key: DkimKey) -> None:
    message = skeleton().render(
        to="ada@example.com", subject="A  subject", html=None, text="line  one\nline\ttwo\n"
    )  # type: ignore[attr-defined]
    signed = DkimSigner([ed_key]).sign(message.raw)
    refolded = (
        signed.replace(b"Subject: A  subject", b"subject:\tA \r\n subject ")
        .replace(b"line  one", b"line one   ")
        .replace(b"line\ttwo\r\n", b"line two\r\n\r\n\r\n")
    )
    assert refolded != signed
    assert verify(refolded, dns(ed_key)) == [True]


def test_canonical_body_follows_rfc_6376_relaxed() -> None:
    assert canonical_body(b"") == b""
    assert canonical_body(b"\r\n\r\n") == b""
    assert canonical_body(b" \t \r\n") == b""
    assert canonical_body(b"a  b\t\tc \r\n\r\n") == b"a b c\r\n"
    assert canonical_body(b"no end  ") == b"no end \r\n"  # an unterminated last line keeps one blank
    assert canonical_body(b" lead\r\n\r\nx\r\n") == b" lead\r\n\r\nx\r\n"
    # dkimpy's own relaxed body canonicalization agrees on the writer's bodies.
    for fields in MESSAGES.values():
        raw = skeleton().render(to="a@example.com", **fields).raw  # type: ignore[attr-defined]
        body = raw.split(b"\r\n\r\n", 1)[1]
        assert canonical_body(body) == dkimpy.canonicalization.Relaxed.canonicalize_body(body)


def test_a_message_without_a_header_block_end_is_refused(ed_key: DkimKey) -> None:
    with pytest.raises(ValueError, match="header block"):
        DkimSigner([ed_key]).sign(b"From: a@b.example\r\n")
    with pytest.raises(ValueError, match="at least one key"):
        DkimSigner([])


def test_stored_keys_load_with_their_header_list(ed_key: DkimKey) -> None:
    box = SecretBox(new_key())
    stored = [
        {
            "domain": DOMAIN,
            "selector": "ed",
            "algorithm": "ed25519-sha256",
            "headers": ["from", "subject"],
            "privateKeySealed": box.seal(keys.private_pem(ed_key.key)),
            "publicKey": keys.public_key_b64(ed_key.key),
        }
    ]
    loaded = load_keys(stored, box.open)
    assert [(key.domain, key.selector, key.headers) for key in loaded] == [
        (DOMAIN, "ed", ("from", "subject"))
    ]
    message = skeleton().render(to="ada@example.com", subject="Hi", html=None, text="x")  # type: ignore[attr-defined]
    signed = DkimSigner(loaded).sign(message.raw)
    assert re.search(rb"h=from:from:subject:subject;", signed)
    assert verify(signed, dns(ed_key)) == [True]


# --- over the real send path ----------------------------------------------------------------------------


@pytest.fixture
async def pool(smtp_server: SmtpServer) -> AsyncIterator[PoolRef]:
    async with SmtpPool([Relay(smtp_server.host, smtp_server.port)], max_connections=2) as smtp:
        yield PoolRef(smtp, 1)


def recipient(address: str, name: str) -> Recipient:
    return Recipient(
        index=0, userId=address, namespace="email", channelData=ChannelData(address), context={"name": name}
    )


async def test_mail_received_over_smtp_verifies(
    smtp_server: SmtpServer, pool: PoolRef, ed_key: DkimKey, rsa_key: DkimKey
) -> None:
    """The smtp_server fixture runs this one by one, pipelined, and with CHUNKING (BDAT)."""
    configuration = {
        "fromAddress": f"news@{DOMAIN}",
        "fromName": "Shop",
        "listUnsubscribe": "https://shop.example/u",
    }
    content = {
        "subject": "Bonjour {{context.name}} ✓",
        "html": "<p>Chère {{context.name}}, merci !</p>\n" * 40,
    }
    channel = EmailChannel(configuration, content, pool, dkim=DkimSigner([ed_key, rsa_key]))
    names = ["Adélaïde", "Bob", "山田"]
    attempts = [await channel.send(recipient(f"user{i}@example.com", name)) for i, name in enumerate(names)]
    assert [attempt.result.outcome for attempt in attempts] == ["sent"] * 3
    await smtp_server.wait_for_messages(3)
    received = [mail.data for mail in smtp_server.messages]
    assert [attempt.size for attempt in attempts] == [len(data) for data in received]
    for data in received:
        assert data.startswith(b"DKIM-Signature: v=1; a=ed25519-sha256;")
        assert verify(data, dns(ed_key, rsa_key)) == [True, True]
    tampered = received[0].replace(b"To: user0@example.com", b"To: user9@example.com", 1)
    assert tampered != received[0]
    assert verify(tampered, dns(ed_key, rsa_key)) == [False, False]


async def test_personalized_senders_are_signed_too(
    smtp_server: SmtpServer, pool: PoolRef, ed_key: DkimKey
) -> None:
    configuration = {"fromAddress": "{{context.team}}@shop.example", "fromName": "{{context.team}} team"}
    channel = EmailChannel(configuration, {"subject": "Hi", "text": "x"}, pool, dkim=DkimSigner([ed_key]))
    for team in ("sales", "support"):
        target = Recipient(index=0, userId="ada@example.com", namespace="email", context={"team": team})
        assert (await channel.send(target)).result.outcome == "sent"
    await smtp_server.wait_for_messages(2)
    for mail, team in zip(smtp_server.messages, ("sales", "support"), strict=True):
        assert f"From: {team} team <{team}@shop.example>".encode() in mail.data
        assert verify(mail.data, dns(ed_key)) == [True]


@given(
    st.lists(st.text(alphabet=" \tab=\x00é", max_size=12), max_size=8),
    st.sampled_from([b"", b"\r\n", b"\r\n\r\n"]),
)
def test_canonical_body_agrees_with_dkimpy_on_any_blank_pattern(lines: list[str], end: bytes) -> None:
    body = b"\r\n".join(line.encode() for line in lines) + end
    assert canonical_body(body) == dkimpy.canonicalization.Relaxed.canonicalize_body(body)


def test_a_header_present_twice_is_signed_in_both_instances_bottom_up(ed_key: DkimKey) -> None:
    identity = DkimKey(DOMAIN, "ed", "ed25519-sha256", ed_key.key, headers=("from", "x-tag"))
    raw = b"From: news@shop.example\r\nX-Tag: one\r\nSubject: s\r\nX-Tag:  two\r\n\r\nbody\r\n"
    signed = DkimSigner([identity]).sign(raw)
    assert re.search(rb"h=from:from:x-tag:x-tag;", signed)
    assert verify(signed, dns(ed_key)) == [True]
    swapped = signed.replace(b"X-Tag: one", b"X-Tag: 1ne")
    assert verify(swapped, dns(ed_key)) == [False]


def test_the_bundle_cache_loads_keys_once_while_they_stay_the_same(ed_key: DkimKey) -> None:
    box = SecretBox(new_key())
    entry = {
        "domain": DOMAIN,
        "selector": "ed",
        "algorithm": "ed25519-sha256",
        "headers": None,
        "privateKeySealed": box.seal(keys.private_pem(ed_key.key)),
        "publicKey": keys.public_key_b64(ed_key.key),
    }
    cache = BundleCache(lambda: None, box, None)  # type: ignore[arg-type, return-value]
    first = cache._dkim({"dkim": [entry]})
    assert first is not None
    assert cache._dkim({"dkim": [dict(entry)]}) is first  # a reload of the same configuration
    assert cache._dkim({"dkim": [entry | {"headers": ["from"]}]}) is not first
    other = entry | {"privateKeySealed": box.seal(keys.private_pem(keys.generate("ed25519-sha256")))}
    assert cache._dkim({"dkim": [other]}) is not first
    assert cache._dkim({"dkim": []}) is None
    assert cache._dkim({}) is None
