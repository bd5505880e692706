"""The HTTP channel adapters against real local servers speaking the providers' formats."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from types import MappingProxyType
from typing import Any

import httpx
import pytest

from clarion.delivery.channels.base import SendResult
from clarion.delivery.channels.push import FcmPush
from clarion.delivery.channels.sms import TwilioSms
from clarion.delivery.channels.webhook import post_event
from tests.delivery.servers import (
    HOST,
    FcmServer,
    HttpRequest,
    HttpResponse,
    HttpServer,
    TwilioServer,
    fcm_error,
    free_port,
    twilio_error,
)

SENDER_NUMBER = "+15005550006"
DEVICE = "fcm-token-0123456789abcdef"


def twilio_sms(client: httpx.AsyncClient, twilio: TwilioServer, **options: Any) -> TwilioSms:
    """The adapter pointed at the local Twilio."""
    return TwilioSms(
        client,
        base_url=twilio.http.url,
        account_sid=twilio.account_sid,
        auth_token=twilio.auth_token,
        from_number=SENDER_NUMBER,
        **options,
    )


def fcm_push(client: httpx.AsyncClient, fcm: FcmServer, **options: Any) -> FcmPush:
    """The adapter pointed at the local FCM."""
    return FcmPush(
        client, base_url=fcm.http.url, project_id=fcm.project_id, access_token=fcm.access_token, **options
    )


# --- SMS (Twilio) ------------------------------------------------------------------------------------------


async def test_sms_is_posted_as_twilio_expects(twilio: TwilioServer, http_client: httpx.AsyncClient) -> None:
    text = "Your code: 123 456 & more = ✓"
    result = await twilio_sms(http_client, twilio).send("+14155552671", text)

    (sid,) = twilio.sids
    assert result == SendResult("sent", f"HTTP 201: queued {sid}", provider_id=sid)
    (request,) = twilio.http.requests
    assert request.method == "POST"
    assert request.target == f"/2010-04-01/Accounts/{twilio.account_sid}/Messages.json"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    credentials = base64.b64encode(f"{twilio.account_sid}:{twilio.auth_token}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {credentials}"
    assert request.form() == {"To": ["+14155552671"], "From": [SENDER_NUMBER], "Body": [text]}


async def test_sms_to_an_invalid_number_is_failed_with_twilios_text(
    twilio: TwilioServer, http_client: httpx.AsyncClient
) -> None:
    result = await twilio_sms(http_client, twilio).send("555", "hello")

    assert result == SendResult("failed", "HTTP 400: 21211 The 'To' number 555 is not a valid phone number.")


async def test_sms_with_a_wrong_token_is_failed_without_showing_it(
    twilio: TwilioServer, http_client: httpx.AsyncClient
) -> None:
    adapter = TwilioSms(
        http_client,
        base_url=twilio.http.url,
        account_sid=twilio.account_sid,
        auth_token="not-the-token",
        from_number=SENDER_NUMBER,
    )
    result = await adapter.send("+14155552671", "hello")

    assert result == SendResult("failed", "HTTP 401: 20003 Authenticate")
    assert twilio.sids == []


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            twilio_error(429, 20429, "Too Many Requests"),
            SendResult("retry", "HTTP 429: 20429 Too Many Requests"),
        ),
        (
            twilio_error(500, 20500, "An internal server error has occurred"),
            SendResult("retry", "HTTP 500: 20500 An internal server error has occurred"),
        ),
        (
            HttpResponse(503, b"<html>Service Unavailable</html>"),
            SendResult("retry", "HTTP 503: <html>Service Unavailable</html>"),
        ),
        (
            twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"),
            SendResult("failed", "HTTP 400: 21610 Attempt to send to unsubscribed recipient"),
        ),
    ],
)
async def test_sms_error_classes(
    twilio: TwilioServer, http_client: httpx.AsyncClient, answer: HttpResponse, expected: SendResult
) -> None:
    twilio.answer = answer
    assert await twilio_sms(http_client, twilio).send("+14155552671", "hello") == expected


async def test_sms_timeout_is_retry(twilio: TwilioServer, http_client: httpx.AsyncClient) -> None:
    twilio.http.hang = True
    started = time.monotonic()
    result = await twilio_sms(http_client, twilio, timeout=0.3).send("+14155552671", "hello")

    assert result == SendResult("retry", "timeout after 0.3 s")
    assert time.monotonic() - started < 2.0


async def test_sms_provider_down_is_retry(http_client: httpx.AsyncClient) -> None:
    adapter = TwilioSms(
        http_client,
        base_url=f"http://{HOST}:{free_port()}",
        account_sid="AC1",
        auth_token="secret",
        from_number=SENDER_NUMBER,
    )
    result = await adapter.send("+14155552671", "hello")

    assert result.outcome == "retry"
    assert result.response.startswith("connection error: ConnectError")


# --- push (FCM) --------------------------------------------------------------------------------------------


async def test_push_is_posted_as_fcm_expects(fcm: FcmServer, http_client: httpx.AsyncClient) -> None:
    fcm.registered.add(DEVICE)
    result = await fcm_push(http_client, fcm).send(
        DEVICE, title="Hi", body="Your order shipped", data={"order": "42"}
    )

    name = "projects/clarion-test/messages/0:1"
    assert result == SendResult("sent", f"HTTP 200: {name}", provider_id=name)
    (request,) = fcm.http.requests
    assert (request.method, request.target) == ("POST", "/v1/projects/clarion-test/messages:send")
    assert request.headers["authorization"] == f"Bearer {fcm.access_token}"
    assert request.headers["content-type"] == "application/json; charset=UTF-8"
    assert request.json() == {
        "message": {
            "token": DEVICE,
            "notification": {"title": "Hi", "body": "Your order shipped"},
            "data": {"order": "42"},
        }
    }


async def test_push_without_data_sends_no_data_field(fcm: FcmServer, http_client: httpx.AsyncClient) -> None:
    fcm.registered.add(DEVICE)
    result = await fcm_push(http_client, fcm).send(DEVICE, title="Hi", body="Hello", data=None)

    assert result.outcome == "sent"
    assert "data" not in fcm.http.requests[0].json()["message"]


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (DEVICE, SendResult("failed", "HTTP 404: NOT_FOUND (UNREGISTERED): Requested entity was not found.")),
        (
            "short",
            SendResult(
                "failed",
                "HTTP 400: INVALID_ARGUMENT: The registration token is not a valid FCM registration token",
            ),
        ),
    ],
)
async def test_push_to_a_bad_token_is_failed(
    fcm: FcmServer, http_client: httpx.AsyncClient, token: str, expected: SendResult
) -> None:
    assert await fcm_push(http_client, fcm).send(token, title="Hi", body="Hello") == expected


async def test_push_with_a_wrong_access_token_is_failed_without_showing_it(
    fcm: FcmServer, http_client: httpx.AsyncClient
) -> None:
    fcm.registered.add(DEVICE)
    adapter = FcmPush(
        http_client, base_url=fcm.http.url, project_id=fcm.project_id, access_token="ya29.expired-token"
    )
    result = await adapter.send(DEVICE, title="Hi", body="Hello")

    assert result.outcome == "failed"
    assert result.response.startswith("HTTP 401: UNAUTHENTICATED: Request had invalid authentication")
    assert "ya29" not in result.response


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            fcm_error(503, "UNAVAILABLE", "The service is currently unavailable."),
            SendResult("retry", "HTTP 503: UNAVAILABLE: The service is currently unavailable."),
        ),
        (
            fcm_error(500, "INTERNAL", "Internal error encountered.", "INTERNAL"),
            SendResult("retry", "HTTP 500: INTERNAL: Internal error encountered."),
        ),
        (
            fcm_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", "QUOTA_EXCEEDED"),
            SendResult("retry", "HTTP 429: RESOURCE_EXHAUSTED (QUOTA_EXCEEDED): Quota exceeded."),
        ),
        (
            fcm_error(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH"),
            SendResult("failed", "HTTP 403: PERMISSION_DENIED (SENDER_ID_MISMATCH): SenderId mismatch"),
        ),
        (HttpResponse(502, b"Bad Gateway"), SendResult("retry", "HTTP 502: Bad Gateway")),
    ],
)
async def test_push_error_classes(
    fcm: FcmServer, http_client: httpx.AsyncClient, answer: HttpResponse, expected: SendResult
) -> None:
    fcm.answer = answer
    assert await fcm_push(http_client, fcm).send(DEVICE, title="Hi", body="Hello") == expected


async def test_push_timeout_is_retry(fcm: FcmServer, http_client: httpx.AsyncClient) -> None:
    fcm.http.hang = True
    result = await fcm_push(http_client, fcm, timeout=0.3).send(DEVICE, title="Hi", body="Hello")

    assert result == SendResult("retry", "timeout after 0.3 s")


# --- webhooks ----------------------------------------------------------------------------------------------


class Endpoint:
    """A customer's webhook endpoint answering ``answer`` to every POST."""

    def __init__(self) -> None:
        self.answer = HttpResponse(200, b'{"ok":true}')
        self.http = HttpServer(self._handle)

    async def _handle(self, request: HttpRequest) -> HttpResponse:
        return self.answer


