"""From a stored action to an outbound request: body rendering, query, authentication, write-only secrets."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from sqlalchemy import select

from clarion.actions.errors import CustomActionNotFound
from clarion.actions.service import ActionSpec, OutboundRequest, find_action, load_action
from clarion.container import Container
from clarion.models.actions import CustomAction
from clarion.tenancy.principal import job_principal
from tests.actions.conftest import Api, action_body, create_action, report, sandbox_id


async def load(api: Api, container: Container, action: dict[str, Any]) -> ActionSpec:
    """The runtime form of an action created through the API (the worker's way in)."""
    async with container.unit_of_work() as uow:
        spec = await load_action(
            uow, api.tenant.org_id, await sandbox_id(api), action["id"], box=container.secrets
        )
    assert spec is not None
    return spec


async def build(api: Api, container: Container, context: dict[str, Any], **fields: Any) -> OutboundRequest:
    """Create an action with ``fields`` and build its request for ``context``."""
    spec = await load(api, container, await create_action(api, **fields))
    return spec.build_request(context)


# Bodies ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        'say "hi"',
        "back\\slash \\n not a newline",
        "two\nlines\r\nand\ttab",
        "control \x00\x01\x1f",
        "unicode é ✓ 😀 \u2028",
        '"}, "injected": {"x": "',
        "{{not a template}}",
    ],
)
async def test_values_are_escaped_inside_json_strings(api: Api, container: Container, value: str) -> None:
    request = await build(api, container, {"userId": value, "note": {"text": value}})
    assert request.content is not None
    assert json.loads(request.content) == {"user": value}


async def test_nested_object_inside_a_string_is_escaped_json(api: Api, container: Container) -> None:
    body = '{"order": "{{context.order}}", "tags": "{{context.tags}}"}'
    request = await build(api, container, {"order": {"id": 'A"1'}, "tags": ["a", "b"]}, body=body)
    assert request.content is not None
    assert json.loads(request.content) == {"order": '{"id":"A\\"1"}', "tags": "a,b"}


async def test_raw_output_inserts_numbers_and_objects(api: Api, container: Container) -> None:
    body = (
        '{"n": {{context.n}}, "price": {{{context.price}}}, "ok": {{context.ok}}, '
        '"order": {{{context.order}}}}'
    )
    context = {"n": 3, "price": 9.5, "ok": True, "order": {"id": "A1", "lines": [1, 2]}}
    request = await build(api, container, context, body=body)
    assert request.content is not None
    assert json.loads(request.content) == {
        "n": 3,
        "price": 9.5,
        "ok": True,
        "order": {"id": "A1", "lines": [1, 2]},
    }


async def test_loops_and_conditions(api: Api, container: Container) -> None:
    body = (
        '{"items": [{{#each context.items}}{"sku": "{{sku}}"}{{#unless @last}},{{/unless}}{{/each}}]'
        '{%#if context.vip = "yes"%}, "vip": true{%/if%}}'
    )
    context = {"items": [{"sku": 'a"1'}, {"sku": "b\n2"}], "vip": "yes"}
    request = await build(api, container, context, body=body)
    assert request.content is not None
    assert json.loads(request.content) == {"items": [{"sku": 'a"1'}, {"sku": "b\n2"}], "vip": True}


async def test_missing_values_render_empty_strings(api: Api, container: Container) -> None:
    request = await build(api, container, {})
    assert request.content == b'{"user": ""}'


async def test_a_render_that_is_not_json_is_a_value_error(api: Api, container: Container) -> None:
    spec = await load(api, container, await create_action(api, body='{"n": {{context.n}}}'))
    assert spec.build_request({"n": 4}).content == b'{"n": 4}'
    with pytest.raises(ValueError, match=r"custom action 'notify_crm': the rendered body is not valid JSON"):
        spec.build_request({"n": "four"})
    with pytest.raises(ValueError, match=r"line 1, column 7"):
        spec.build_request({})


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
async def test_nan_and_infinity_are_not_json(api: Api, container: Container, value: str) -> None:
    spec = await load(api, container, await create_action(api, body='{"n": {{{context.n}}}}'))
    with pytest.raises(ValueError, match=f"{value} is not a JSON value"):
        spec.build_request({"n": value})


