"""Schemathesis over Adobe's own OpenAPI documents, sent to Clarion: whatever Adobe's contract allows a
client to send (and the invalid variants of it), Clarion answers without a 5xx.

Documents (``shared/reference/adobe/``, all OpenAPI 3.0), each server's path mapped onto Clarion's routes:

- ``messaging.yaml`` → ``/ajo``: executions (unitary, high throughput, audience, schedules), health
- ``journeys-throttling.yaml`` → ``/journey/orchestration``: throttling and capping configurations
- ``campaigns-retrieve.yaml`` → ``/journey/campaigns``: the campaign read API
- ``ad-hoc-activation.yaml`` → ``/data/core/activation/disflowprovider``: ad-hoc activation
- ``destinations.yaml`` and ``flow-service.yaml`` → ``/data/foundation/flowservice``: connections, flows, runs
- ``segmentation.yaml`` → ``/data/core/ups``: segment definitions, segment jobs, export jobs

Every operation of every document is fuzzed. The ones Clarion does not implement (Adobe's audiences,
schedules and preview APIs, sources-only Flow Service routes, campaign versions, …) answer 404 or 405,
which ``not_a_server_error`` accepts: they are kept, so a route Clarion adds later is fuzzed at once.
Excluded: one operation of ``campaigns-retrieve.yaml`` whose path names parameters the document never
defines (``BROKEN``). Not covered: the capping Postman collection (not an OpenAPI document;
``journeys-throttling.yaml`` has the same routes). The documented gateway headers are replaced by a real
tenant's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from schemathesis.schemas import BaseSchema

from tests.api.fuzzing import CHECKS, EXAMPLES, LiveApp, fuzz_config, live_app

# The reference folder lies beside the repository (as in CI); CLARION_ADOBE_SPECS points elsewhere.
ADOBE = Path(
    os.environ.get("CLARION_ADOBE_SPECS")
    or Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "adobe"
)
if not ADOBE.is_dir():
    raise RuntimeError(f"Adobe's OpenAPI documents are not at {ADOBE}: set CLARION_ADOBE_SPECS")

# Document → the path Clarion serves its server's routes under.
BASE_PATHS = {
    "messaging": "/ajo",
    "journeys-throttling": "/journey/orchestration",
    "campaigns-retrieve": "/journey/campaigns",
    "ad-hoc-activation": "/data/core/activation/disflowprovider",
    "destinations": "/data/foundation/flowservice",
    "flow-service": "/data/foundation/flowservice",
    "segmentation": "/data/core/ups",
}


def adobe_document(name: str) -> dict[str, Any]:
    """An Adobe document with its servers replaced by Clarion's base path for them."""
    loaded = yaml.safe_load((ADOBE / f"{name}.yaml").read_text())
    # YAML reads 2022-07-22 as a date; JSON Schema (and schemathesis) want the string it was written as.
    document: dict[str, Any] = json.loads(json.dumps(loaded, default=str))
    document["servers"] = [{"url": BASE_PATHS[name]}]
    return document


# Operations schemathesis cannot load: the document itself is broken there.
BROKEN = {
    # Declares {channel} and {variantId} in the path but defines neither parameter.
    "campaigns-retrieve": [
        "/service/campaigns/{campaignId}/messages/{messageId}/{channel}/variants/{variantId}"
    ],
}


def adobe_schema(name: str) -> BaseSchema:
    """The document loaded for fuzzing (fewer cases than Clarion's own: the same routes, another angle)."""
    schema = schemathesis.openapi.from_dict(adobe_document(name), config=fuzz_config(max(2, EXAMPLES // 2)))
    return schema.exclude(path=BROKEN[name]) if name in BROKEN else schema


schemas = {name.replace("-", "_"): adobe_schema(name) for name in BASE_PATHS}


@pytest.fixture(scope="module")
def live(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    with live_app(database_url, tmp_path_factory.mktemp("fuzz-adobe")) as running:
        yield running


@schemathesis.pytest.parametrize(**schemas)
def test_adobe_requests_get_no_server_error(case: schemathesis.Case, live: LiveApp) -> None:
    base_url = f"http://testserver{case.operation.base_url}"
    case.call_and_validate(base_url=base_url, app=live.app, headers=live.tenant.headers(), checks=CHECKS)