@pytest.fixture
async def endpoint() -> AsyncIterator[Endpoint]:
    """A local webhook endpoint."""
    server = Endpoint()
    async with server.http:
        yield server


async def test_event_is_posted_as_json(endpoint: Endpoint, http_client: httpx.AsyncClient) -> None:
    event = MappingProxyType({"type": "message.sent", "message": MappingProxyType({"id": "m-1", "to": "ü"})})
    result = await post_event(http_client, f"{endpoint.http.url}/hooks/clarion", event)

    assert result == SendResult("sent", 'HTTP 200: {"ok":true}')
    (request,) = endpoint.http.requests
    assert (request.method, request.target) == ("POST", "/hooks/clarion")
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {"type": "message.sent", "message": {"id": "m-1", "to": "ü"}}


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (204, "sent"),
        (302, "failed"),
        (400, "failed"),
        (401, "failed"),
        (404, "failed"),
        (410, "failed"),
        (408, "retry"),
        (429, "retry"),
        (500, "retry"),
        (503, "retry"),
    ],
)
async def test_webhook_status_classes(
    endpoint: Endpoint, http_client: httpx.AsyncClient, status: int, outcome: str
) -> None:
    endpoint.answer = HttpResponse(status)
    result = await post_event(http_client, endpoint.http.url, {"type": "x"})

    assert result == SendResult(outcome, f"HTTP {status}")  # type: ignore[arg-type]


