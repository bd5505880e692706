"""The served OpenAPI document is valid OpenAPI, with readable unique operation ids and the gateway's answers
on every authenticated route. That every answer is as documented is checked by the fuzz suite: the
conformance checks of ``tests/api/fuzzing.CHECKS`` run on every operation in ``tests/api/test_fuzz.py``.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from openapi_spec_validator import validate


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
