"""The channel adapters: where each finds a recipient's address, what the ledger says when there is none,
and the email fast path (one skeleton per version) next to personalized senders (one per message)."""

from __future__ import annotations

import email
import email.policy
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from clarion.delivery.channels.base import Attempt, SendResult
from clarion.delivery.channels.email.channel import EmailChannel, PoolRef, email_address
from clarion.delivery.channels.email.smtp import Relay, SmtpPool
from clarion.delivery.channels.push import FcmPush, PushChannel
from clarion.delivery.channels.sms import SmsChannel, TwilioSms, phone_number
from clarion.delivery.schemas import ChannelData, Recipient
from tests.delivery.servers import SmtpServer

CONFIGURATION = {"fromAddress": "news@shop.example", "fromName": "Shop"}
CONTENT = {"subject": "Order {{context.order}}", "html": "<p>Hi {{profile.name}}</p>"}


def recipient(user_id: str = "ada", namespace: str = "crm", **fields: Any) -> Recipient:
    return Recipient(index=0, userId=user_id, namespace=namespace, **fields)


@pytest.fixture
async def plain_server() -> AsyncIterator[SmtpServer]:
    async with SmtpServer() as server:
        yield server


@pytest.fixture
async def pool(plain_server: SmtpServer) -> AsyncIterator[PoolRef]:
    async with SmtpPool([Relay(plain_server.host, plain_server.port)], max_connections=2) as smtp:
        yield PoolRef(smtp, 1)


def test_email_address_comes_from_channel_data_then_profile_then_user_id() -> None:
    profile = {"personalEmail": {"address": "p@x.example"}}
    assert email_address(recipient(channelData=ChannelData("c@x.example"), profile=profile)) == "c@x.example"
    assert email_address(recipient(channelData=ChannelData(), profile=profile)) == "p@x.example"
    assert email_address(recipient(profile={"personalEmail": "not an object"})) == ""
    assert email_address(recipient("u@x.example")) == "u@x.example"
    assert email_address(recipient("ada", "Email")) == "ada"
    assert email_address(recipient()) == ""


def test_phone_number_comes_from_channel_data_then_profile_then_user_id() -> None:
    profile = {"mobilePhone": {"number": "+15550002222"}}
    data = ChannelData(mobilePhoneNumber="+15550001111")
    assert phone_number(recipient(channelData=data, profile=profile)) == "+15550001111"
    assert phone_number(recipient(profile=profile)) == "+15550002222"
    assert phone_number(recipient("+15550003333", "Phone")) == "+15550003333"
    assert not phone_number(recipient())


@pytest.mark.parametrize("stored", ["+1555", ["+1555"], {"nested": 1}, None, 42, True])
def test_a_profile_of_any_shape_gives_a_number_or_none(stored: object) -> None:
    number = phone_number(recipient(profile={"mobilePhone": stored}))
    assert number is None
    assert phone_number(recipient(profile={"mobilePhone": {"number": stored}})) == (
        str(stored) if isinstance(stored, str | int) and not isinstance(stored, bool) else None
    )


async def test_missing_addresses_are_failed_with_the_field_to_set(http_client: httpx.AsyncClient) -> None:
    sms = SmsChannel(
        {"body": "x"},
        TwilioSms(http_client, base_url="http://x", account_sid="s", auth_token="t", from_number="+1"),
    )
    push = PushChannel(
        {"title": "t", "body": "b"},
        FcmPush(http_client, base_url="http://x", project_id="p", access_token="t"),
    )
    nobody = recipient(channelData=ChannelData(pushInfo={"platform": "ios"}))

    assert await EmailChannel(CONFIGURATION, CONTENT, None).send(nobody) == Attempt(
        SendResult("failed", "no email address: set channelData.emailAddress"), "", 0
    )
    assert await sms.send(nobody) == Attempt(
        SendResult("failed", "no phone number: set channelData.mobilePhoneNumber"), "", 0
    )
    assert await push.send(nobody) == Attempt(
        SendResult("failed", "no push token: set channelData.pushInfo.token"), "", 0
    )


async def test_email_without_an_ip_pool_is_failed_with_the_address() -> None:
    attempt = await EmailChannel(CONFIGURATION, CONTENT, None).send(recipient("u@x.example"))
    assert attempt == Attempt(
        SendResult("failed", "the channel configuration has no IP pool"), "u@x.example", 0
    )


async def test_email_is_rendered_on_the_version_skeleton(pool: PoolRef, plain_server: SmtpServer) -> None:
    channel = EmailChannel(CONFIGURATION | {"errorAddress": "bounces@shop.example"}, CONTENT, pool)
    attempt = await channel.send(recipient("u@x.example", context={"order": "A-1"}, profile={"name": "Ada"}))

    (received,) = plain_server.messages
    assert attempt.result.outcome == "sent"
    assert (attempt.address, attempt.size) == ("u@x.example", len(received.data))
    assert (received.mail_from, received.rcpt_tos) == ("bounces@shop.example", ("u@x.example",))
    message = email.message_from_bytes(received.data, policy=email.policy.default)
    assert (message["From"], message["To"], message["Subject"]) == (
        "Shop <news@shop.example>",
        "u@x.example",
        "Order A-1",
    )
    assert "Hi Ada" in message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Hi Ada" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


async def test_personalized_sender_fields_are_rendered_per_message(
    pool: PoolRef, plain_server: SmtpServer
) -> None:
    configuration = {"fromAddress": "{{context.shop}}@shop.example", "fromName": "{{context.shop}} team"}
    channel = EmailChannel(configuration, {"subject": "s", "text": "t"}, pool)
    for shop in ("paris", "lyon"):
        await channel.send(recipient("u@x.example", context={"shop": shop}))

    senders = [
        (m.mail_from, email.message_from_bytes(m.data, policy=email.policy.default)["From"])
        for m in plain_server.messages
    ]
    assert senders == [
        ("paris@shop.example", "paris team <paris@shop.example>"),
        ("lyon@shop.example", "lyon team <lyon@shop.example>"),
    ]


async def test_a_header_injection_is_a_value_error(pool: PoolRef) -> None:
    channel = EmailChannel(CONFIGURATION, {"subject": "{{{context.s}}}", "text": "t"}, pool)
    with pytest.raises(ValueError, match="line break"):
        await channel.send(recipient("u@x.example", context={"s": "x\r\nBcc: all@x.example"}))
