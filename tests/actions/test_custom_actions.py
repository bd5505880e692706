"""Custom actions (/v1/custom-actions): CRUD, versions, sandbox scoping and every validation rule."""

from __future__ import annotations

from typing import Any

import pytest

from tests.actions.conftest import Api, action_body, create_action, detail, report


async def test_create_read_list(api: Api) -> None:
    created = await create_action(
        api,
        description="Tell the CRM",
        headers={"X-Source": "clarion"},
        queryParameters=[{"name": "v", "value": "2"}, {"name": "user", "fromContext": "user.id"}],
        timeoutSeconds=5,
    )
    assert created["name"] == "notify_crm"
    assert created["method"] == "POST"
    assert created["headers"] == {"X-Source": "clarion", "Content-Type": "application/json"}
    assert created["queryParameters"] == [
        {"name": "v", "value": "2"},
        {"name": "user", "fromContext": "user.id"},
    ]
    assert created["authentication"] == {"type": "none"}
    assert created["body"] == '{"user": "{{context.userId}}"}'
    assert created["timeoutSeconds"] == 5
    assert created["version"] == 1
    assert created["createdAt"] == created["updatedAt"] or created["createdAt"] <= created["updatedAt"]
    fetched = (await api.call("GET", f"/v1/custom-actions/{created['id']}", expect=200)).json()
    assert fetched == created


async def test_defaults(api: Api) -> None:
    created = await create_action(api, body=None)
    assert created["timeoutSeconds"] == 30
    assert created["body"] is None
    assert created["queryParameters"] == []
    get = await create_action(api, name="lookup", method="GET", body=None)
    assert get["headers"] == {}, "GET carries no body, so no default Content-Type"


async def test_list_is_paginated_by_name(api: Api) -> None:
    for name in ("c_action", "a_action", "b_action"):
        await create_action(api, name=name)
    page = (await api.call("GET", "/v1/custom-actions?limit=2&offset=1", expect=200)).json()
    assert page["total"] == 3
    assert page["limit"] == 2
    assert page["offset"] == 1
    assert [item["name"] for item in page["items"]] == ["b_action", "c_action"]


async def test_put_replaces_and_bumps_version(api: Api) -> None:
    created = await create_action(api)
    body = action_body(name="renamed", method="PUT", url="http://crm.example/v2", timeoutSeconds=12.5)
    updated = (await api.call("PUT", f"/v1/custom-actions/{created['id']}", body, expect=200)).json()
    assert updated["version"] == 2
    assert (updated["name"], updated["method"], updated["url"]) == ("renamed", "PUT", "http://crm.example/v2")
    assert updated["timeoutSeconds"] == 12.5
    assert updated["updatedAt"] > created["updatedAt"]
    assert updated["createdAt"] == created["createdAt"]
    again = (await api.call("PUT", f"/v1/custom-actions/{created['id']}", body, expect=200)).json()
    assert again["version"] == 3


async def test_delete(api: Api) -> None:
    created = await create_action(api)
    await api.call("DELETE", f"/v1/custom-actions/{created['id']}", expect=204)
    response = await api.call("GET", f"/v1/custom-actions/{created['id']}", expect=404)
    assert created["id"] in detail(response)
    await api.call("DELETE", f"/v1/custom-actions/{created['id']}", expect=404)


async def test_unknown_id_is_404(api: Api) -> None:
    for method, body in (("GET", None), ("PUT", action_body()), ("DELETE", None)):
        response = await api.call(method, "/v1/custom-actions/nope", body, expect=404)
        assert "'nope' does not exist" in detail(response)


async def test_names_are_unique_per_sandbox(api: Api) -> None:
    first = await create_action(api, name="one")
    second = await create_action(api, name="two")
    response = await api.call("POST", "/v1/custom-actions", action_body(name="one"), expect=409)
    assert "already exists" in detail(response)
    response = await api.call(
        "PUT", f"/v1/custom-actions/{second['id']}", action_body(name="one"), expect=409
    )
    assert "'one'" in detail(response)
    await api.call("PUT", f"/v1/custom-actions/{first['id']}", action_body(name="one"), expect=200)
    # Another sandbox may reuse the name, and sees nothing of this one's actions.
    await api.call("POST", "/v1/sandboxes", {"name": "dev"}, expect=201)
    dev = api.tenant.headers("dev")
    response = await api.client.post("/v1/custom-actions", json=action_body(name="one"), headers=dev)
    assert response.status_code == 201, response.text
    response = await api.client.get(f"/v1/custom-actions/{first['id']}", headers=dev)
    assert response.status_code == 404
    listed = (await api.client.get("/v1/custom-actions", headers=dev)).json()
    assert [item["name"] for item in listed["items"]] == ["one"]
    assert listed["items"][0]["id"] != first["id"]


