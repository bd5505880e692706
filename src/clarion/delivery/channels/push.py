"""Push notifications through an FCM HTTP v1-style API (``projects/{project}/messages:send``), and the push
channel."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import quote

import httpx

from clarion.delivery.channels.base import (
    Attempt,
    HttpReply,
    Outcome,
    SendResult,
    http_exchange,
    http_outcome,
    template_variables,
)
from clarion.delivery.schemas import Recipient
from clarion.templating import Template, compile_template

# FCM error codes (``error.status`` or the FcmError ``errorCode`` detail) that promise a later attempt may
# succeed; every other error (UNREGISTERED, INVALID_ARGUMENT, NOT_FOUND, SENDER_ID_MISMATCH, …) is final.
_TEMPORARY = frozenset({"UNAVAILABLE", "INTERNAL", "QUOTA_EXCEEDED", "RESOURCE_EXHAUSTED"})
_FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_NO_TOKEN = Attempt(SendResult("failed", "no push token: set channelData.pushInfo.token"), "", 0)


class FcmPush:
    """Sends one notification per call to a device registration token, with an OAuth2 bearer token."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str,
        project_id: str,
        access_token: str,
        timeout: float = 30.0,
    ) -> None:
        self._client = client
        self._url = f"{base_url.rstrip('/')}/v1/projects/{quote(project_id, safe='')}/messages:send"
        self._token = access_token
        self._headers = {
            "Authorization": f"Bearer {access_token}",
            "Content-Type": "application/json; charset=UTF-8",
        }
        self._timeout = timeout

    async def send(
        self, token: str, *, title: str, body: str, data: Mapping[str, str] | None = None
    ) -> SendResult:
        """Send a notification to ``token``; ``provider_id`` is the message name FCM returns."""
        message: dict[str, Any] = {"token": token, "notification": {"title": title, "body": body}}
        if data:
            message["data"] = dict(data)
        reply = await http_exchange(
            self._client,
            self._url,
            content=json.dumps({"message": message}, separators=(",", ":")).encode(),
            headers=self._headers,
            request_timeout=self._timeout,
            secrets=(self._token,),
        )
        if isinstance(reply, SendResult):
            return reply
        document = reply.json_object() or {}
        if 200 <= reply.status < 300:
            name = document.get("name")
            if isinstance(name, str):
                return SendResult("sent", reply.describe(name), provider_id=name)
            return SendResult("sent", reply.describe())
        return _error(reply, document)


class RenderedPush(NamedTuple):
    """A recipient's notification: title, body and data values."""

    title: str
    body: str
    data: dict[str, str]


class PushTemplates:
    """A push version's compiled title, body and data values (the console's preview uses it too)."""

    __slots__ = ("body", "data", "title")

    def __init__(self, content: Mapping[str, Any]) -> None:
        self.title = compile_template(content["title"], autoescape=False)
        self.body = compile_template(content["body"], autoescape=False)
        self.data: dict[str, Template] = {
            key: compile_template(value, autoescape=False)
            for key, value in (content.get("data") or {}).items()
        }

    def render(self, variables: Mapping[str, Any]) -> RenderedPush:
        """The notification for one recipient's ``{"context": …, "profile": …}``."""
        data = {key: template.render(variables) for key, template in self.data.items()}
        return RenderedPush(self.title.render(variables), self.body.render(variables), data)


class PushChannel:
    """A push campaign version: compiled ``title``, ``body`` and ``data`` values, sent through the
    configuration's provider to the recipient's device token."""

    def __init__(self, content: Mapping[str, Any], client: FcmPush) -> None:
        self._templates = PushTemplates(content)
        self._client = client

    async def send(self, recipient: Recipient, message_id: str = "") -> Attempt:
        """Notify the device of ``channelData.pushInfo.token`` (the ledger shows its first 32 characters)."""
        push_info = (recipient.channelData.pushInfo if recipient.channelData else None) or {}
        token = push_info.get("token") or ""
        if not token:
            return _NO_TOKEN
        title, body, data = self._templates.render(template_variables(recipient))
        result = await self._client.send(token, title=title, body=body, data=data or None)
        return Attempt(result, token[:32], len(title) + len(body))


def _error(reply: HttpReply, document: dict[str, Any]) -> SendResult:
    """Classify a Google API error document: ``{"error": {"code", "message", "status", "details"}}``."""
    error = document.get("error")
    if not isinstance(error, dict):
        return SendResult(http_outcome(reply.status), reply.describe())
    status = str(error.get("status", ""))
    fcm_code = _fcm_error_code(error)
    outcome: Outcome = http_outcome(reply.status)
    if status in _TEMPORARY or fcm_code in _TEMPORARY:
        outcome = "retry"
    label = status if fcm_code in (None, status) else f"{status} ({fcm_code})"
    return SendResult(outcome, reply.describe(f"{label}: {error.get('message', '')}"))


def _fcm_error_code(error: dict[str, Any]) -> str | None:
    """The ``errorCode`` of the FcmError detail (UNREGISTERED, QUOTA_EXCEEDED, …), if there is one."""
    details = error.get("details")
    if not isinstance(details, list):
        return None
    for detail in details:
        if isinstance(detail, dict) and detail.get("@type") == _FCM_ERROR_TYPE:
            code = detail.get("errorCode")
            return code if isinstance(code, str) else None
    return None
