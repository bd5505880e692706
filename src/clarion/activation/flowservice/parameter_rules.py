"""Rules of connection parameters: a base connection's ``auth`` and a target connection's ``params``.

Parameter names and value sets are the catalogue's (``specs.py``); the checks here are the ones the
destinations apply when they connect, moved forward so that a mistake is refused when it is saved.
Secrets are split off to be sealed; a secret sent back as the mask shown on reads keeps its stored value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from clarion.activation.errors import FlowInvalid, catalogue, invalid
from clarion.activation.flowservice import specs
from clarion.activation.flowservice.schemas import AuthBody

MASK = "********"
"""What reads show in place of a secret; sending it back in a PATCH keeps the stored secret."""
MAX_TEXT = 16384
# Adobe's bucketName pattern (destinations.yaml, BaseAmazonS3TargetConnectionParams_V2).
_BUCKET = re.compile(
    r"(?=^.{3,63}$)(?!^(\d+\.)+\d+$)"
    r"(^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])$)"
)


@dataclass(frozen=True)
class CheckedAuth:
    """A valid ``auth``: its canonical spec name, the parameters shown on reads, and the secrets."""

    spec_name: str | None
    public: dict[str, Any]
    secrets: dict[str, str]


def check_auth(
    spec: specs.ConnectionSpec, auth: AuthBody | None, *, kept_secrets: Mapping[str, str] | None = None
) -> CheckedAuth:
    """Validate ``auth`` against ``spec``; ``kept_secrets`` stand in for secrets sent as the mask."""
    if not spec.auth_specs:
        if auth is not None and (auth.params or auth.spec_name):
            raise invalid(
                "auth", "not_applicable", f"the {spec.name} connection spec takes no authentication"
            )
        return CheckedAuth(None, {}, {})
    if auth is None:
        names = " or ".join(repr(option.name) for option in spec.auth_specs)
        raise invalid("auth", "required", f"field required (auth.specName {names} and its auth.params)")
    auth_spec = spec.auth_spec(auth.spec_name)
    if auth_spec is None:
        raise catalogue(
            "FLOW-1415",
            "auth.specName",
            "unknown_auth_spec",
            f"The auth spec '{auth.spec_name}' could not be found for the connection spec ID {spec.id} "
            f"(accepted: {', '.join(option.name for option in spec.auth_specs)}).",
        )
    values = _canonical(auth_spec.params, auth.params, "auth.params")
    public: dict[str, Any] = {}
    secrets: dict[str, str] = {}
    for param in auth_spec.params:
        value = values.get(param.name)
        if param.secret and value == MASK and kept_secrets and param.name in kept_secrets:
            secrets[param.name] = kept_secrets[param.name]
            continue
        checked = _checked(param, value, f"auth.params.{param.name}")
        if checked is None:
            continue
        if param.secret:
            secrets[param.name] = checked
        else:
            public[param.name] = checked
    return CheckedAuth(auth_spec.name, public, secrets)


def check_target_params(spec: specs.ConnectionSpec, params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a target connection's ``params`` for ``spec``; returns them with canonical names."""
    values = _canonical(spec.target_params, params, "params")
    checked: dict[str, Any] = {}
    for param in spec.target_params:
        value = _checked(param, values.get(param.name), f"params.{param.name}")
        if value is not None:
            checked[param.name] = value
    if "csvOptions" in checked and checked.get("fileType") != "CSV":
        raise invalid("params.csvOptions", "csv_only", "only applicable when params.fileType is CSV")
    return checked


def csv_options(params: Mapping[str, Any]) -> dict[str, str]:
    """The CSV options of target params with Adobe's documented defaults filled in."""
    given = params.get("csvOptions") or {}
    return {name: given.get(name, default) for name, default in specs.CSV_DEFAULTS.items()}


