"""Checks of throttling and capping payloads, in two steps.

1. ``read_*`` turns a decoded JSON document into typed fields. A body that cannot be stored — not a JSON
   object, or a field of the wrong JSON type (``"maxThroughput": "4000"``), or an unknown HTTP method —
   raises ``PayloadError`` naming the field: the API answers 400 and stores nothing.
2. ``check_*`` judges stored fields and never raises: missing required fields, values out of range and
   malformed URL patterns are listed in ``canDeploy.errors`` (the configuration is saved, but cannot be
   deployed), the way Journey Orchestration reports them.

Unknown fields are ignored, so a client may send back what it read (``uid``, ``metadata``, ``orgId``…).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from clarion.throttling.urlpattern import MalformedPattern, WildcardInHost, compile_pattern

MAX_NAME = 1024
MAX_DESCRIPTION = 8192
MAX_URL = 2048
MIN_THROUGHPUT, MAX_THROUGHPUT = 200, 5000
THROTTLING_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
CAPPING_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTION")
CAPPING_SERVICES = ("action", "dataSource")


class PayloadError(ValueError):
    """The body cannot be stored; ``not_json`` when it is not JSON at all."""

    def __init__(self, detail: str, *, not_json: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.not_json = not_json


@dataclass(frozen=True, slots=True)
class Issue:
    """One entry of ``canDeploy.errors``."""

    code: str
    message: str

    def view(self) -> dict[str, str]:
        """The wire form."""
        return {"errorCode": self.code, "error": self.message}


@dataclass(frozen=True, slots=True)
class Notice:
    """One entry of ``canDeploy.warnings``."""

    code: str
    message: str
    scope: dict[str, str]

    def view(self) -> dict[str, Any]:
        """The wire form."""
        return {"warningCode": self.code, "warning": self.message, "scope": dict(self.scope)}


@dataclass(frozen=True, slots=True)
class Verdict:
    """What ``canDeploy`` says: deployable when there is no error (warnings do not block)."""

    errors: tuple[Issue, ...] = ()
    warnings: tuple[Notice, ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing blocks deployment."""
        return not self.errors

    @property
    def reason(self) -> str:
        """The documented sentence counting the blocking errors."""
        count = len(self.errors)
        verb = "error is" if count == 1 else "errors are"
        return f"{count} {verb} currently blocking the publication"

    def view(self) -> dict[str, Any]:
        """The ``canDeploy`` object."""
        body: dict[str, Any] = {"validationStatus": "ok" if self.ok else "error"}
        if self.errors:
            body["reason"] = self.reason
            body["errors"] = [issue.view() for issue in self.errors]
        if self.warnings:
            body["warnings"] = [notice.view() for notice in self.warnings]
        return body


def decode(body: bytes) -> object:
    """The JSON document of a request body; raises ``PayloadError(not_json=True)``."""
    try:
        return json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise PayloadError(f"the body is not valid JSON ({exc})", not_json=True) from exc


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


# Throttling -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThrottlingFields:
    """A throttling configuration as sent; ``None`` where a field is absent."""

    name: str | None = None
    description: str | None = None
    url_pattern: str | None = None
    methods: tuple[str, ...] | None = None
    max_throughput: int | None = None


def read_throttling(document: object) -> ThrottlingFields:
    """Typed fields of a throttling body; raises ``PayloadError``."""
    values = _object(document)
    return ThrottlingFields(
        name=_text(values, "name", MAX_NAME),
        description=_text(values, "description", MAX_DESCRIPTION),
        url_pattern=_text(values, "urlPattern", MAX_URL),
        methods=_methods(values, THROTTLING_METHODS),
        max_throughput=_integer(values, "maxThroughput"),
    )


def check_throttling(fields: ThrottlingFields) -> Verdict:
    """What blocks the deployment of a throttling configuration (codes ERR_THROTTLING_CONFIG_1xx)."""
    errors: list[Issue] = []
    if not fields.url_pattern:
        errors.append(_throttling("100", "urlPattern required"))
    else:
        errors += _pattern_issues(
            fields.url_pattern,
            malformed=_throttling("104", "malformed url pattern"),
            wildcard=_throttling("105", "wildcards not allowed in host part of the url pattern"),
        )
    if not fields.methods:
        errors.append(_throttling("100", "methods required"))
    if fields.max_throughput is None or not MIN_THROUGHPUT <= fields.max_throughput <= MAX_THROUGHPUT:
        errors.append(
            _throttling(
                "101",
                "maxThroughput is required and must be greater than or equal to "
                f"{MIN_THROUGHPUT} and less than or equal to {MAX_THROUGHPUT}",
            )
        )
    return Verdict(tuple(errors))


def _throttling(number: str, message: str) -> Issue:
    return Issue(f"ERR_THROTTLING_CONFIG_{number}", f"throttling config: {message}")


# Capping --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CappingFields:
    """A capping (endpoint) configuration as sent; ``services`` keeps only the documented keys."""

    url: str | None = None
    methods: tuple[str, ...] | None = None
    services: dict[str, dict[str, Any]] | None = None