# Validation ------------------------------------------------------------------------------------------


async def expect_400(api: Api, field: str, **fields: Any) -> str:
    """POST an action with ``fields`` and check the 400 names ``field``; returns the message."""
    response = await api.call("POST", "/v1/custom-actions", action_body(**fields))
    assert response.status_code == 400, response.text
    assert report(response)["field"] == field, report(response)
    assert response.json()["type"].startswith("https://ns.adobe.com/aep/errors/")
    return detail(response)


@pytest.mark.parametrize("name", ["", "a" * 31, "has-dash", "has space", "dot.ted", "é"])
async def test_name_rule(api: Api, name: str) -> None:
    await expect_400(api, "name", name=name)


async def test_name_may_be_30_characters(api: Api) -> None:
    await create_action(api, name="A_1" * 10)


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("ftp://crm.example/x", "absolute_http_url"),
        ("/relative/path", "absolute_http_url"),
        ("crm.example/x", "absolute_http_url"),
        ("https://user:pw@crm.example/x", "no_userinfo"),
        ("https://crm.example:8443/x", "default_port_only"),
        ("http://crm.example:443/x", "default_port_only"),
        ("https://crm.example:80/x", "default_port_only"),
        ("http://crm.example:99999/x", "port"),
        ("http://crm.example:abc/x", "port"),
        ("https://crm.example/x#part", "no_fragment"),
        ("https://crm.example/a b", "characters"),
        ("https://crm.example/\nx", "characters"),
        ("https:///nohost", "absolute_http_url"),
        ("https://-bad-.example/x", "host"),
        ("https://*.example/x", "host"),
        ("https://bücher.example/x", "host"),
    ],
)
async def test_url_rules(api: Api, url: str, rule: str) -> None:
    response = await api.call("POST", "/v1/custom-actions", action_body(url=url))
    assert response.status_code == 400, (url, response.text)
    assert report(response)["field"] == "url"
    assert report(response)["rule"] == rule, (url, detail(response))


async def test_non_default_port_message_names_the_rule(api: Api) -> None:
    message = await expect_400(api, "url", url="https://crm.example:8443/x")
    assert message == "url: only the default port is allowed (80 for http, 443 for https), not 8443"


@pytest.mark.parametrize(
    "url",
    [
        "https://crm.example:443/x",
        "http://crm.example:80/x",
        "HTTPS://CRM.example/x?static=1",
        "http://10.0.0.7/hook",
        "http://127.0.0.1/hook",
        "http://[::1]/hook",
        "http://localhost/hook",
        "https://xn--bcher-kva.example/",
    ],
)
async def test_allowed_urls(api: Api, url: str) -> None:
    created = await create_action(api, url=url)
    assert created["url"] == url


async def test_url_too_long(api: Api) -> None:
    await expect_400(api, "url", url="https://crm.example/" + "a" * 2048)


async def test_method_rule(api: Api) -> None:
    for method in ("DELETE", "PATCH", "get"):
        await expect_400(api, "method", method=method)


@pytest.mark.parametrize("name", ["Host", "content-length", "Transfer-Encoding", "Connection", "Upgrade"])
async def test_reserved_headers(api: Api, name: str) -> None:
    response = await api.call("POST", "/v1/custom-actions", action_body(headers={name: "x"}))
    assert response.status_code == 400
    assert report(response) | {"field": f"headers.{name}", "rule": "reserved_header"} == report(response)


async def test_header_rules(api: Api) -> None:
    message = await expect_400(api, "headers.Authorization", headers={"Authorization": "Bearer x"})
    assert "authentication" in message
    await expect_400(api, "headers.X Bad", headers={"X Bad": "x"})
    await expect_400(api, "headers.X-Bad", headers={"X-Bad": "a\r\nInjected: yes"})
    await expect_400(api, "headers.x-twice", headers={"X-Twice": "1", "x-twice": "2"})
    await expect_400(api, "headers.X-Long", headers={"X-Long": "a" * 8193})


