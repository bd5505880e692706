"""Fixtures for delivery tests: real local SMTP and provider servers, and an HTTP client for the adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.delivery.servers import FcmServer, SmtpServer, TwilioServer


@pytest.fixture(
    params=[(), ("PIPELINING",), ("PIPELINING", "CHUNKING")], ids=["one-by-one", "pipelining", "chunking"]
)
async def smtp_server(request: pytest.FixtureRequest) -> AsyncIterator[SmtpServer]:
    """A plain SMTP server on 127.0.0.1 that accepts everything until told otherwise; once without
    extensions, once offering PIPELINING, once PIPELINING and CHUNKING (each way the client can send)."""
    async with SmtpServer(extensions=request.param) as server:
        yield server


@pytest.fixture
async def twilio() -> AsyncIterator[TwilioServer]:
    """A Twilio-format SMS API."""
    server = TwilioServer()
    async with server.http:
        yield server


@pytest.fixture
async def fcm() -> AsyncIterator[FcmServer]:
    """An FCM HTTP v1-format push API."""
    server = FcmServer()
    async with server.http:
        yield server


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    """A plain client, as the platform injects one (no proxies from the environment)."""
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client