def _canonical(declared: tuple[specs.Param, ...], given: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``given`` with aliases renamed; unknown names are refused with the list of accepted ones."""
    names = {param.name: param.name for param in declared}
    names.update({alias: param.name for param in declared for alias in param.aliases})
    values: dict[str, Any] = {}
    for name, value in given.items():
        canonical = names.get(name)
        if canonical is None:
            accepted = ", ".join(param.name for param in declared)
            raise invalid(f"{where}.{name}", "unknown_param", f"unknown parameter (accepted: {accepted})")
        # Adobe's SFTP example sends both ``domain`` and ``host``: the same value twice is fine.
        if canonical in values and values[canonical] != value:
            message = f"differs from {canonical!r}, which names the same parameter (give one of them)"
            raise invalid(f"{where}.{name}", "duplicate_param", message)
        values[canonical] = value
    return values


def _checked(param: specs.Param, value: Any, field: str) -> Any:
    if value is None:
        if param.required:
            raise invalid(field, "required", f"field required ({param.description})")
        return None
    if param.kind == "port":
        return _port(value, field)
    if param.kind == "csv":
        return _csv(value, field)
    if not isinstance(value, str):
        raise invalid(field, "type", "must be a string")
    if param.kind == "enum":
        if value not in param.choices:
            raise invalid(field, "enum", f"must be one of {', '.join(param.choices)} (got {value!r})")
        return value
    if param.kind in ("folder", "relative"):
        return _folder(value, field, relative=param.kind == "relative")
    return _text(param, value, field)


def _text(param: specs.Param, value: str, field: str) -> str:
    if not value.strip() or len(value) > MAX_TEXT or "\x00" in value:
        raise invalid(field, "text", f"must be a non-empty string of at most {MAX_TEXT} characters")
    rules = {
        "url": (_is_url, "must be an absolute http(s) URL"),
        "fingerprint": (_is_fingerprint, "must be a host key fingerprint 'SHA256:…' as ssh-keygen -lf shows"),
        "bucket": (lambda text: _BUCKET.match(text) is not None, "is not a valid bucket name"),
    }
    if param.kind in rules:
        test, message = rules[param.kind]
        if not test(value):
            raise invalid(field, param.kind, message)
    return value


def _is_url(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _is_fingerprint(text: str) -> bool:
    return text.startswith("SHA256:") and len(text) > len("SHA256:")


def _port(value: Any, field: str) -> int:
    if isinstance(value, bool) or not str(value).isdigit() or not 0 < int(value) < 65536:
        raise invalid(field, "port", f"must be a port number from 1 to 65535 (got {value!r})")
    return int(value)


def _folder(value: str, field: str, *, relative: bool) -> str:
    if "\x00" in value or "\\" in value or len(value) > 1024:
        raise invalid(field, "folder", "must be a folder path with '/' separators (no backslash, no NUL)")
    if ".." in PurePosixPath(value).parts:
        raise invalid(field, "folder", "must not contain '..'")
    if relative and value.startswith("/"):
        raise invalid(field, "folder", "must be relative to the landing zone (no leading '/')")
    return value


def _csv(value: Any, field: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise invalid(field, "type", "must be an object")
    checked: dict[str, str] = {}
    for name, option in value.items():
        choices = specs.CSV_OPTIONS.get(name)
        if choices is None:
            raise invalid(
                f"{field}.{name}",
                "unknown_param",
                f"unknown option (accepted: {', '.join(specs.CSV_OPTIONS)})",
            )
        if option not in choices:
            shown = ", ".join(repr(choice) for choice in choices)
            raise invalid(f"{field}.{name}", "enum", f"must be one of {shown} (got {option!r})")
        checked[name] = option
    return checked


def not_in_sandbox(field: str, kind: str, resource_id: str) -> FlowInvalid:
    """A reference to a connection that does not exist (or is of another kind) in the sandbox."""
    return invalid(field, "unknown_reference", f"no {kind} with id {resource_id!r} in this sandbox")