async def test_content_type_default_and_override(api: Api) -> None:
    created = await create_action(api, headers={"content-type": "application/vnd.api+json"})
    assert created["headers"] == {"content-type": "application/vnd.api+json"}
    put = await create_action(api, name="put_one", method="PUT")
    assert put["headers"] == {"Content-Type": "application/json"}


async def test_query_parameter_rules(api: Api) -> None:
    both = [{"name": "a", "value": "1", "fromContext": "x"}]
    message = await expect_400(api, "queryParameters.0", queryParameters=both)
    assert "exactly one of value or fromContext" in message
    await expect_400(api, "queryParameters.0", queryParameters=[{"name": "a"}])
    await expect_400(api, "queryParameters.0.name", queryParameters=[{"name": "", "value": "1"}])
    await expect_400(
        api, "queryParameters.0.fromContext", queryParameters=[{"name": "a", "fromContext": "a..b"}]
    )
    await expect_400(
        api, "queryParameters.0.other", queryParameters=[{"name": "a", "value": "1", "other": 1}]
    )


async def test_authentication_rules(api: Api) -> None:
    await expect_400(api, "authentication", authentication={"type": "oauth"})
    message = await expect_400(
        api, "authentication.password", authentication={"type": "basic", "username": "u"}
    )
    assert "required" in message
    await expect_400(api, "authentication.token", authentication={"type": "bearer"})
    await expect_400(api, "authentication.apiKey", authentication={"type": "apiKey", "headerName": "X-Key"})
    await expect_400(
        api, "authentication.username", authentication={"type": "basic", "username": "a:b", "password": "p"}
    )
    await expect_400(api, "authentication.token", authentication={"type": "bearer", "token": "abc\ndef"})
    await expect_400(
        api,
        "authentication.headerName",
        authentication={"type": "apiKey", "headerName": "Content-Length", "apiKey": "k"},
    )
    await expect_400(
        api,
        "authentication.headerName",
        headers={"x-key": "static"},
        authentication={"type": "apiKey", "headerName": "X-Key", "apiKey": "k"},
    )
    await expect_400(
        api,
        "authentication.apiKey.headerName",
        authentication={"type": "apiKey", "headerName": "bad header", "apiKey": "k"},
    )


async def test_body_rules(api: Api) -> None:
    message = await expect_400(api, "body", method="GET")
    assert message == "body: a GET action cannot have a body"
    response = await api.call("POST", "/v1/custom-actions", action_body(body='{\n  "a": "{{#if x}}"\n}'))
    assert response.status_code == 400
    assert report(response)["rule"] == "template_syntax"
    assert (report(response)["line"], report(response)["column"]) == (2, 9)
    assert "line 2, column 9" in detail(response)
    message = await expect_400(api, "body", body='{"email": "{{profile.email}}"}')
    assert "event context only" in message
    response = await api.call("POST", "/v1/custom-actions", action_body(body='{"a": 1,\n "b": }'))
    assert response.status_code == 400
    assert report(response)["rule"] == "json"
    assert (report(response)["line"], report(response)["column"]) == (2, 7)
    await expect_400(api, "body", body="")
    message = await expect_400(api, "body", body='{"n": NaN}')
    assert message == "body: not valid JSON: NaN is not a JSON value at line 1, column 7"


async def test_templated_bodies_are_checked_when_called(api: Api) -> None:
    # With expressions the final JSON depends on the event; it is checked at call time.
    await create_action(
        api, body='{"n": {{{context.n}}}, "items": [{{#each context.items}}"{{this}}"{{/each}}]}'
    )


@pytest.mark.parametrize("timeout", [0, 0.5, 31, -1, "soon"])
async def test_timeout_rule(api: Api, timeout: object) -> None:
    await expect_400(api, "timeoutSeconds", timeoutSeconds=timeout)


async def test_unknown_field(api: Api) -> None:
    message = await expect_400(api, "retries", retries=3)
    assert "unknown field" in message


async def test_put_is_validated_too(api: Api) -> None:
    created = await create_action(api)
    body = action_body(url="https://crm.example:8080/")
    response = await api.call("PUT", f"/v1/custom-actions/{created['id']}", body, expect=400)
    assert report(response)["rule"] == "default_port_only"
    fetched = (await api.call("GET", f"/v1/custom-actions/{created['id']}", expect=200)).json()
    assert fetched == created
