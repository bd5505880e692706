"""Schemathesis over Clarion's own OpenAPI document: no input, valid or not, gets a 5xx.

Every operation of ``app.openapi()`` is fuzzed in-process with a fixed seed: the schema's examples, the
coverage phase (boundary and just-invalid values of each parameter) and ``EXAMPLES`` generated cases of
valid and invalid data, sent with a real tenant's credentials. A second pass sends a few cases per
operation with missing or garbage gateway headers: those must be refused with a 4xx, never a 5xx.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import strategies as st

from tests.api.fuzzing import (
    CHECKS,
    EXAMPLES,
    GATEWAY_HEADERS,
    LiveApp,
    clarion_document,
    fuzz_config,
    live_app,
)

schema = schemathesis.openapi.from_dict(clarion_document(), config=fuzz_config())
# A few generated cases per operation for the credentials pass.
credentials_schema = schemathesis.openapi.from_dict(
    clarion_document(), config=fuzz_config(max(2, EXAMPLES // 4), fuzzing_only=True)
)

# Routes that answer without credentials (probes, metrics, the links inside recipients' mail).
PUBLIC_PATHS = frozenset(
    {"/healthz", "/readyz", "/metrics", "/ajo/im/health", "/t/o/{token}", "/t/c/{token}", "/u/{token}"}
)

KEEP, DROP = "keep", "drop"
# Latin-1 without whitespace or control characters: what an HTTP client lets through in a header value.
_HEADER_CHARACTERS = st.one_of(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E),
    st.characters(min_codepoint=0xA1, max_codepoint=0xFF),
)
# Per gateway header: the tenant's value, nothing, or noise.
garbage_headers = st.fixed_dictionaries(
    {name: st.one_of(st.just(KEEP), st.just(DROP), st.text(_HEADER_CHARACTERS)) for name in GATEWAY_HEADERS}
)


@pytest.fixture(scope="module")
def live(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    with live_app(database_url, tmp_path_factory.mktemp("fuzz")) as running:
        yield running


@schema.parametrize()
def test_no_input_gets_a_server_error(case: schemathesis.Case, live: LiveApp) -> None:
    case.call_and_validate(app=live.app, headers=live.tenant.headers(), checks=CHECKS)


@credentials_schema.exclude(path=list(PUBLIC_PATHS)).parametrize()
@credentials_schema.given(gateway=garbage_headers)
def test_bad_credentials_get_a_4xx(case: schemathesis.Case, gateway: dict[str, str], live: LiveApp) -> None:
    valid = live.tenant.headers()
    headers = {
        name: valid[name] if value == KEEP else value for name, value in gateway.items() if value != DROP
    }
    response = case.call(app=live.app, headers=headers)
    case.validate_response(response, checks=CHECKS)
    if headers.get("Authorization") != valid["Authorization"]:
        assert 400 <= response.status_code < 500, response.text
