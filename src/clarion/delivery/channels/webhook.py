"""Delivery events POSTed as JSON to a customer's webhook endpoint."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
import msgspec

from clarion.delivery.channels.base import SendResult, http_exchange, http_outcome

_JSON = {"Content-Type": "application/json"}


# ``timeout`` is httpx's per-request timeout, deliberately not an overall deadline (see http_exchange).
async def post_event(
    client: httpx.AsyncClient,
    url: str,
    event: Mapping[str, Any] | msgspec.Struct,
    *,
    timeout: float = 10.0,  # noqa: ASYNC109
) -> SendResult:
    """POST ``event`` as JSON to ``url``: 2xx sent, 408/429/5xx retry, other answers failed."""
    reply = await http_exchange(
        client,
        url,
        content=json.dumps(event, separators=(",", ":"), default=_plain).encode(),
        headers=_JSON,
        request_timeout=timeout,
        # Credentials written into the URL (https://user:secret@host/…) must not reach the ledger.
        secrets=(_url_password(url),),
    )
    if isinstance(reply, SendResult):
        return reply
    return SendResult(http_outcome(reply.status), reply.describe())


def _plain(value: object) -> dict[str, Any]:
    """``json.dumps`` hook: Structs (``DeliveryEvent``) and read-only mappings (``MappingProxyType`` …) are
    encoded as objects."""
    if isinstance(value, msgspec.Struct):
        return msgspec.structs.asdict(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _url_password(url: str) -> str | None:
    """The password in ``url``'s user info, if any (an unparsable URL is reported by the exchange)."""
    try:
        return httpx.URL(url).password or None
    except httpx.InvalidURL:
        return None
