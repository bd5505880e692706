"""Rules of a dataflow's ``transformations``: segment selectors, schedules, exported attributes.

Checked at creation and after every PATCH, on the whole document, so that no sequence of patches can
store a flow that a single request could not. Returns the stored form: ``fileNameTemplate`` renamed to
``filenameTemplate`` (contract §2.4 CONFLICT, [I] accept both, emit ``filenameTemplate``), default
template and audience name filled in, system fields ``createTime``/``updateTime`` (epoch seconds as
strings) set when a selector is added and kept, or refreshed when it changes, on later patches.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from typing import Any

from clarion.activation.errors import invalid
from clarion.activation.export import filenames, profile_fields

TRANSFORM_NAMES = ("GeneralTransform", "General Transform")
PARAM_KEYS = ("segmentSelectors", "profileSelectors", "profileMapping", "mandatoryFields", "primaryFields")
SELECTOR_KEYS = frozenset(
    {
        "id",
        "name",
        "description",
        "filenameTemplate",
        "fileNameTemplate",
        "exportMode",
        "schedule",
        "createTime",
        "updateTime",
        "namespace",
        "systemSegmentId",
    }
)
SCHEDULE_KEYS = frozenset({"frequency", "triggerType", "startDate", "endDate", "startTime"})
EXPORT_MODES = ("DAILY_FULL_EXPORT", "FIRST_FULL_THEN_INCREMENTAL")
FREQUENCIES = ("ONCE", "DAILY", "EVERY_3_HOURS", "EVERY_6_HOURS", "EVERY_8_HOURS", "EVERY_12_HOURS")
HOURLY = frozenset({"EVERY_3_HOURS", "EVERY_6_HOURS", "EVERY_8_HOURS", "EVERY_12_HOURS"})
TRIGGER_TYPES = ("SCHEDULED", "AFTER_SEGMENT_EVAL")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^(?P<hour>\d{2}):(?P<minute>\d{2})$")


@dataclass(frozen=True)
class FlowFacts:
    """What the rules need to know beyond the document: audiences, previous selectors, name values."""

    audiences: Mapping[str, str]
    """Audience id → name, for the ids the document references that exist in the sandbox."""
    previous: Mapping[str, dict[str, Any]]
    """Audience id → selector ``value`` before this change (empty at creation)."""
    names: filenames.NameContext
    """Macro values for the file-name length check (segment id and name are set per selector)."""
    extension: str
    """The extension of the files the dataflow writes (counted in the length)."""
    now: datetime


def referenced_audiences(transformations: Any) -> list[str]:
    """Audience ids the selectors of ``transformations`` name (best effort on a not yet valid document)."""
    found: list[str] = []
    for _, _, selector in _selectors(transformations):
        value = selector.get("value") if isinstance(selector, dict) else None
        if isinstance(value, dict) and isinstance(value.get("id"), str):
            found.append(value["id"])
    return found


def normalized(transformations: Any, facts: FlowFacts) -> list[dict[str, Any]]:
    """The stored form of ``transformations``, or the error naming the first broken rule."""
    if not isinstance(transformations, list):
        raise invalid("transformations", "type", "must be an array")
    result = [
        _transformation(item, f"transformations[{index}]") for index, item in enumerate(transformations)
    ]
    seen: set[str] = set()
    for index, position, selector in _selectors(result):
        field = f"transformations[{index}].params.segmentSelectors.selectors[{position}]"
        value = _selector(selector, field, facts)
        if value["id"] in seen:
            raise invalid(
                f"{field}.value.id", "duplicate", f"audience {value['id']!r} is already in this dataflow"
            )
        seen.add(value["id"])
        selector.clear()
        selector.update({"type": "PLATFORM_SEGMENT", "value": value})
    return result


def _selectors(transformations: Any) -> Iterator[tuple[int, int, Any]]:
    if not isinstance(transformations, list):
        return
    for index, transformation in enumerate(transformations):
        params = transformation.get("params") if isinstance(transformation, dict) else None
        holder = params.get("segmentSelectors") if isinstance(params, dict) else None
        selectors = holder.get("selectors") if isinstance(holder, dict) else None
        if isinstance(selectors, list):
            for position, selector in enumerate(selectors):
                yield index, position, selector


def _transformation(item: Any, field: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise invalid(field, "type", "must be an object")
    unknown = set(item) - {"name", "params"}
    if unknown:
        raise invalid(f"{field}.{sorted(unknown)[0]}", "unknown_field", "unknown field (name, params)")
    if item.get("name") not in TRANSFORM_NAMES:
        raise invalid(f"{field}.name", "enum", "must be GeneralTransform")
    params = item.get("params", {})
    if not isinstance(params, dict):
        raise invalid(f"{field}.params", "type", "must be an object")
    for key in params:
        if key not in PARAM_KEYS:
            raise invalid(
                f"{field}.params.{key}", "unknown_field", f"unknown field ({', '.join(PARAM_KEYS)})"
            )
    where = f"{field}.params"
    selectors = params.get("segmentSelectors", {"selectors": []})
    if not isinstance(selectors, dict) or not isinstance(selectors.get("selectors", []), list):
        raise invalid(f"{where}.segmentSelectors", "type", "must be an object with a selectors array")
    checked: dict[str, Any] = {
        "segmentSelectors": {
            "selectors": [dict(s) if isinstance(s, dict) else s for s in selectors.get("selectors", [])]
        }
    }
    if "profileSelectors" in params:
        checked["profileSelectors"] = profile_fields.profile_selectors(
            params["profileSelectors"], f"{where}.profileSelectors"
        )
    checked["mandatoryFields"] = profile_fields.mandatory_fields(
        params.get("mandatoryFields", []), f"{where}.mandatoryFields"
    )
    checked["primaryFields"] = profile_fields.primary_fields(
        params.get("primaryFields", []), f"{where}.primaryFields"
    )
    checked["profileMapping"] = profile_fields.profile_mapping(
        params.get("profileMapping", {}), f"{where}.profileMapping"
    )
    return {"name": "GeneralTransform", "params": checked}


def _selector(selector: Any, field: str, facts: FlowFacts) -> dict[str, Any]:
    if not isinstance(selector, dict):
        raise invalid(field, "type", "must be an object with type and value")
    if selector.get("type") != "PLATFORM_SEGMENT":
        raise invalid(f"{field}.type", "enum", "must be PLATFORM_SEGMENT")
    value = selector.get("value")
    if not isinstance(value, dict):
        raise invalid(f"{field}.value", "type", "must be an object")
    field = f"{field}.value"
    for key in value:
        if key not in SELECTOR_KEYS:
            raise invalid(f"{field}.{key}", "unknown_field", "unknown field of a segment selector")
    audience = value.get("id")
    if not isinstance(audience, str) or not audience:
        raise invalid(f"{field}.id", "required", "field required (the audience id)")
    previous = facts.previous.get(audience)
    if previous is None and audience not in facts.audiences:
        raise invalid(f"{field}.id", "unknown_audience", f"no audience with id {audience!r} in this sandbox")
    stored: dict[str, Any] = {"id": audience}
    stored["name"] = _text(value.get("name", facts.audiences.get(audience, "")), f"{field}.name")
    stored["description"] = _text(value.get("description", ""), f"{field}.description")
    for key in ("namespace", "systemSegmentId"):
        if key in value:
            stored[key] = _text(value[key], f"{field}.{key}")
    stored["filenameTemplate"] = _template(value, field, facts, audience, stored["name"])
    stored["exportMode"] = _enum(value.get("exportMode"), EXPORT_MODES, f"{field}.exportMode")
    stored["schedule"] = _schedule(value.get("schedule"), stored["exportMode"], f"{field}.schedule")
    _stamp(stored, previous, facts.now)
    return stored


def _template(value: dict[str, Any], field: str, facts: FlowFacts, audience: str, name: str) -> str:
    template = value.get("filenameTemplate")
    alias = value.get("fileNameTemplate")
    if template is not None and alias is not None and template != alias:
        raise invalid(
            f"{field}.fileNameTemplate", "conflict", "differs from filenameTemplate (give one of them)"
        )
    chosen = template if template is not None else alias
    chosen = filenames.DEFAULT_TEMPLATE if chosen is None else chosen
    context = replace(facts.names, segment_id=audience, segment_name=name)
    filenames.check(chosen, f"{field}.filenameTemplate", context, extension=facts.extension)
    return str(chosen)


def _schedule(schedule: Any, mode: str, field: str) -> dict[str, str]:
    if not isinstance(schedule, dict):
        raise invalid(field, "required", "field required (an object with frequency and startDate)")
    for key in schedule:
        if key not in SCHEDULE_KEYS:
            raise invalid(
                f"{field}.{key}", "unknown_field", f"unknown field ({', '.join(sorted(SCHEDULE_KEYS))})"
            )
    frequency = _enum(schedule.get("frequency"), FREQUENCIES, f"{field}.frequency")
    if frequency in HOURLY and mode != "FIRST_FULL_THEN_INCREMENTAL":
        raise invalid(
            f"{field}.frequency", "incremental_only", f"{frequency} is for FIRST_FULL_THEN_INCREMENTAL only"
        )
    stored = {"frequency": frequency}
    trigger = schedule.get("triggerType")
    if trigger is not None or mode == "DAILY_FULL_EXPORT":
        trigger = _enum(trigger, TRIGGER_TYPES, f"{field}.triggerType")
        stored["triggerType"] = trigger
    start = _date(schedule.get("startDate"), f"{field}.startDate", required=True)
    stored["startDate"] = start.isoformat()
    if schedule.get("endDate") is not None:
        if mode == "DAILY_FULL_EXPORT" and frequency == "ONCE":
            raise invalid(
                f"{field}.endDate", "not_applicable", "not applicable with DAILY_FULL_EXPORT and ONCE"
            )
        end = _date(schedule["endDate"], f"{field}.endDate", required=True)
        if end < start:
            raise invalid(f"{field}.endDate", "before_start", f"{end} is before startDate {start}")
        stored["endDate"] = end.isoformat()
    start_time = schedule.get("startTime")
    if start_time is not None:
        if mode == "DAILY_FULL_EXPORT" and trigger == "AFTER_SEGMENT_EVAL":
            raise invalid(f"{field}.startTime", "not_applicable", "not applicable with AFTER_SEGMENT_EVAL")
        stored["startTime"] = _time(start_time, f"{field}.startTime").strftime("%H:%M")
    elif trigger == "SCHEDULED":
        raise invalid(
            f"{field}.startTime", "required", "field required with triggerType SCHEDULED (HH:00, UTC)"
        )
    return stored


def _stamp(stored: dict[str, Any], previous: Mapping[str, Any] | None, now: datetime) -> None:
    """Set the system fields: creation kept, update refreshed only when the selector changed."""
    seconds = str(int(now.timestamp()))
    if previous is None:
        stored["createTime"] = stored["updateTime"] = seconds
        return
    stored["createTime"] = str(previous.get("createTime") or seconds)
    unchanged = {key: value for key, value in previous.items() if key not in ("createTime", "updateTime")}
    comparable = {key: value for key, value in stored.items() if key not in ("createTime", "updateTime")}
    stored["updateTime"] = str(previous.get("updateTime") or seconds) if unchanged == comparable else seconds


def _enum(value: Any, choices: tuple[str, ...], field: str) -> str:
    if value is None:
        raise invalid(field, "required", f"field required (one of {', '.join(choices)})")
    if value not in choices:
        raise invalid(field, "enum", f"must be one of {', '.join(choices)} (got {value!r})")
    return str(value)


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or len(value) > 4000:
        raise invalid(field, "type", "must be a string of at most 4000 characters")
    return value


def _date(value: Any, field: str, *, required: bool) -> date:
    if value is None and required:
        raise invalid(field, "required", "field required (YYYY-MM-DD)")
    if not isinstance(value, str) or not _DATE.match(value):
        raise invalid(field, "date", f"must be a date YYYY-MM-DD (got {value!r})")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise invalid(field, "date", f"{value!r} is not a calendar date") from None


def _time(value: Any, field: str) -> time:
    found = _TIME.match(value) if isinstance(value, str) else None
    if found is None or int(found["hour"]) > 23:
        raise invalid(field, "time", f"must be a UTC time HH:MM from 00:00 to 23:00 (got {value!r})")
    if found["minute"] != "00":
        raise invalid(field, "whole_hour", f"minutes must be 00 (got {value!r})")
    return time(int(found["hour"]), 0)
