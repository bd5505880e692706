"""Custom action tests use the shared ``api`` fixtures (tests/conftest.py); helpers for bodies and rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from clarion.kit.ids import new_reference
from tests.builders import Api

__all__ = ["Api", "action_body", "call_row", "create_action", "detail", "report", "sandbox_id"]


def action_body(**fields: Any) -> dict[str, Any]:
    """A valid POST action; ``fields`` override or add wire fields."""
    body: dict[str, Any] = {
        "name": "notify_crm",
        "url": "https://crm.example/api/events",
        "method": "POST",
        "body": '{"user": "{{context.userId}}"}',
    }
    return {**body, **fields}


async def create_action(api: Api, **fields: Any) -> dict[str, Any]:
    """Create an action through the API and return its view."""
    response = await api.call("POST", "/v1/custom-actions", action_body(**fields), expect=201)
    created: dict[str, Any] = response.json()
    return created


def report(response: httpx.Response) -> dict[str, Any]:
    """The AEP error report of a response."""
    found: dict[str, Any] = response.json()["report"]
    return found


def detail(response: httpx.Response) -> str:
    """The detailed message of an AEP error."""
    return str(report(response)["detailed-message"])


async def sandbox_id(api: Api, name: str = "prod") -> str:
    """The id of one of the tenant's sandboxes."""
    response = await api.call("GET", f"/v1/sandboxes/{name}", expect=200)
    return str(response.json()["id"])


def call_row(
    org_id: str,
    sandbox: str,
    *,
    action_id: str = "action-1",
    status: str = "queued",
    accepted_at: datetime | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A complete ``action_calls`` row, as the runtime writes them."""
    moment = accepted_at or datetime.now(UTC)
    row: dict[str, Any] = {
        "id": new_reference(),
        "org_id": org_id,
        "sandbox_id": sandbox,
        "action_id": action_id,
        "action_name": "notify_crm",
        "status": status,
        "attempts": 0,
        "response_status": None,
        "response": "",
        "latency_ms": None,
        "throttle_config_uid": None,
        "accepted_at": moment,
        "updated_at": moment,
        "sent_at": None,
        "request_id": None,
    }
    return {**row, **fields}