async def test_long_answer_is_clipped_to_500_characters(
    endpoint: Endpoint, http_client: httpx.AsyncClient
) -> None:
    endpoint.answer = HttpResponse(500, b"x" * 200_000)
    result = await post_event(http_client, endpoint.http.url, {"type": "x"})

    assert result.outcome == "retry"
    assert len(result.response) == 500
    assert result.response.startswith("HTTP 500: xxx")


async def test_credentials_in_the_url_are_masked_in_the_answer(
    endpoint: Endpoint, http_client: httpx.AsyncClient
) -> None:
    endpoint.answer = HttpResponse(400, b"bad signature for password hook-secret")
    url = endpoint.http.url.replace("http://", "http://clarion:hook-secret@")
    result = await post_event(http_client, url, {"type": "x"})

    assert result == SendResult("failed", "HTTP 400: bad signature for password ***")
    credentials = base64.b64encode(b"clarion:hook-secret").decode()
    assert endpoint.http.requests[0].headers["authorization"] == f"Basic {credentials}"


async def test_webhook_timeout_is_retry(endpoint: Endpoint, http_client: httpx.AsyncClient) -> None:
    endpoint.http.hang = True
    result = await post_event(http_client, endpoint.http.url, {"type": "x"}, timeout=0.2)

    assert result == SendResult("retry", "timeout after 0.2 s")


async def test_unsupported_url_is_failed(http_client: httpx.AsyncClient) -> None:
    result = await post_event(http_client, "ftp://example.org/hook", {"type": "x"})

    assert result.outcome == "failed"
    assert result.response.startswith("invalid URL")
