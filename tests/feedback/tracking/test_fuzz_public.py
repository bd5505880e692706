"""The public feedback routes under schemathesis (as ``tests/api/test_fuzz.py`` fuzzes every route): any
token, valid or not, any form body: never a 5xx, and every answer as the OpenAPI document says."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis

from tests.api.fuzzing import CHECKS, LiveApp, clarion_document, fuzz_config, live_app

PUBLIC = r"^/(t/[oc]|u)/\{token\}$"
schema = schemathesis.openapi.from_dict(clarion_document(), config=fuzz_config(40)).include(path_regex=PUBLIC)


@pytest.fixture(scope="module")
def live(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    with live_app(database_url, tmp_path_factory.mktemp("fuzz-feedback")) as running:
        yield running


@schema.parametrize()
def test_public_routes_answer_as_documented(case: schemathesis.Case, live: LiveApp) -> None:
    response = case.call_and_validate(app=live.app, checks=CHECKS)
    # No generated token verifies: never a redirect; 405 for the methods a route does not take.
    assert response.status_code in (200, 404, 405, 413)


def test_every_public_operation_is_fuzzed() -> None:
    operations = {(op.method, op.path) for op in (result.ok() for result in schema.get_all_operations())}
    assert operations == {
        ("get", "/t/o/{token}"),
        ("get", "/t/c/{token}"),
        ("get", "/u/{token}"),
        ("post", "/u/{token}"),
    }
