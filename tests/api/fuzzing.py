"""What the fuzz suites share: the checks, the example budget, schemathesis's settings, a running app.

The app runs in-process: schemathesis's ASGI transport starts its lifespan once on its own event-loop thread
and sends every generated request there, so no port and no server process are involved.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from clarion.app import create_app
from clarion.config import Settings
from clarion.container import Container
from tests.builders import Tenant
from tests.conftest import new_tenant, settings_for

# Against Clarion's own document: no 5xx, and every answer (status, body, content type, headers) as the
# document says. Against Adobe's documents only the first: Clarion documents its own error envelopes.
CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
]
SERVER_ERRORS: list[CheckFunction] = [not_a_server_error]

# Examples per operation in the fuzzing phase. The default keeps both suites near two minutes on an idle
# 2-core machine; raise it for a longer local run: CLARION_FUZZ_EXAMPLES=500 pytest tests/api/test_fuzz.py
EXAMPLES = int(os.environ.get("CLARION_FUZZ_EXAMPLES", "8"))
# Fixed, so a run finds the same cases every time; change it locally to explore other ones.
SEED = int(os.environ.get("CLARION_FUZZ_SEED", "20261207"))

GATEWAY_HEADERS = ("Authorization", "x-api-key", "x-gw-ims-org-id", "x-sandbox-name")


def fuzz_config(examples: int = EXAMPLES, *, fuzzing_only: bool = False) -> SchemathesisConfig:
    """Derandomized generation of valid and invalid data, no example database, bounded example count.

    All phases run by default: the schema's examples, coverage (each parameter's boundary and just-invalid
    values), then ``examples`` generated cases; ``fuzzing_only`` keeps the last one.
    """
    phases = {"examples": {"enabled": False}, "coverage": {"enabled": False}} if fuzzing_only else {}
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "suppress-health-check": ["all"],
            "generation": {
                "mode": "all",
                "max-examples": examples,
                "deterministic": True,
                "database": "none",
                # A failure is reported as found: shrinking one took minutes of the budget.
                "no-shrink": True,
            },
            "phases": phases,
        }
    )


def clarion_document() -> dict[str, Any]:
    """Clarion's own OpenAPI document, as ``/openapi.json`` serves it (building it opens nothing)."""
    return create_app(Settings(database_url="sqlite://")).openapi()


@dataclass(frozen=True)
class LiveApp:
    """A Clarion app on the test database and a tenant (with the high-throughput entitlement) of it."""

    app: FastAPI
    tenant: Tenant


@contextmanager
def live_app(database_url: str, folder: Path) -> Iterator[LiveApp]:
    """Build the app; its lifespan starts at the first fuzzed request and stops on leaving."""
    settings = settings_for(database_url, folder)
    tenant = asyncio.run(_make_tenant(settings))
    try:
        yield LiveApp(create_app(settings), tenant)
    finally:
        # Closes the engine, queue and limiter the lifespan opened, on the loop that opened them.
        asgi.shutdown_lifespans()


async def _make_tenant(settings: Settings) -> Tenant:
    container = Container.build(settings)
    try:
        return await new_tenant(container, "fuzz", high_throughput=True)
    finally:
        await container.close()
