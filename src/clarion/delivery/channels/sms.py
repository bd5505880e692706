"""SMS through a Twilio-style REST API (Programmable Messaging, ``Messages.json``), and the SMS channel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from clarion.delivery.channels.base import (
    Attempt,
    HttpReply,
    SendResult,
    http_exchange,
    http_outcome,
    template_variables,
)
from clarion.delivery.schemas import Recipient
from clarion.templating import Template, compile_template

_NO_NUMBER = Attempt(SendResult("failed", "no phone number: set channelData.mobilePhoneNumber"), "", 0)

_FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}


class TwilioSms:
    """Sends one SMS per call with ``POST …/2010-04-01/Accounts/{sid}/Messages.json`` (basic auth)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str,
        account_sid: str,
        auth_token: str,
        from_number: str,
        timeout: float = 30.0,
    ) -> None:
        self._client = client
        self._url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{quote(account_sid, safe='')}/Messages.json"
        self._auth = (account_sid, auth_token)
        self._from = from_number
        self._timeout = timeout

    async def send(self, to: str, body: str) -> SendResult:
        """Ask the provider to send ``body`` to ``to``; ``provider_id`` is the message SID."""
        reply = await http_exchange(
            self._client,
            self._url,
            content=urlencode({"To": to, "From": self._from, "Body": body}).encode(),
            headers=_FORM,
            request_timeout=self._timeout,
            auth=self._auth,
            secrets=(self._auth[1],),
        )
        if isinstance(reply, SendResult):
            return reply
        document = reply.json_object() or {}
        if 200 <= reply.status < 300:
            return _accepted(reply, document)
        return SendResult(http_outcome(reply.status), _error_text(reply, document))


def _accepted(reply: HttpReply, document: dict[str, Any]) -> SendResult:
    """A created message: its SID and initial status (the echoed body is personal data, so left out)."""
    sid = document.get("sid")
    if not isinstance(sid, str):
        return SendResult("sent", reply.describe())
    return SendResult("sent", reply.describe(f"{document.get('status', 'accepted')} {sid}"), provider_id=sid)


def _error_text(reply: HttpReply, document: dict[str, Any]) -> str:
    """Twilio's error document as ``HTTP 400: 21211 The 'To' number … is not a valid phone number.``."""
    code, message = document.get("code"), document.get("message")
    if message is None:
        return reply.describe()
    return reply.describe(f"{code} {message}" if code is not None else str(message))


def sms_template(content: Mapping[str, Any]) -> Template:
    """An SMS version's compiled body (also what the console's preview renders with)."""
    return compile_template(content["body"], autoescape=False)


class SmsChannel:
    """An SMS campaign version: the compiled ``body`` sent through the configuration's provider."""

    def __init__(self, content: Mapping[str, Any], client: TwilioSms) -> None:
        self._body = sms_template(content)
        self._client = client

    async def send(self, recipient: Recipient, message_id: str = "") -> Attempt:
        """Text ``recipient`` at the number of ``phone_number``."""
        number = phone_number(recipient)
        if not number:
            return _NO_NUMBER
        body = self._body.render(template_variables(recipient))
        return Attempt(await self._client.send(number, body), number, len(body.encode()))


def phone_number(recipient: Recipient) -> str | None:
    """``channelData.mobilePhoneNumber``, else the profile's ``mobilePhone.number``, else a phone user id."""
    channel_data = recipient.channelData
    if channel_data is not None and channel_data.mobilePhoneNumber:
        return channel_data.mobilePhoneNumber
    # A stored profile is free-form JSON: ``mobilePhone`` may be anything, so read it defensively (a profile
    # of the wrong shape is a message without a number, never a failed job).
    mobile = (recipient.profile or {}).get("mobilePhone")
    stored = mobile.get("number") if isinstance(mobile, dict) else None
    number = str(stored) if (isinstance(stored, str) and stored) or type(stored) is int else None
    if not number and recipient.namespace.lower() == "phone":
        number = recipient.userId
    return number
