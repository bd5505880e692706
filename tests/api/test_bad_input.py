"""Bad input gets a 4xx in the envelope of its API family, naming the problem; never a 500."""

from __future__ import annotations

import json

import httpx
import pytest

from clarion.config import Settings
from tests.conftest import Tenant


async def test_malformed_json_names_the_position(client: httpx.AsyncClient, tenant: Tenant) -> None:
    headers = tenant.headers() | {"content-type": "application/json"}
    response = await client.post("/v1/sandboxes", content=b'{"name": "x",}', headers=headers)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == 400
    assert "Malformed JSON body" in body["report"]["detailed-message"]
    assert "position" in body["report"]["detailed-message"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
async def test_wrong_content_type_is_rejected(
    client: httpx.AsyncClient, tenant: Tenant, content_type: str
) -> None:
    headers = tenant.headers() | {"content-type": content_type}
    response = await client.post("/v1/sandboxes", content=b'{"name": "abc"}', headers=headers)
    assert response.status_code == 400
    assert response.json() == {
        "type": "/placeholder/type/uri",
        "status": 400,
        "title": "BadRequestError",
        "detail": "A valid content-type must be specified",
    }


async def test_json_with_charset_is_accepted(client: httpx.AsyncClient, tenant: Tenant) -> None:
    headers = tenant.headers() | {"content-type": "application/json;charset=utf-8"}
    response = await client.post("/v1/sandboxes", content=b'{"name": "charset-ok"}', headers=headers)
    assert response.status_code == 201


async def test_oversized_body_is_413(client: httpx.AsyncClient, tenant: Tenant, settings: Settings) -> None:
    payload = json.dumps({"name": "big", "title": "x" * settings.max_body_bytes}).encode()
    headers = tenant.headers() | {"content-type": "application/json"}
    response = await client.post("/v1/sandboxes", content=payload, headers=headers)
    assert response.status_code == 413
    assert "exceeds the limit" in response.json()["report"]["detailed-message"]


async def test_oversized_chunked_body_is_413(
    client: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    chunk = b"x" * 65536

    async def body():  # type: ignore[no-untyped-def]
        yield b'{"name": "big", "title": "'
        for _ in range(settings.max_body_bytes // len(chunk) + 2):
            yield chunk
        yield b'"}'

    headers = tenant.headers() | {"content-type": "application/json"}
    response = await client.post("/v1/sandboxes", content=body(), headers=headers)
    assert response.status_code == 413


async def test_unknown_field_is_named(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        "/v1/sandboxes", json={"name": "ok-name", "colour": "red"}, headers=tenant.headers()
    )
    assert response.status_code == 400
    body = response.json()
    assert "colour: unknown field" in body["report"]["detailed-message"]
    assert body["report"]["field"] == "colour"


async def test_rule_violation_names_field_and_rule(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post("/v1/sandboxes", json={"name": "Bad Name"}, headers=tenant.headers())
    assert response.status_code == 400
    body = response.json()
    assert body["report"]["field"] == "name"
    assert body["report"]["rule"] == "string_pattern_mismatch"
    assert "name:" in body["report"]["detailed-message"]


async def test_bad_query_parameter(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get("/v1/sandboxes?limit=0", headers=tenant.headers())
    assert response.status_code == 400
    assert response.json()["report"]["field"] == "limit"


@pytest.mark.parametrize(
    ("path", "family"),
    [
        ("/ajo/im/nothing", "ajo"),
        ("/journey/orchestration/nothing", "jo"),
        ("/authoring/nothing", "jo"),
        ("/data/core/nothing", "aep"),
        ("/v1/nothing", "aep"),
    ],
)
async def test_unknown_path_answers_in_its_family(client: httpx.AsyncClient, path: str, family: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    body = response.json()
    if family == "ajo":
        assert body["type"].startswith("https://ns.adobe.com/aep/errors/MSG-")
        assert body["report"]["additionalContext"]["message"].startswith("No resource at GET")
    elif family == "jo":
        inner = json.loads(body["error"])
        assert body["status"] == 404
        assert inner["message"].startswith("No resource")
        assert len(body["requestId"]) == 32
    else:
        assert body["report"]["detailed-message"].startswith("No resource at GET")


async def test_wrong_method_is_405(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.patch("/v1/sandboxes", json={}, headers=tenant.headers())
    assert response.status_code == 405
    assert "PATCH" in response.json()["report"]["detailed-message"]
