"""Custom action tests use the shared ``api`` fixtures (tests/conftest.py); helpers for bodies and errors."""

from __future__ import annotations

from typing import Any

import httpx

from tests.builders import Api

__all__ = ["Api", "action_body", "create_action", "detail", "report", "sandbox_id"]


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
