"""The request id of an answer is on every log line of its request, the error lines included."""

from __future__ import annotations

import json

import httpx
import pytest
import structlog
from fastapi import FastAPI

from clarion.ops.logging import configure_logging
from tests.builders import Tenant


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    captured = capsys.readouterr()
    lines = (captured.err + captured.out).splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


async def test_a_bug_is_a_500_whose_log_lines_carry_the_answers_request_id(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, capsys: pytest.CaptureFixture[str]
) -> None:
    async def broken_endpoint() -> None:
        structlog.get_logger("test").info("about_to_fail")  # a line of the domain, not of the handler
        raise RuntimeError("a genuine bug")

    app.add_api_route("/v1/a-bug", broken_endpoint)
    configure_logging("json", "INFO")
    capsys.readouterr()

    response = await client.get("/v1/a-bug", headers=tenant.headers())

    assert response.status_code == 500
    request_id = response.headers["x-request-id"]
    assert response.json()["report"]["request-id"] == request_id
    lines = {str(line["event"]): line for line in log_lines(capsys)}
    assert lines["about_to_fail"]["request_id"] == request_id
    assert lines["unhandled_error"]["request_id"] == request_id
    assert "RuntimeError: a genuine bug" in str(lines["unhandled_error"]["exception"])
    # The binding ends with the request: a line logged afterwards carries no request id.
    structlog.get_logger("test").info("after_the_request")
    assert "request_id" not in {str(line["event"]): line for line in log_lines(capsys)}["after_the_request"]


async def test_a_callers_x_request_id_is_the_id_in_the_answer_and_the_log(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, capsys: pytest.CaptureFixture[str]
) -> None:
    async def broken_endpoint() -> None:
        raise KeyError("missing")

    app.add_api_route("/ajo/a-bug", broken_endpoint)
    configure_logging("json", "INFO")
    capsys.readouterr()
    response = await client.get("/ajo/a-bug", headers={**tenant.headers(), "x-request-id": "caller-id-42"})
    assert response.status_code == 500
    assert response.json()["report"]["additionalContext"]["requestId"] == "caller-id-42"
    (line,) = [line for line in log_lines(capsys) if line["event"] == "unhandled_error"]
    assert line["request_id"] == "caller-id-42"
