"""SMS through a Twilio-style REST API (Programmable Messaging, ``Messages.json``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import httpx

from clarion.delivery.channels.base import HttpReply, SendResult, http_exchange, http_outcome

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
