"""File names of exported files: the dataflow selector's ``filenameTemplate`` with its macros filled in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

DEFAULT_TEMPLATE = "%DESTINATION_NAME%_%SEGMENT_ID%_%DATETIME(YYYYMMdd_HHmmss)%"
"""The template of the contract's examples, used when a selector has none."""

_MACRO = re.compile(r"%([A-Za-z_]+)(?:\(([^)%]*)\))?%")
# Java-style date patterns as Adobe documents them (YYYY and yyyy both mean the calendar year here).
_DATE_TOKENS = re.compile(r"yyyy|YYYY|MM|dd|DD|HH|mm|ss|SSS")
_STRFTIME = {
    "yyyy": "%Y",
    "YYYY": "%Y",
    "MM": "%m",
    "dd": "%d",
    "DD": "%d",
    "HH": "%H",
    "mm": "%M",
    "ss": "%S",
}
UNSAFE = re.compile(r"[\\/:*?\"<>|\x00-\x1f]")
"""Characters that would change the folder or trip common file systems (replaced in filled-in values)."""
MACROS = frozenset(
    {
        "DESTINATION",
        "DESTINATION_NAME",
        "SEGMENT_ID",
        "SEGMENT_NAME",
        "DESTINATION_INSTANCE_ID",
        "DESTINATION_INSTANCE_NAME",
        "ORGANIZATION_NAME",
        "SANDBOX_NAME",
        "TIMESTAMP",
        "DATETIME",
    }
)
"""The macros of contract §2.4; any other ``%text%`` is custom text."""


@dataclass(frozen=True)
class NameContext:
    """What the macros refer to."""

    destination_name: str
    segment_id: str
    segment_name: str
    flow_id: str
    flow_name: str
    organization_name: str
    sandbox_name: str
    moment: datetime


def render(template: str | None, context: NameContext, *, extension: str) -> str:
    """The file name for ``context``: macros replaced, unknown ``%text%`` kept as custom text."""

    def fill(match: re.Match[str]) -> str:
        macro, argument = match.group(1).upper(), match.group(2)
        value = _macro_value(macro, argument, context)
        return match.group(0).strip("%") if value is None else UNSAFE.sub("_", value)

    name = _MACRO.sub(fill, template or DEFAULT_TEMPLATE)
    return f"{name}.{extension}"


def _macro_value(macro: str, argument: str | None, context: NameContext) -> str | None:
    values = {
        "DESTINATION": context.destination_name,
        "DESTINATION_NAME": context.destination_name,
        "SEGMENT_ID": context.segment_id,
        "SEGMENT_NAME": context.segment_name,
        "DESTINATION_INSTANCE_ID": context.flow_id,
        "DESTINATION_INSTANCE_NAME": context.flow_name,
        "ORGANIZATION_NAME": context.organization_name,
        "SANDBOX_NAME": context.sandbox_name,
        "TIMESTAMP": str(int(context.moment.timestamp())),
    }
    if macro == "DATETIME":
        pattern = argument or "YYYYMMdd_HHmmss"
        return _DATE_TOKENS.sub(lambda token: _date_part(token.group(0), context.moment), pattern)
    return values.get(macro)


def _date_part(token: str, moment: datetime) -> str:
    if token == "SSS":  # noqa: S105 - a date pattern, not a secret
        return f"{moment.microsecond // 1000:03d}"
    return moment.strftime(_STRFTIME[token])