async def test_get_has_no_content(api: Api, container: Container) -> None:
    request = await build(api, container, {"x": 1}, method="GET", body=None)
    assert request.method == "GET"
    assert request.content is None
    assert "Content-Type" not in request.headers


async def test_method_headers_timeout(api: Api, container: Container) -> None:
    request = await build(
        api, container, {}, method="PUT", headers={"X-Source": "clarion"}, timeoutSeconds=2.5
    )
    assert request.method == "PUT"
    assert request.headers == {"X-Source": "clarion", "Content-Type": "application/json"}
    assert request.timeout == 2.5
    assert request.url == "https://crm.example/api/events"


# Query parameters -----------------------------------------------------------------------------------


async def test_query_parameters_constant_and_from_context(api: Api, container: Container) -> None:
    parameters = [
        {"name": "v", "value": "2"},
        {"name": "user id", "fromContext": "user.id"},
        {"name": "first", "fromContext": "items.0.sku"},
        {"name": "count", "fromContext": "count"},
        {"name": "q", "value": "a&b=c/d é"},
    ]
    context = {"user": {"id": "u 1"}, "items": [{"sku": "S1"}], "count": 3}
    request = await build(api, container, context, queryParameters=parameters)
    assert request.url == (
        "https://crm.example/api/events?v=2&user%20id=u%201&first=S1&count=3&q=a%26b%3Dc%2Fd%20%C3%A9"
    )


async def test_query_parameters_extend_a_query_in_the_url(api: Api, container: Container) -> None:
    parameters = [{"name": "b", "value": "2"}]
    request = await build(api, container, {}, url="https://crm.example/x?a=1", queryParameters=parameters)
    assert request.url == "https://crm.example/x?a=1&b=2"
    request = await build(
        api, container, {}, name="other", url="https://crm.example/x?", queryParameters=parameters
    )
    assert request.url == "https://crm.example/x?b=2"


async def test_missing_context_value_is_a_value_error(api: Api, container: Container) -> None:
    parameters = [{"name": "user", "fromContext": "user.id"}]
    spec = await load(api, container, await create_action(api, queryParameters=parameters))
    with pytest.raises(ValueError, match=r"query parameter 'user' reads context\.user\.id"):
        spec.build_request({"user": {}})


# Authentication ------------------------------------------------------------------------------------


async def test_each_authentication_type_sets_its_header(api: Api, container: Container) -> None:
    basic = await build(
        api, container, {}, name="basic", authentication={"type": "basic", "username": "ü", "password": "p:w"}
    )
    assert basic.headers["Authorization"] == "Basic " + base64.b64encode("ü:p:w".encode()).decode()
    bearer = await build(api, container, {}, name="bearer", authentication={"type": "bearer", "token": "t0k"})
    assert bearer.headers["Authorization"] == "Bearer t0k"
    key = await build(
        api,
        container,
        {},
        name="apikey",
        authentication={"type": "apiKey", "headerName": "X-Api-Key", "apiKey": "k3y"},
    )
    assert key.headers["X-Api-Key"] == "k3y"
    assert "Authorization" not in key.headers
    none = await build(api, container, {}, name="none")
    assert "Authorization" not in none.headers


async def test_secrets_never_leave_and_are_sealed_at_rest(api: Api, container: Container) -> None:
    secret = "s3cret-token-value"
    created = await create_action(api, authentication={"type": "bearer", "token": secret})
    assert created["authentication"] == {"type": "bearer", "hasToken": True}
    responses = [
        await api.call("GET", f"/v1/custom-actions/{created['id']}", expect=200),
        await api.call("GET", "/v1/custom-actions", expect=200),
        await api.call("PUT", f"/v1/custom-actions/{created['id']}", action_body(), expect=200),
    ]
    assert all(secret not in response.text for response in responses)
    async with container.unit_of_work() as uow:
        stored = await uow.session.scalar(select(CustomAction).where(CustomAction.id == created["id"]))
    assert stored is not None
    assert secret not in json.dumps(stored.authentication)
    spec = await load(api, container, created)
    assert secret not in repr(spec)
    assert secret not in repr(spec.build_request({}))
    assert spec.secrets == ()  # the PUT above removed the authentication


