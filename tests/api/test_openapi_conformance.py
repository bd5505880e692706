"""The served OpenAPI document is true to the wire: schemathesis over every operation of a real server.

The run uses the schemathesis CLI (the way an operator would run it) with a fixed seed and a bounded number
of examples per operation, valid tenant credentials as headers, and the conformance checks only: every
status, body, content type and documented header of every answer must be in the document. A bug's 500 is
documented (the family's envelope) and conforms; the fuzz suite's ``not_a_server_error`` hunts those.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from clarion.config import Settings
from tests.api.live import live_server, new_tenant

CHECKS = (
    "status_code_conformance",
    "response_schema_conformance",
    "content_type_conformance",
    "response_headers_conformance",
)
SEED = "20261207"
EXAMPLES_PER_OPERATION = "5"


@pytest.mark.timeout(600)
def test_every_answer_is_documented(settings: Settings, tmp_path: Path) -> None:
    tenant = new_tenant(settings)
    with live_server(settings) as base_url:
        document = httpx.get(f"{base_url}/openapi.json").json()
        operations = sum(
            method in {"get", "put", "post", "delete", "patch"}
            for item in document["paths"].values()
            for method in item
        )
        headers = [arg for name, value in tenant.headers().items() for arg in ("-H", f"{name}: {value}")]
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "run",
                f"{base_url}/openapi.json",
                "--checks",
                ",".join(CHECKS),
                "--phases",
                "examples,coverage,fuzzing",
                "--seed",
                SEED,
                "--max-examples",
                EXAMPLES_PER_OPERATION,
                "--workers",
                "1",
                "--output-truncate",
                "false",
                "--report-dir",
                str(tmp_path / "report"),
                *headers,
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            cwd=tmp_path,  # schemathesis keeps a cache in its working directory
        )
    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-5_000:]
    tested = re.search(r"Tested:\s+(\d+)", run.stdout)
    assert tested is not None, run.stdout[-5_000:]
    assert int(tested.group(1)) == operations > 100


async def test_the_served_document_is_valid_openapi(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    validate(document)
    operations = [
        (path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "put", "post", "delete", "patch"}
    ]
    ids = [operation["operationId"] for _, operation in operations]
    assert len(ids) == len(set(ids)) == len(operations) > 100
    assert all(re.fullmatch(r"[a-z][A-Za-z0-9]*", operation_id) for operation_id in ids), ids
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, operation in operations:
        responses = operation["responses"]
        assert "422" not in responses or not _refs(responses["422"]) & {"HTTPValidationError"}, path
        if operation.get("security"):
            assert {"400", "401", "403", "503"} <= responses.keys(), path
            assert _refs(responses["401"]) == {"GatewayError"}, path
            assert "Retry-After" in responses["503"]["headers"], path


def _refs(response: dict[str, Any]) -> set[str]:
    schema = response["content"]["application/json"]["schema"]
    return {ref["$ref"].rsplit("/", 1)[1] for ref in schema.get("anyOf", [schema]) if "$ref" in ref}
