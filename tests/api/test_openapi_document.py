"""``api/openapi.py``: a new route gets its true error responses from what it is, with no declaration."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from clarion.api.openapi import install_openapi, operation_id, raises
from clarion.tenancy.gateway import ReaderDep


class Thing(BaseModel):
    """A body."""

    name: str


def document() -> dict[str, Any]:
    """The document of a small app with one route of each kind."""
    app = FastAPI(generate_unique_id_function=operation_id)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/things/{thing_id}", responses=raises(409))
    async def replace_thing(thing_id: str, body: Thing, principal: ReaderDep) -> Thing:
        return body

    @app.get("/ajo/im/things")
    async def list_ajo_things(principal: ReaderDep, limit: int = 10) -> list[Thing]:
        return []

    @app.delete("/journey/orchestration/things/{uid}", status_code=204)
    async def delete_jo_thing(uid: str, principal: ReaderDep) -> None:
        return None

    install_openapi(app)
    return app.openapi()


def schemas(response: dict[str, Any]) -> set[str]:
    """The component names a response's JSON body may be."""
    schema = response["content"]["application/json"]["schema"]
    return {ref["$ref"].rsplit("/", 1)[1] for ref in schema.get("anyOf", [schema])}


def test_a_plain_route_documents_only_the_bug_answer() -> None:
    operation = document()["paths"]["/healthz"]["get"]
    assert set(operation["responses"]) == {"200", "500"}
    assert "security" not in operation
    assert operation["operationId"] == "healthz"


def test_an_authenticated_write_gets_every_error_in_its_family_envelope() -> None:
    full = document()
    operation = full["paths"]["/v1/things/{thing_id}"]["post"]
    responses = operation["responses"]
    assert set(responses) == {"200", "400", "401", "403", "404", "409", "413", "500", "503"}
    assert schemas(responses["400"]) == {"AepError", "GatewayError", "MediaTypeError"}
    assert schemas(responses["401"]) == schemas(responses["403"]) == {"GatewayError"}
    assert schemas(responses["404"]) == schemas(responses["409"]) == schemas(responses["503"]) == {"AepError"}
    assert responses["503"]["headers"]["Retry-After"]["required"] is True
    assert operation["security"][0] == {"bearer": [], "apiKey": [], "imsOrg": [], "sandbox": []}
    assert operation["operationId"] == "replaceThing"
    assert {"AepError", "GatewayError", "MediaTypeError"} <= full["components"]["schemas"].keys()
    assert "HTTPValidationError" not in full["components"]["schemas"]


def test_the_family_follows_the_path() -> None:
    paths = document()["paths"]
    ajo = paths["/ajo/im/things"]["get"]["responses"]
    assert schemas(ajo["400"]) == {"AjoError", "GatewayError"}
    assert schemas(ajo["404"]) == {"AjoError"}
    assert "413" not in ajo
    journey = paths["/journey/orchestration/things/{uid}"]["delete"]["responses"]
    assert schemas(journey["404"]) == schemas(journey["500"]) == {"JourneyOrchestrationError"}
