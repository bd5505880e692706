"""Bad input gets a 4xx in the envelope of its API family, naming the problem; never a 500."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from clarion.config import Settings
from clarion.kit.params import MAX_OFFSET
from clarion.profiles.documents import profile_input
from clarion.profiles.errors import InvalidProfile
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


def _field_and_rule(body: dict[str, Any]) -> tuple[str, str]:
    """The ``field`` and ``rule`` a 400 names, whichever family's envelope carries them."""
    if "error" in body:  # Journey Orchestration: the details are a JSON string
        inner = json.loads(body["error"])
        return inner["field"], inner["rule"]
    report = body["report"]
    context = report.get("additionalContext", report)  # AJO nests them, AEP does not
    return context["field"], context["rule"]


def _token(offset: int) -> str:
    """A continuation token in the form the Flow Service lists issue, for any offset."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode().rstrip("=")


# Each list route's position parameter, one past its bound (2**63 overflowed SQLite's integers: a 500).
TOO_FAR = [
    ("/v1/sandboxes?offset=9223372036854775808", "offset"),
    ("/v1/ip-pools?offset=2147483648", "offset"),
    ("/v1/channel-configurations?offset=9223372036854775808", "offset"),
    ("/v1/campaigns?offset=9223372036854775808", "offset"),
    ("/v1/custom-actions?offset=9223372036854775808", "offset"),
    ("/v1/action-calls?offset=9223372036854775808", "offset"),
    ("/v1/messages?offset=9223372036854775808", "offset"),
    ("/v1/outbox?offset=9223372036854775808", "offset"),
    ("/v1/profiles?offset=9223372036854775808", "offset"),
    ("/v1/profiles?start=9223372036854775808", "start"),
    ("/data/core/ups/segment/definitions?start=9223372036854775808", "start"),
    ("/data/core/ups/segment/definitions?page=9223372036854775808", "page"),
    ("/data/core/ups/segment/jobs?start=9223372036854775808", "start"),
    ("/data/core/ups/export/jobs?offset=9223372036854775808", "offset"),
    ("/journey/campaigns/service/campaigns?page=2147484", "page"),
]


@pytest.mark.parametrize(("url", "parameter"), TOO_FAR)
async def test_offsets_past_the_bound_are_400_naming_the_parameter(
    client: httpx.AsyncClient, tenant: Tenant, url: str, parameter: str
) -> None:
    response = await client.get(url, headers=tenant.headers())
    assert response.status_code == 400, response.text
    assert _field_and_rule(response.json()) == (parameter, "less_than_equal")
    assert f"{parameter}: Input should be less than or equal to" in response.text


async def test_the_largest_offset_is_served(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get(f"/v1/sandboxes?offset={MAX_OFFSET}", headers=tenant.headers())
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


async def test_export_job_offset_is_a_number(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get("/data/core/ups/export/jobs?offset=abc", headers=tenant.headers())
    assert response.status_code == 400, response.text
    assert _field_and_rule(response.json()) == ("offset", "int_parsing")


@pytest.mark.parametrize(
    ("url", "parameter", "rule"),
    [
        ("/v1/campaigns/%00", "campaign_id", "string_pattern_mismatch"),
        (f"/v1/ip-pools/{'x' * 257}", "pool_id", "string_too_long"),
        ("/ajo/im/executions/schedules/a%01b", "schedule_id", "string_pattern_mismatch"),
        (f"/journey/orchestration/throttlingConfigs/{'u' * 257}", "uid", "string_too_long"),
        ("/data/foundation/flowservice/flows/%7F", "flow_id", "string_pattern_mismatch"),
        ("/v1/messages?recipient=a%00b", "recipient", "string_pattern_mismatch"),
        (f"/v1/campaigns?name={'n' * 1025}", "name", "string_too_long"),
        ("/data/core/ups/segment/jobs?sort=%00", "sort", "string_pattern_mismatch"),
    ],
)
async def test_ids_and_filters_are_bounded_and_printable(
    client: httpx.AsyncClient, tenant: Tenant, url: str, parameter: str, rule: str
) -> None:
    response = await client.get(url, headers=tenant.headers())
    assert response.status_code == 400, response.text
    assert _field_and_rule(response.json()) == (parameter, rule)


@pytest.mark.parametrize(
    ("query", "parameter", "rule"),
    [
        ("limit=%C2%B2", "limit", "range"),  # "²".isdigit() is True, int("²") raised a ValueError: a 500
        ("property=name%3D%3Da%00b", "property", "printable"),  # PostgreSQL refuses NUL in text: a 500
        ("continuationToken=" + _token(2**63), "continuationToken", "token"),  # SQLite overflow: a 500
    ],
)
async def test_flow_service_list_parameters_are_checked(
    client: httpx.AsyncClient, tenant: Tenant, query: str, parameter: str, rule: str
) -> None:
    response = await client.get(f"/data/foundation/flowservice/flows?{query}", headers=tenant.headers())
    assert response.status_code == 400, response.text
    assert _field_and_rule(response.json()) == (parameter, rule)


async def test_identity_values_refuse_control_characters(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.put("/v1/profiles/crmid/a%00b", json={}, headers=tenant.headers())
    assert response.status_code == 400, response.text
    assert _field_and_rule(response.json()) == ("id", "value_printable")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/data/core/ups/export/jobs",
            {"destination": {"datasetId": "ds-1"}, "schema": {"name": "a\u0000b"}},
        ),
        ("/v1/ip-pools", {"name": "pool", "relays": [{"host": "a\u0000b", "port": 25}]}),
        ("/data/core/ups/segment/jobs", [{"segmentId": "s\u0000"}]),
        ("/v1/profiles:batch", [{"identities": {"crmid": ["1"]}, "attributes": {"k\u0000": 1}}]),
        ("/ajo/im/executions/unitary", {"requestId": "\u0000"}),
        # Routes that read the raw body saw the refusal as ClientDisconnect, raised through as a bug.
        ("/ajo/im/executions/audience", {"campaignId": "\u0000"}),
        ("/v1/events", {"actionId": "\u0000"}),
        ("/journey/orchestration/endpointConfigs", {"urlPattern": "\u0000"}),
    ],
)
async def test_nul_anywhere_in_a_body_is_400(
    client: httpx.AsyncClient, tenant: Tenant, path: str, body: Any
) -> None:
    # PostgreSQL refuses \u0000 in text and jsonb: these were 500s there, after validation.
    response = await client.post(path, json=body, headers=tenant.headers())
    assert response.status_code == 400, response.text
    assert _field_and_rule(response.json()) == ("body", "no_nul")


async def test_an_escaped_backslash_before_u0000_is_plain_text(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.post(
        "/v1/sandboxes", json={"name": "bs", "title": "\\u0000"}, headers=tenant.headers()
    )
    assert response.status_code == 201, response.text
    assert response.json()["title"] == "\\u0000"


def test_nul_in_profile_attributes_names_the_field() -> None:
    # Imports (clarion profiles import) reach the documents without the HTTP body check.
    with pytest.raises(InvalidProfile) as raised:
        profile_input([("crmid", "1")], {"person": {"name": ["x", "\u0000"]}})
    assert raised.value.context == {"field": "attributes.person.name[1]", "rule": "no_nul"}


@pytest.mark.parametrize("job_id", ["%C2%B2", "9223372036854775808"])
async def test_export_job_ids_that_are_no_bigint_are_not_found(
    client: httpx.AsyncClient, tenant: Tenant, job_id: str
) -> None:
    # "²".isdigit() is True and int("²") raised; 2**63 overflowed the column: both were 500s.
    response = await client.get(f"/data/core/ups/export/jobs/{job_id}", headers=tenant.headers())
    assert response.status_code == 404, response.text


async def test_a_superscript_content_length_is_no_server_error(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    # "²".isdigit() is True and int("²") raised in the body-size check, before any route ran.
    headers = [(name.encode(), value.encode()) for name, value in tenant.headers().items()]
    headers += [(b"content-type", b"application/json"), (b"content-length", "²".encode("latin-1"))]
    response = await client.post("/v1/sandboxes", content=b'{"name": "sup"}', headers=headers)
    assert response.request.headers.get_list("content-length") == ["²"]
    assert response.status_code < 500, response.text
