"""Payload checks: what cannot be stored (PayloadError) and what only blocks deployment (canDeploy)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clarion.throttling.urlpattern import compile_pattern
from clarion.throttling.validation import (
    CappingFields,
    PayloadError,
    ThrottlingFields,
    check_capping,
    check_throttling,
    decode,
    read_capping,
    read_throttling,
)

GOOD_THROTTLING: dict[str, Any] = {
    "name": "throttling-config-external",
    "description": "example",
    "urlPattern": "https://api.example.org/data/2.5/*",
    "methods": ["POST", "PUT"],
    "maxThroughput": 4000,
}
GOOD_CAPPING: dict[str, Any] = {
    "url": "https://api.example.org/data/2.5/weather",
    "methods": ["GET"],
    "services": {
        "dataSource": {"maxHttpConnections": 50, "rating": {"maxCallsCount": 500, "periodInMs": 1000}}
    },
    "orgId": "<IMS Org Id>",
}


def codes(fields: ThrottlingFields | CappingFields) -> list[str]:
    verdict = check_throttling(fields) if isinstance(fields, ThrottlingFields) else check_capping(fields)
    return [issue.code for issue in verdict.errors]


def test_documented_throttling_example_is_valid() -> None:
    fields = read_throttling(GOOD_THROTTLING)
    assert fields.methods == ("POST", "PUT")
    assert check_throttling(fields).view() == {"validationStatus": "ok"}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"urlPattern": None}, ["ERR_THROTTLING_CONFIG_100"]),
        ({"urlPattern": ""}, ["ERR_THROTTLING_CONFIG_100"]),
        ({"methods": None}, ["ERR_THROTTLING_CONFIG_100"]),
        ({"methods": []}, ["ERR_THROTTLING_CONFIG_100"]),
        ({"maxThroughput": None}, ["ERR_THROTTLING_CONFIG_101"]),
        ({"maxThroughput": 199}, ["ERR_THROTTLING_CONFIG_101"]),
        ({"maxThroughput": 5001}, ["ERR_THROTTLING_CONFIG_101"]),
        ({"maxThroughput": 200}, []),
        ({"maxThroughput": 5000}, []),
        ({"urlPattern": "api.example.org/x"}, ["ERR_THROTTLING_CONFIG_104"]),
        ({"urlPattern": "https://*.example.org/x"}, ["ERR_THROTTLING_CONFIG_105"]),
        (
            {"urlPattern": None, "methods": [], "maxThroughput": 1},
            ["ERR_THROTTLING_CONFIG_100", "ERR_THROTTLING_CONFIG_100", "ERR_THROTTLING_CONFIG_101"],
        ),
    ],
)
def test_throttling_deploy_blockers(change: dict[str, Any], expected: list[str]) -> None:
    assert codes(read_throttling(GOOD_THROTTLING | change)) == expected


def test_throttling_messages_are_the_documented_ones() -> None:
    verdict = check_throttling(read_throttling({"urlPattern": "https://h.test:8*/x"}))
    assert verdict.view() == {
        "validationStatus": "error",
        "reason": "3 errors are currently blocking the publication",
        "errors": [
            {
                "errorCode": "ERR_THROTTLING_CONFIG_105",
                "error": "throttling config: wildcards not allowed in host part of the url pattern",
            },
            {"errorCode": "ERR_THROTTLING_CONFIG_100", "error": "throttling config: methods required"},
            {
                "errorCode": "ERR_THROTTLING_CONFIG_101",
                "error": "throttling config: maxThroughput is required and must be greater than or equal "
                "to 200 and less than or equal to 5000",
            },
        ],
    }
    malformed = check_throttling(read_throttling(GOOD_THROTTLING | {"urlPattern": "nope"}))
    assert malformed.view()["reason"] == "1 error is currently blocking the publication"
    assert malformed.errors[0].message == "throttling config: malformed url pattern"
    missing = check_throttling(read_throttling({"methods": ["GET"], "maxThroughput": 300}))
    assert missing.errors[0].message == "throttling config: urlPattern required"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "the body"),
        ("text", "the body"),
        ({**GOOD_THROTTLING, "maxThroughput": "4000"}, "maxThroughput"),
        ({**GOOD_THROTTLING, "maxThroughput": 4000.5}, "maxThroughput"),
        ({**GOOD_THROTTLING, "maxThroughput": 4000.0}, "maxThroughput"),
        ({**GOOD_THROTTLING, "maxThroughput": True}, "maxThroughput"),
        ({**GOOD_THROTTLING, "maxThroughput": 10**30}, "maxThroughput"),
        ({**GOOD_THROTTLING, "urlPattern": 42}, "urlPattern"),
        ({**GOOD_THROTTLING, "name": ["x"]}, "name"),
        ({**GOOD_THROTTLING, "description": "x" * 9000}, "description"),
        ({**GOOD_THROTTLING, "methods": "POST"}, "methods"),
        ({**GOOD_THROTTLING, "methods": ["POST", 1]}, "methods[1]"),
        ({**GOOD_THROTTLING, "methods": ["FETCH"]}, "methods[0]"),
    ],
)
def test_throttling_bodies_that_cannot_be_stored_name_the_field(body: object, field: str) -> None:
    with pytest.raises(PayloadError) as raised:
        read_throttling(body)
    assert raised.value.detail.startswith(f"{field}: ")
    assert not raised.value.not_json


def test_methods_are_normalised_and_deduplicated_unknown_fields_ignored() -> None:
    fields = read_throttling(
        GOOD_THROTTLING | {"methods": ["post", "PUT", "POST"], "uid": "x", "metadata": {}}
    )
    assert fields.methods == ("POST", "PUT")


def test_decode_refuses_non_json() -> None:
    for body in (b"", b"{", b"not json", b'{"maxThroughput": NaN}', b"\xff"):
        with pytest.raises(PayloadError) as raised:
            decode(body)
        assert raised.value.not_json
    assert decode(b'{"a": 1}') == {"a": 1}


def test_documented_capping_example_is_valid() -> None:
    verdict = check_capping(read_capping(GOOD_CAPPING))
    assert verdict.view() == {"validationStatus": "ok"}


def test_capping_without_connections_warns() -> None:
    body = GOOD_CAPPING | {"services": {"action": {"rating": {"maxCallsCount": 5, "periodInMs": 1000}}}}
    verdict = check_capping(read_capping(body))
    assert verdict.view() == {
        "validationStatus": "ok",
        "warnings": [
            {
                "warningCode": "ERR_ENDPOINTCONFIG_106",
                "warning": "capping config: max HTTP connections not defined: no limitation by default",
                "scope": {"endpointConfigService": "action", "endpointConfigUrl": GOOD_CAPPING["url"]},
            }
        ],
    }


def service(**settings: Any) -> dict[str, Any]:
    return {"services": {"dataSource": {"maxHttpConnections": 5, **settings}}}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"url": None}, ["ERR_ENDPOINTCONFIG_100"]),
        ({"url": "https://api.example.org:8x/x"}, ["ERR_ENDPOINTCONFIG_101"]),
        ({"url": "https://api.example*.org:8*0/data/2.5/weather"}, ["ERR_ENDPOINTCONFIG_102"]),
        ({"methods": []}, ["ERR_ENDPOINTCONFIG_103"]),
        ({"services": None}, ["ERR_ENDPOINTCONFIG_104"]),
        ({"services": {}}, ["ERR_ENDPOINTCONFIG_104"]),
        (service(), ["ERR_ENDPOINTCONFIG_104"]),
        (service(rating={"periodInMs": 1000}), ["ERR_ENDPOINTCONFIG_107"]),
        (service(rating={"maxCallsCount": 0, "periodInMs": 1000}), ["ERR_ENDPOINTCONFIG_107"]),
        (service(rating={"maxCallsCount": 1}), ["ERR_ENDPOINTCONFIG_108"]),
        (service(rating={"maxCallsCount": 1, "periodInMs": 0}), ["ERR_ENDPOINTCONFIG_108"]),
        ({"services": {"journey": {"rating": {}}}}, ["ERR_AUTHORING_ENDPOINTCONFIG_1"]),
    ],
)
def test_capping_deploy_blockers(change: dict[str, Any], expected: list[str]) -> None:
    assert codes(read_capping(GOOD_CAPPING | change)) == expected


def test_capping_messages_are_the_documented_ones() -> None:
    verdict = check_capping(read_capping({"services": {"journey": {}}}))
    assert [issue.view() for issue in verdict.errors] == [
        {"errorCode": "ERR_ENDPOINTCONFIG_100", "error": "capping config: missing or invalid url"},
        {"errorCode": "ERR_ENDPOINTCONFIG_103", "error": "capping config: missing HTTP methods"},
        {
            "errorCode": "ERR_AUTHORING_ENDPOINTCONFIG_1",
            "error": "invalid service name 'journey': must be 'dataSource' or 'action'",
        },
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"services": []}, "services"),
        ({"services": {"action": {}, "dataSource": {}}}, "services"),
        ({"services": {"action": 5}}, "services.action"),
        (service(maxHttpConnections=0), "services.dataSource.maxHttpConnections"),
        (service(maxHttpConnections="5"), "services.dataSource.maxHttpConnections"),
        (service(rating=[]), "services.dataSource.rating"),
        (service(rating={"maxCallsCount": "1"}), "services.dataSource.rating.maxCallsCount"),
        ({"methods": ["OPTIONS"]}, "methods[0]"),
        ({"url": 1}, "url"),
    ],
)
def test_capping_bodies_that_cannot_be_stored_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(PayloadError) as raised:
        read_capping(GOOD_CAPPING | change)
    assert raised.value.detail.startswith(f"{field}: ")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
THROTTLING_LIKE = st.fixed_dictionaries(
    {},
    optional={
        "name": JSON,
        "urlPattern": st.one_of(JSON, st.sampled_from(["https://a.test/*", "https://*.a.test/", "x"])),
        "methods": st.one_of(JSON, st.lists(st.sampled_from(["GET", "post", "FETCH", 3]), max_size=3)),
        "maxThroughput": st.one_of(JSON, st.integers(0, 6000)),
    },
)
CAPPING_LIKE = st.fixed_dictionaries(
    {},
    optional={
        "url": st.one_of(JSON, st.just("https://a.test/x")),
        "methods": st.one_of(JSON, st.lists(st.sampled_from(["GET", "OPTION", "x"]), max_size=3)),
        "services": st.one_of(
            JSON,
            st.dictionaries(
                st.sampled_from(["action", "dataSource", "other"]),
                st.fixed_dictionaries(
                    {},
                    optional={
                        "maxHttpConnections": JSON,
                        "rating": st.one_of(
                            JSON,
                            st.dictionaries(
                                st.sampled_from(["maxCallsCount", "periodInMs"]),
                                st.one_of(JSON, st.integers(-2, 9)),
                            ),
                        ),
                    },
                ),
                max_size=2,
            ),
        ),
    },
)


@given(st.one_of(JSON, THROTTLING_LIKE))
def test_throttling_validator_never_raises_on_any_json(document: object) -> None:
    try:
        fields = read_throttling(document)
    except PayloadError:
        return  # the one exception a reader may raise
    verdict = check_throttling(fields)
    assert verdict.ok == (not verdict.errors)
    if verdict.ok:
        assert fields.url_pattern is not None
        assert fields.max_throughput is not None
        compile_pattern(fields.url_pattern)
        assert 200 <= fields.max_throughput <= 5000
        assert fields.methods
    json.dumps(verdict.view())


@given(st.one_of(JSON, CAPPING_LIKE))
def test_capping_validator_never_raises_on_any_json(document: object) -> None:
    try:
        fields = read_capping(document)
    except PayloadError:
        return  # the one exception a reader may raise
    verdict = check_capping(fields)
    if verdict.ok:
        assert fields.services is not None
        assert len(fields.services) == 1
        ((name, settings),) = fields.services.items()
        assert name in ("action", "dataSource")
        assert settings["rating"]["maxCallsCount"] >= 1
        assert settings["rating"]["periodInMs"] >= 1
    json.dumps(verdict.view())
