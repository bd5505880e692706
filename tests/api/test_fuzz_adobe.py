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
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from schemathesis.schemas import BaseSchema

from tests.api.fuzzing import EXAMPLES, SERVER_ERRORS, LiveApp, fuzz_config, live_app

REFERENCE = Path("shared", "reference", "adobe")
"""Where the workspace keeps Adobe's documents (not ours to ship: they stay out of the repository)."""


def find_adobe_documents() -> Path:
    """``CLARION_ADOBE_SPECS``, else ``shared/reference/adobe`` beside the repository or any folder above it,
    else beside the repository this one was cloned from (a fresh clone in a temporary folder)."""
    if os.environ.get("CLARION_ADOBE_SPECS"):
        return Path(os.environ["CLARION_ADOBE_SPECS"])
    repository = Path(__file__).resolve().parents[2]
    origin = subprocess.run(
        ["git", "-C", str(repository), "config", "--get", "remote.origin.url"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    places = [*repository.parents]
    if origin and Path(origin).is_dir():
        places += [*Path(origin).resolve().parents]
    for place in places:
        if (place / REFERENCE).is_dir():
            return place / REFERENCE
    raise RuntimeError(
        f"Adobe's OpenAPI documents ({REFERENCE}) are not beside {repository} or above it, "
        "nor beside its origin: set CLARION_ADOBE_SPECS"
    )


ADOBE = find_adobe_documents()

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
    case.call_and_validate(
        base_url=base_url, app=live.app, headers=live.tenant.headers(), checks=SERVER_ERRORS
    )