async def test_put_without_secret_keeps_the_stored_one(api: Api, container: Container) -> None:
    auth = {"type": "apiKey", "headerName": "X-Key", "apiKey": "first"}
    created = await create_action(api, authentication=auth)
    kept = action_body(description="new", authentication={"type": "apiKey", "headerName": "X-Other"})
    updated = await api.call("PUT", f"/v1/custom-actions/{created['id']}", kept, expect=200)
    assert updated.json()["authentication"] == {"type": "apiKey", "headerName": "X-Other", "hasApiKey": True}
    spec = await load(api, container, created)
    assert spec.build_request({}).headers["X-Other"] == "first"
    assert spec.secrets == ("first",)
    replaced = action_body(authentication={"type": "apiKey", "headerName": "X-Other", "apiKey": "second"})
    await api.call("PUT", f"/v1/custom-actions/{created['id']}", replaced, expect=200)
    assert (await load(api, container, created)).build_request({}).headers["X-Other"] == "second"


async def test_basic_password_is_kept_for_the_same_user_only(api: Api, container: Container) -> None:
    created = await create_action(api, authentication={"type": "basic", "username": "u", "password": "pw"})
    same_user = action_body(authentication={"type": "basic", "username": "u"})
    await api.call("PUT", f"/v1/custom-actions/{created['id']}", same_user, expect=200)
    header = (await load(api, container, created)).build_request({}).headers["Authorization"]
    assert header == "Basic " + base64.b64encode(b"u:pw").decode()
    other_user = action_body(authentication={"type": "basic", "username": "v"})
    response = await api.call("PUT", f"/v1/custom-actions/{created['id']}", other_user, expect=400)
    assert report(response)["field"] == "authentication.password"
    other_type = action_body(authentication={"type": "bearer"})
    response = await api.call("PUT", f"/v1/custom-actions/{created['id']}", other_type, expect=400)
    assert report(response)["field"] == "authentication.token"


# Finding actions ------------------------------------------------------------------------------------


async def test_find_action_by_name_or_id(api: Api, container: Container) -> None:
    created = await create_action(api, timeoutSeconds=7)
    principal = job_principal(api.tenant.org_id, await sandbox_id(api))
    async with container.unit_of_work() as uow:
        by_name = await find_action(uow, principal, "notify_crm", box=container.secrets)
        by_id = await find_action(uow, principal, created["id"], box=container.secrets)
        with pytest.raises(CustomActionNotFound, match="'missing' does not exist") as raised:
            await find_action(uow, principal, "missing", box=container.secrets)
    assert raised.value.status == 404
    assert by_name == by_id
    assert (by_id.id, by_id.name, by_id.method, by_id.version, by_id.timeout) == (
        created["id"],
        "notify_crm",
        "POST",
        1,
        7.0,
    )
    assert (by_id.org_id, by_id.sandbox_id) == (principal.org_id, principal.sandbox_id)


async def test_actions_of_other_sandboxes_and_deleted_ones_are_not_found(
    api: Api, container: Container
) -> None:
    created = await create_action(api)
    await api.call("POST", "/v1/sandboxes", {"name": "dev"}, expect=201)
    dev = job_principal(api.tenant.org_id, await sandbox_id(api, "dev"))
    async with container.unit_of_work() as uow:
        with pytest.raises(CustomActionNotFound):
            await find_action(uow, dev, created["id"], box=container.secrets)
        assert (
            await load_action(uow, dev.org_id, dev.sandbox_id, created["id"], box=container.secrets) is None
        )
    await api.call("DELETE", f"/v1/custom-actions/{created['id']}", expect=204)
    prod = await sandbox_id(api)
    async with container.unit_of_work() as uow:
        assert await load_action(uow, api.tenant.org_id, prod, created["id"], box=container.secrets) is None


async def test_a_new_version_is_seen_by_the_runtime(api: Api, container: Container) -> None:
    created = await create_action(api)
    body = action_body(body='{"v": 2}')
    await api.call("PUT", f"/v1/custom-actions/{created['id']}", body, expect=200)
    spec = await load(api, container, created)
    assert spec.version == 2
    assert spec.build_request({}).content == b'{"v": 2}'
