"""Roles per API key: every private route declares one, and each role gets exactly its groups of routes.

``admin ⊇ developer ⊇ user ⊇ read-only``. The walk below reads the application's own route table, so a new
route without a role requirement fails here the day it is added.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from clarion.executions.endpoints import HOT_ROUTES, TRIGGER_ROLE
from clarion.tenancy.gateway import RoleRequirement
from clarion.tenancy.principal import Role
from tests.api.test_isolation import PUBLIC, api_routes
from tests.builders import Api, Tenant
from tests.conftest import KeyFactory

READS_BY_POST = {
    "/journey/orchestration/list/throttlingConfigs",
    "/journey/orchestration/list/endpointConfigs",
    "/authoring/list/throttlingConfigs",
    "/authoring/list/endpointConfigs",
    "/journey/orchestration/throttlingConfigs/{uid}/canDeploy",
    "/journey/orchestration/endpointConfigs/{uid}/canDeploy",
    "/authoring/throttlingConfigs/{uid}/canDeploy",
    "/authoring/endpointConfigs/{uid}/canDeploy",
    "/data/core/ups/segment/definitions/bulk-get",
    "/data/core/ups/segment/jobs/bulk-get",
    "/v1/campaigns/preview",
    "/v1/campaigns/{campaign_id}/preview",
    "/v1/audiences/pql:validate",
}
"""POST routes that only read (Adobe models these reads as POST; a preview renders, saves nothing): open to
read-only keys."""


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    for route in routes:
        if isinstance(route, APIRoute):
            # The OpenAPI document drops path converters ({identity_value:path}): so does the walk.
            yield re.sub(r"\{(\w+):\w+\}", r"{\1}", prefix + route.path), route
        elif hasattr(route, "original_router"):  # a router included with include_router
            yield from _routes(route.original_router.routes, prefix + route.include_context.prefix)


def _requirements(dependant: Dependant) -> list[Role]:
    found = [dependant.call.role] if isinstance(dependant.call, RoleRequirement) else []
    for child in dependant.dependencies:
        found += _requirements(child)
    return found


def route_roles(app: FastAPI) -> dict[tuple[str, str], list[Role]]:
    """(method, path) → the role requirements found in the route's dependency tree."""
    table = {}
    for path, route in _routes(app.router.routes):
        for method in route.methods - {"HEAD"}:
            table[(method, path)] = _requirements(route.dependant)
    for method, path in HOT_ROUTES:
        table[(method, path)] = [TRIGGER_ROLE]
    return table


def test_every_private_route_declares_exactly_one_role(app: FastAPI) -> None:
    table = route_roles(app)
    documented = {route for route in api_routes(app) if route[1] not in PUBLIC}
    assert documented <= set(table), f"routes the walk did not find: {documented - set(table)}"
    missing = [route for route in documented if len(table[route]) != 1]
    assert not missing, f"authenticated routes without exactly one role requirement: {sorted(missing)}"
    public = [route for route in table if route[1] in PUBLIC and table[route]]
    assert not public, f"public routes must not authenticate: {public}"


def test_read_only_routes_only_read(app: FastAPI) -> None:
    table = route_roles(app)
    writes = [
        (method, path)
        for (method, path), roles in table.items()
        if roles == [Role.READ_ONLY] and method != "GET" and path not in READS_BY_POST
    ]
    assert not writes, f"read-only keys could change something through {writes}"
    # ...and the reads by POST really are open to read-only keys.
    assert all(table[("POST", path)] == [Role.READ_ONLY] for path in READS_BY_POST)


