"""Each family renders a domain error in its documented envelope."""

from __future__ import annotations

import json

from clarion.api.envelopes import Family, family_for, render
from clarion.errors import Invalid, NotFound, RateLimited
from clarion.tenancy.errors import SandboxNotFound


def body(response: object) -> dict[str, object]:
    return json.loads(response.body)  # type: ignore[attr-defined,no-any-return]


def test_family_by_path() -> None:
    assert family_for("/ajo/im/executions/unitary") is Family.AJO
    assert family_for("/journey/orchestration/throttlingConfigs") is Family.JO
    assert family_for("/authoring/endpointConfigs") is Family.JO
    assert family_for("/data/foundation/flowservice/runs") is Family.AEP
    assert family_for("/v1/campaigns") is Family.AEP


def test_ajo_error_response() -> None:
    error = Invalid("recipients: at most 20", context={"campaignId": "c-1"})
    rendered = body(render(error, Family.AJO, "req-1"))
    assert rendered == {
        "type": "https://ns.adobe.com/aep/errors/MSG-000400-400",
        "title": "Bad request",
        "status": 400,
        "report": {
            "additionalContext": {
                "requestId": "req-1",
                "message": "recipients: at most 20",
                "campaignId": "c-1",
            }
        },
    }


def test_aep_error() -> None:
    error = NotFound("The requested flows resource f1 is not found.", code="FLOW-1439", context={"id": "f1"})
    rendered = body(render(error, Family.AEP, "rid"))
    assert rendered["type"] == "https://ns.adobe.com/aep/errors/FLOW-1439-404"
    assert rendered["title"] == "Resource not found"
    assert rendered["report"] == {
        "detailed-message": "The requested flows resource f1 is not found.",
        "request-id": "rid",
        "id": "f1",
    }
    assert (
        rendered["errorMessage"]
        == rendered["errorDetails"]
        == "The requested flows resource f1 is not found."
    )


def test_jo_error_is_a_json_string() -> None:
    error = Invalid(
        "Operation not allowed on throttling config: non prod sandbox",
        code="1463",
        context={"schema": "throttlingConfigs$dev"},
    )
    rendered = body(render(error, Family.JO, "r" * 32))
    assert rendered["status"] == 400
    assert isinstance(rendered["error"], str)
    inner = json.loads(rendered["error"])  # type: ignore[arg-type]
    assert inner["code"] == 1463
    assert inner["family"] == "INPUT_OUTPUT_ERROR"
    assert inner["message"] == "Operation not allowed on throttling config: non prod sandbox"
    assert inner["schema"] == "throttlingConfigs$dev"
    assert rendered["requestId"] == "r" * 32


def test_jo_unknown_sandbox_is_the_documented_500() -> None:
    response = render(SandboxNotFound("no sandbox"), Family.JO, "rid")
    assert response.status_code == 500
    inner = json.loads(body(response)["error"])  # type: ignore[arg-type]
    assert (inner["code"], inner["family"], inner["message"]) == (4000, "INTERNAL_ERROR", "INTERNAL ERROR")


def test_rate_limited_sets_retry_after() -> None:
    response = render(RateLimited("over the cap", retry_after=0.2), Family.AJO, "rid")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
