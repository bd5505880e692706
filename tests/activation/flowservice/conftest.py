"""Helpers of the Flow Service tests: a tenant's client of ``/data/foundation/flowservice``, audiences, runs.

Audiences are ``segment_definitions`` rows inserted directly (the audiences API is another package);
runs are ``flow_runs`` rows inserted directly (the exporter writes them).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from clarion.activation.flowservice import specs
from clarion.container import Container
from clarion.kit.ids import new_id
from clarion.models.activation import FlowRun
from clarion.models.audiences import SegmentDefinition
from tests.builders import Tenant
from tests.conftest import TenantFactory

BASE = "/data/foundation/flowservice"
SFTP_PASSWORD = "sftp-pass-Z9q"
S3_SECRET = "s3-secret-Wk2Xv9"
SSH_KEY = "LS0tLS1CRUdJTiBPUEVOU1NIIFBSSVZBVEUgS0VZLS0tLS0="


def sftp_base(**fields: Any) -> dict[str, Any]:
    """A valid SFTP (password) base connection body."""
    body: dict[str, Any] = {
        "name": "SFTP base",
        "auth": {
            "specName": "SFTP with Password",
            "params": {
                "domain": "sftp.example",
                "port": 2222,
                "username": "alice",
                "password": SFTP_PASSWORD,
            },
        },
        "connectionSpec": {"id": specs.SFTP_SPEC_ID, "version": "1.0"},
    }
    return {**body, **fields}


def s3_base(**fields: Any) -> dict[str, Any]:
    """A valid S3 base connection body."""
    body: dict[str, Any] = {
        "name": "S3 base",
        "auth": {
            "specName": "Access Key",
            "params": {
                "s3AccessKey": "AKIAEXAMPLE",
                "s3SecretKey": S3_SECRET,
                "endpointUrl": "http://127.0.0.1:9000",
                "region": "eu-west-1",
            },
        },
        "connectionSpec": {"id": specs.S3_SPEC_ID, "version": "1.0"},
    }
    return {**body, **fields}


def segment_params(**params: Any) -> dict[str, Any]:
    """Target params of a CSV export (override with ``params``)."""
    return {"fileType": "CSV", "compression": "NONE", **params}


def selector(audience_id: str, **value: Any) -> dict[str, Any]:
    """A valid PLATFORM_SEGMENT selector (daily full export, scheduled at 23:00)."""
    body: dict[str, Any] = {
        "id": audience_id,
        "filenameTemplate": "%DESTINATION_NAME%_%SEGMENT_ID%_%DATETIME(YYYYMMdd_HHmmss)%",
        "exportMode": "DAILY_FULL_EXPORT",
        "schedule": {
            "frequency": "DAILY",
            "startDate": "2030-07-22",
            "startTime": "23:00",
            "triggerType": "SCHEDULED",
        },
    }
    return {"type": "PLATFORM_SEGMENT", "value": {**body, **value}}


def add_selector(value: dict[str, Any]) -> list[dict[str, Any]]:
    """The JSON Patch that appends a selector to the first transformation."""
    return [{"op": "add", "path": "/transformations/0/params/segmentSelectors/selectors/-", "value": value}]


@dataclass
class FlowService:
    """One tenant's view of the Flow Service API, with builders for a working dataflow."""

    client: httpx.AsyncClient
    tenant: Tenant
    container: Container
    sandbox: str = "prod"
    created: dict[str, str] = field(default_factory=dict)

    def headers(self, **extra: str) -> dict[str, str]:
        """The gateway headers, plus ``extra``."""
        return {**self.tenant.headers(self.sandbox), **extra}

    async def call(
        self, method: str, path: str, body: Any = None, *, expect: int | None = None, **headers: str
    ) -> httpx.Response:
        """A request to ``BASE + path``; ``expect`` asserts the status."""
        response = await self.client.request(
            method,
            BASE + path,
            json=body,
            headers=self.headers(**{k.replace("_", "-"): v for k, v in headers.items()}),
        )
        if expect is not None:
            assert response.status_code == expect, response.text
        return response

    async def create(self, path: str, body: dict[str, Any]) -> str:
        """POST a create body, assert 201 ``{id, etag}``, return the id."""
        answer = (await self.call("POST", path, body, expect=201)).json()
        assert set(answer) == {"id", "etag"}
        assert answer["etag"][0] == answer["etag"][-1] == '"'
        return str(answer["id"])

    async def item(self, path: str) -> dict[str, Any]:
        """GET ``{items: [x]}`` and return ``x``."""
        items = (await self.call("GET", path, expect=200)).json()["items"]
        assert len(items) == 1
        found: dict[str, Any] = items[0]
        return found

    async def source(self) -> str:
        """A Profile store source connection."""
        body = {"name": "Profiles", "connectionSpec": {"id": specs.PROFILE_STORE_SPEC_ID, "version": "1.0"}}
        return await self.create("/sourceConnections", body)

    async def target(self, kind: str = "sftp", **params: Any) -> str:
        """A base connection and a target connection of ``kind`` (sftp, s3, local) on it."""
        if kind == "sftp":
            base = await self.create("/connections", sftp_base())
            spec, location = specs.SFTP_SPEC_ID, {"remotePath": "/exports"}
        elif kind == "s3":
            base = await self.create("/connections", s3_base())
            spec, location = specs.S3_SPEC_ID, {"bucketName": "exports", "path": "clarion/out"}
        else:
            body = {"name": "Local", "connectionSpec": {"id": specs.LOCAL_SPEC_ID, "version": "1.0"}}
            base = await self.create("/connections", body)
            spec, location = specs.LOCAL_SPEC_ID, {"path": "out"}
        body = {
            "name": f"{kind} target",
            "baseConnectionId": base,
            "connectionSpec": {"id": spec, "version": "1.0"},
            "params": segment_params(**{**location, **params}),
        }
        return await self.create("/targetConnections", body)

    def flow_body(
        self, source_id: str, target_id: str, *, spec: str = specs.SFTP_FLOW_SPEC_ID, **fields: Any
    ) -> dict[str, Any]:
        """A create-flow body as Adobe's tutorial writes it (empty selectors)."""
        body: dict[str, Any] = {
            "name": "Activate to SFTP",
            "description": "Nightly files",
            "flowSpec": {"id": spec, "version": "1.0"},
            "sourceConnectionIds": [source_id],
            "targetConnectionIds": [target_id],
            "transformations": [
                {
                    "name": "GeneralTransform",
                    "params": {
                        "mandatoryFields": [],
                        "primaryFields": [],
                        "profileMapping": {},
                        "segmentSelectors": {"selectors": []},
                    },
                }
            ],
        }
        return {**body, **fields}

    async def flow(self, kind: str = "sftp", **fields: Any) -> str:
        """A flow (with its source and target connections) to a ``kind`` destination."""
        spec = {
            "sftp": specs.SFTP_FLOW_SPEC_ID,
            "s3": specs.S3_FLOW_SPEC_ID,
            "local": specs.LOCAL_FLOW_SPEC_ID,
        }[kind]
        return await self.create(
            "/flows", self.flow_body(await self.source(), await self.target(kind), spec=spec, **fields)
        )

    async def etag(self, path: str) -> str:
        """The current etag of an entity (quoted, as read)."""
        return str((await self.item(path))["etag"])

    async def patch(self, path: str, operations: Any, *, expect: int = 200) -> httpx.Response:
        """PATCH with the entity's current etag in If-Match."""
        return await self.call("PATCH", path, operations, expect=expect, If_Match=await self.etag(path))

    async def sandbox_id(self) -> str:
        """The id of this client's sandbox."""
        response = await self.client.get(f"/v1/sandboxes/{self.sandbox}", headers=self.tenant.headers())
        return str(response.json()["id"])

    async def audience(self, name: str = "") -> str:
        """A segment definition row in this sandbox; returns its id."""
        audience_id = new_id()
        async with self.container.unit_of_work() as uow:
            uow.session.add(
                SegmentDefinition(
                    id=audience_id,
                    org_id=self.tenant.org_id,
                    sandbox_id=await self.sandbox_id(),
                    name=name or f"audience-{secrets.token_hex(3)}",
                    expression={"type": "PQL", "format": "pql/text", "value": "true"},
                    merge_policy_id=new_id(),
                )
            )
            await uow.commit()
        return audience_id

    async def run(self, flow_id: str, *, created_at: datetime | None = None, **columns: Any) -> str:
        """A flow_runs row of this tenant's flow; returns its id."""
        moment = created_at or datetime.now(UTC)
        values: dict[str, Any] = {
            "id": new_id(),
            "org_id": self.tenant.org_id,
            "sandbox_id": await self.sandbox_id(),
            "sandbox_name": self.sandbox,
            "etag": new_id(),
            "created_by": "clarion-worker",
            "created_client": "clarion",
            "updated_by": "clarion-worker",
            "updated_client": "clarion",
            "created_at": moment,
            "updated_at": moment,
            "flow_id": flow_id,
            "trigger": "scheduled",
            "status": "waiting",
            "segment_ids": [],
            "metrics": {},
            **columns,
        }
        async with self.container.unit_of_work() as uow:
            uow.session.add(FlowRun(**values))
            await uow.commit()
        return str(values["id"])


@pytest.fixture
async def fs(client: httpx.AsyncClient, tenant: Tenant, container: Container) -> FlowService:
    """The Flow Service client of one fresh tenant."""
    return FlowService(client, tenant, container)


@pytest.fixture
def make_fs(client: httpx.AsyncClient, make_tenant: TenantFactory, container: Container) -> Any:
    """Flow Service clients of further tenants."""

    async def make() -> FlowService:
        return FlowService(client, await make_tenant(), container)

    return make


def report(response: httpx.Response) -> dict[str, Any]:
    """The AEP error report of a response."""
    found: dict[str, Any] = response.json()["report"]
    return found


def detail(response: httpx.Response) -> str:
    """The detailed message of an error."""
    return str(report(response)["detailed-message"])