def test_route_groups_require_their_role(app: FastAPI) -> None:
    table = route_roles(app)
    assert table[("POST", "/v1/sandboxes")] == [Role.ADMIN]
    assert table[("DELETE", "/v1/credentials/{client_id}")] == [Role.ADMIN]
    assert table[("GET", "/v1/credentials")] == [Role.ADMIN]
    for path in ("/v1/ip-pools", "/v1/channel-configurations", "/v1/campaigns", "/v1/custom-actions"):
        assert table[("POST", path)] == [Role.DEVELOPER], path
    assert table[("POST", "/journey/orchestration/throttlingConfigs")] == [Role.DEVELOPER]
    assert table[("POST", "/data/core/ups/segment/definitions")] == [Role.DEVELOPER]
    assert table[("POST", "/data/foundation/flowservice/flows")] == [Role.DEVELOPER]
    for path in (
        "/ajo/im/executions/unitary",
        "/ajo/im/executions/highthroughput",
        "/v1/events",
        "/data/core/activation/disflowprovider/adhocrun",
        "/data/core/ups/segment/jobs",
        "/v1/profiles:batch",
    ):
        assert table[("POST", path)] == [Role.USER], path
    assert table[("GET", "/v1/campaigns")] == [Role.READ_ONLY]


def test_roles_form_a_chain() -> None:
    assert [role for role in Role if Role.DEVELOPER.includes(role)] == [
        Role.READ_ONLY,
        Role.USER,
        Role.DEVELOPER,
    ]
    assert Role.ADMIN.includes(Role.ADMIN)
    assert not Role.READ_ONLY.includes(Role.USER)


ALLOWED = {
    Role.READ_ONLY: {"read"},
    Role.USER: {"read", "run"},
    Role.DEVELOPER: {"read", "run", "build"},
    Role.ADMIN: {"read", "run", "build", "administer"},
}


async def _attempts(api: Api, key: Tenant, campaign_id: str) -> dict[str, httpx.Response]:
    """One representative request per route group, made with ``key``."""
    client, headers = api.client, key.headers()
    suffix = key.api_key[:6].lower().replace("_", "-")
    return {
        "read": await client.get("/v1/campaigns", headers=headers),
        "read-throttling": await client.post(
            "/journey/orchestration/list/throttlingConfigs", headers=headers
        ),
        "run": await client.post(
            "/ajo/im/executions/unitary",
            headers=headers,
            json={
                "campaignId": campaign_id,
                "requestId": f"role-{suffix}",
                "recipients": [{"type": "external", "userId": "role@example.com", "namespace": "email"}],
            },
        ),
        "run-profile": await client.put(
            f"/v1/profiles/email/{suffix}@example.com", headers=headers, json={"attributes": {}}
        ),
        "build": await client.post(
            "/v1/ip-pools", headers=headers, json={"name": f"p{suffix}", "relays": [{"host": "127.0.0.1"}]}
        ),
        "build-throttling": await client.post(
            "/journey/orchestration/throttlingConfigs",
            headers=headers,
            json={
                "name": f"t{suffix}",
                "urlPattern": f"https://{suffix}.example/*",
                "methods": ["POST"],
                "maxThroughput": 300,
            },
        ),
        "administer": await client.post("/v1/sandboxes", headers=headers, json={"name": f"s-{suffix}"}),
        "administer-keys": await client.get("/v1/credentials", headers=headers),
    }


@pytest.mark.parametrize("role", list(Role))
async def test_role_matrix(api: Api, make_key: KeyFactory, role: Role) -> None:
    pool = await api.pool()
    configuration = await api.configuration(pool["id"])
    campaign = await api.campaign(configuration["id"])
    await api.call("POST", f"/v1/campaigns/{campaign['id']}/activate", expect=200)
    key = await make_key(api.tenant, role)
    for name, response in (await _attempts(api, key, campaign["id"])).items():
        group = name.split("-")[0]
        if group in ALLOWED[role]:
            assert response.status_code < 300, (role, name, response.status_code, response.text)
            continue
        required = {"run": "user", "build": "developer", "administer": "admin"}[group]
        assert response.status_code == 403, (role, name, response.text)
        assert response.json() == {
            "error_code": "403040",
            "message": f"Forbidden: this API key has role '{role.value}'; "
            f"the request requires role '{required}'",
        }