def read_capping(document: object) -> CappingFields:
    """Typed fields of a capping body; raises ``PayloadError``."""
    values = _object(document)
    return CappingFields(
        url=_text(values, "url", MAX_URL),
        methods=_methods(values, CAPPING_METHODS),
        services=_services(values.get("services")),
    )


def check_capping(fields: CappingFields) -> Verdict:
    """What blocks the deployment of a capping configuration (codes ERR_ENDPOINTCONFIG_1xx)."""
    errors: list[Issue] = []
    if not fields.url:
        errors.append(_capping("100", "missing or invalid url"))
    else:
        errors += _pattern_issues(
            fields.url,
            malformed=_capping("101", "malformed url"),
            wildcard=_capping("102", "malformed url: wildchar in url not allowed in host:port"),
        )
    if not fields.methods:
        errors.append(_capping("103", "missing HTTP methods"))
    if not fields.services:
        errors.append(_capping("104", "no call rating defined"))
    warnings: list[Notice] = []
    for name, service in (fields.services or {}).items():
        errors += _service_issues(name, service)
        if name in CAPPING_SERVICES and service.get("maxHttpConnections") is None:
            scope = {"endpointConfigService": name, "endpointConfigUrl": fields.url or ""}
            warnings.append(
                Notice(
                    "ERR_ENDPOINTCONFIG_106",
                    "capping config: max HTTP connections not defined: no limitation by default",
                    scope,
                )
            )
    return Verdict(tuple(errors), tuple(warnings))


def _service_issues(name: str, service: dict[str, Any]) -> list[Issue]:
    if name not in CAPPING_SERVICES:
        return [
            Issue(
                "ERR_AUTHORING_ENDPOINTCONFIG_1",
                f"invalid service name '{name}': must be 'dataSource' or 'action'",
            )
        ]
    rating = service.get("rating")
    if rating is None:
        return [_capping("104", "no call rating defined")]
    issues = []
    if rating.get("maxCallsCount") is None or rating["maxCallsCount"] < 1:
        issues.append(_capping("107", "invalid max calls count (maxCallsCount)"))
    if rating.get("periodInMs") is None or rating["periodInMs"] < 1:
        issues.append(_capping("108", "invalid max calls count (periodInMs)"))
    return issues


def _capping(number: str, message: str) -> Issue:
    return Issue(f"ERR_ENDPOINTCONFIG_{number}", f"capping config: {message}")


def _services(value: object) -> dict[str, dict[str, Any]] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise PayloadError("services: must be an object with one key, 'action' or 'dataSource'")
    if len(value) > 1:
        raise PayloadError("services: give exactly one of 'action' or 'dataSource'")
    return {str(name): _service(f"services.{name}", service) for name, service in value.items()}


def _service(where: str, value: object) -> dict[str, Any]:
    service = _object(value, where)
    result: dict[str, Any] = {}
    connections = _integer(service, "maxHttpConnections", where)
    if connections is not None:
        if connections < 1:
            raise PayloadError(f"{where}.maxHttpConnections: must be at least 1")
        result["maxHttpConnections"] = connections
    rating = service.get("rating")
    if rating is not None:
        values = _object(rating, f"{where}.rating")
        result["rating"] = {
            key: number
            for key in ("maxCallsCount", "periodInMs")
            if (number := _integer(values, key, f"{where}.rating")) is not None
        }
    return result


# Shared readers -------------------------------------------------------------------------------------------


def _pattern_issues(text: str, *, malformed: Issue, wildcard: Issue) -> list[Issue]:
    try:
        compile_pattern(text)
    except WildcardInHost:
        return [wildcard]
    except MalformedPattern:
        return [malformed]
    return []


def _object(document: object, where: str = "") -> dict[str, Any]:
    if not isinstance(document, dict):
        raise PayloadError(f"{where or 'the body'}: must be a JSON object")
    return document


def _text(values: dict[str, Any], key: str, limit: int) -> str | None:
    value = values.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{key}: must be a string")
    if len(value) > limit:
        raise PayloadError(f"{key}: at most {limit} characters")
    return value


def _integer(values: dict[str, Any], key: str, where: str = "") -> int | None:
    value = values.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"{_path(where, key)}: must be an integer")
    # Far outside any valid value, and past what a 64-bit column stores.
    if abs(value) > 2**53:
        raise PayloadError(f"{_path(where, key)}: out of range")
    return int(value)


def _methods(values: dict[str, Any], allowed: tuple[str, ...]) -> tuple[str, ...] | None:
    value = values.get("methods")
    if value is None:
        return None
    if not isinstance(value, list):
        raise PayloadError("methods: must be an array of HTTP method names")
    methods: list[str] = []
    for index, item in enumerate(value):
        method = _method(item, index, allowed)
        if method not in methods:
            methods.append(method)
    return tuple(methods)


def _method(item: object, index: int, allowed: tuple[str, ...]) -> str:
    if not isinstance(item, str) or item.upper() not in allowed:
        shown = json.dumps(item)[:40]
        raise PayloadError(f"methods[{index}]: {shown} is not one of {', '.join(allowed)}")
    return item.upper()


def _path(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
