"""Exported profile fields of a dataflow: attributes, identities, mandatory fields, deduplication keys.

Adobe selects them with a Data Prep mapping set (``profileMapping.mappingId``), which Clarion does not
serve; Clarion takes them inline as ``profileMapping.mappings`` ([{source, destination}], identities as
``identityMap.<namespace>``), from Adobe's legacy ``profileSelectors``, and from ``mandatoryFields`` and
``primaryFields`` as documented.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from clarion.activation.errors import invalid
from clarion.activation.export.schemas import IDENTITY_PREFIX

ATTRIBUTE_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
NAMESPACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def profile_selectors(value: Any, field: str) -> dict[str, Any]:
    """Adobe's legacy ``profileSelectors`` (JSON_PATH selectors, optional mandatory/primary fields)."""
    if not isinstance(value, dict) or not isinstance(value.get("selectors", []), list):
        raise invalid(field, "type", "must be an object with a selectors array")
    checked: dict[str, Any] = {"selectors": []}
    for position, selector in enumerate(value.get("selectors", [])):
        where = f"{field}.selectors[{position}]"
        inner = selector.get("value") if isinstance(selector, dict) else None
        if (
            not isinstance(selector, dict)
            or selector.get("type") != "JSON_PATH"
            or not isinstance(inner, dict)
        ):
            raise invalid(where, "type", "must be {type: JSON_PATH, value: {path: …}}")
        _attribute(inner.get("path"), f"{where}.value.path", identities=True)
        checked["selectors"].append(selector)
    if "mandatoryFields" in value:
        checked["mandatoryFields"] = mandatory_fields(value["mandatoryFields"], f"{field}.mandatoryFields")
    if "primaryFields" in value:
        checked["primaryFields"] = primary_fields(value["primaryFields"], f"{field}.primaryFields")
    return checked


def mandatory_fields(value: Any, field: str) -> list[str]:
    """``mandatoryFields``: attribute paths or identity namespaces a profile must have."""
    if not isinstance(value, list):
        raise invalid(field, "type", "must be an array of attribute paths or identity namespaces")
    for position, item in enumerate(value):
        if not isinstance(item, str) or not (ATTRIBUTE_PATH.match(item) or NAMESPACE.match(item)):
            raise invalid(
                f"{field}[{position}]", "path", "must be an attribute path or an identity namespace"
            )
    return list(value)


def primary_fields(value: Any, field: str) -> list[dict[str, str]]:
    """``primaryFields``: deduplication keys, an ATTRIBUTE path or an IDENTITY namespace each."""
    if not isinstance(value, list):
        raise invalid(field, "type", "must be an array of {fieldType, attributePath | identityNamespace}")
    checked: list[dict[str, str]] = []
    for position, item in enumerate(value):
        where = f"{field}[{position}]"
        kind = item.get("fieldType") if isinstance(item, dict) else None
        if kind == "ATTRIBUTE":
            checked.append(
                {
                    "fieldType": kind,
                    "attributePath": _attribute(item.get("attributePath"), f"{where}.attributePath"),
                }
            )
        elif kind == "IDENTITY":
            checked.append(
                {
                    "fieldType": kind,
                    "identityNamespace": _namespace(
                        item.get("identityNamespace"), f"{where}.identityNamespace"
                    ),
                }
            )
        else:
            raise invalid(
                f"{where}.fieldType",
                "enum",
                "must be ATTRIBUTE (with attributePath) or IDENTITY (with identityNamespace)",
            )
    return checked


def profile_mapping(value: Any, field: str) -> dict[str, Any]:
    """``profileMapping``: Clarion's inline ``mappings`` (Data Prep mapping sets are not served)."""
    if not isinstance(value, dict):
        raise invalid(field, "type", "must be an object")
    if "mappingId" in value:
        raise invalid(
            f"{field}.mappingId",
            "mapping_set",
            "Clarion serves no Data Prep mapping sets: list the exported fields inline as "
            "profileMapping.mappings [{source, destination}] (identities as identityMap.<namespace>)",
        )
    unknown = set(value) - {"mappings"}
    if unknown:
        raise invalid(f"{field}.{sorted(unknown)[0]}", "unknown_field", "unknown field (mappings)")
    mappings = value.get("mappings", [])
    if not isinstance(mappings, list):
        raise invalid(f"{field}.mappings", "type", "must be an array of {source, destination}")
    checked: list[dict[str, Any]] = []
    for position, mapping in enumerate(mappings):
        where = f"{field}.mappings[{position}]"
        if not isinstance(mapping, dict):
            raise invalid(where, "type", "must be an object {source, destination}")
        source = _attribute(mapping.get("source"), f"{where}.source", identities=True)
        destination = mapping.get("destination", source)
        if not isinstance(destination, str) or not destination:
            raise invalid(f"{where}.destination", "type", "must be a non-empty string")
        checked.append({**mapping, "source": source, "destination": destination})
    return {"mappings": checked} if checked or "mappings" in value else {}


def _attribute(value: Any, field: str, *, identities: bool = False) -> str:
    if not isinstance(value, str) or not ATTRIBUTE_PATH.match(value):
        raise invalid(
            field,
            "path",
            f"must be a dotted profile attribute path such as person.name.firstName (got {value!r})",
        )
    if not identities and value.startswith(IDENTITY_PREFIX):
        raise invalid(field, "path", "identities are chosen with fieldType IDENTITY")
    return value


def _namespace(value: Any, field: str) -> str:
    if not isinstance(value, str) or not NAMESPACE.match(value):
        raise invalid(
            field, "namespace", f"must be an identity namespace such as email or ECID (got {value!r})"
        )
    return value


@dataclass(frozen=True)
class ExportFields:
    """Exported profile attributes and identity namespaces, plus mandatory and deduplication fields."""

    attributes: list[str]
    identities: list[str]
    mandatory: list[str]
    primary: list[str]


def export_fields(transformations: list[dict[str, Any]]) -> ExportFields:
    """The profile fields a (stored, valid) flow exports, in the order given, without repeats."""
    attributes: list[str] = []
    identities: list[str] = []
    mandatory: list[str] = []
    primary: list[str] = []
    for transformation in transformations:
        params = transformation.get("params", {})
        legacy = params.get("profileSelectors", {})
        for path in [selector["value"]["path"] for selector in legacy.get("selectors", [])]:
            _route(path, attributes, identities)
        for mapping in params.get("profileMapping", {}).get("mappings", []):
            _route(mapping["source"], attributes, identities)
        for field in [*legacy.get("primaryFields", []), *params.get("primaryFields", [])]:
            name = field.get("attributePath") or field.get("identityNamespace")
            _add(primary, name)
            _route(name if "attributePath" in field else IDENTITY_PREFIX + name, attributes, identities)
        for name in [*legacy.get("mandatoryFields", []), *params.get("mandatoryFields", [])]:
            _add(mandatory, name)
            _route(name if "." in name else IDENTITY_PREFIX + name, attributes, identities)
    return ExportFields(attributes, identities, mandatory, primary)


def _route(path: str, attributes: list[str], identities: list[str]) -> None:
    if path.startswith(IDENTITY_PREFIX):
        _add(identities, path[len(IDENTITY_PREFIX) :])
    else:
        _add(attributes, path)


def _add(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)
