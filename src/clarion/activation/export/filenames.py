"""File names of exported files: a selector's ``filenameTemplate``, checked when a dataflow is saved
(``check``) and filled in when a run writes its files (``render``).

A ``%NAME%`` in capitals (optionally ``%NAME(argument)%``) is a macro and must be one of the documented
ones (contract §2.4); any other ``%text%`` is Adobe's ``%custom-text%``, written as its text. The template
must keep the destination name and the audience id (the UI cannot remove them), and the file name it
renders, with its extension, must fit in 255 characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from clarion.activation.errors import invalid

DEFAULT_TEMPLATE = "%DESTINATION_NAME%_%SEGMENT_ID%_%DATETIME(YYYYMMdd_HHmmss)%"
"""The template of the contract's examples, used when a selector has none."""

_MACRO_IN_TEMPLATE = re.compile(r"%([A-Za-z_]+)(?:\(([^)%]*)\))?%")
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
MAX_FILE_NAME = 255
_PERCENT_PAIR = re.compile(r"%([^%]*)%")
_MACRO_NAME = re.compile(r"^(?P<name>[A-Z][A-Z_]*)(?:\((?P<argument>[^()]*)\))?$")
_DATE_PATTERN = re.compile(r"^(?:yyyy|YYYY|MM|dd|DD|HH|mm|ss|SSS|[-_.])+$")
_DATE_PART = re.compile(r"yyyy|YYYY|MM|dd|DD|HH|mm|ss|SSS|[-_.]")
_DATE_PART_WIDTH = {"yyyy": 4, "YYYY": 4, "SSS": 3, "-": 1, "_": 1, ".": 1}


# Rendering -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NameContext:
    """What the name macros stand for (the time macros take the moment given to ``render``)."""

    destination_name: str
    segment_id: str
    segment_name: str
    flow_id: str
    flow_name: str
    organization_name: str
    sandbox_name: str

    def macro_texts(self) -> dict[str, str]:
        """The text of every macro except the time ones (``%TIMESTAMP%``, ``%DATETIME(…)%``)."""
        return {
            "DESTINATION": self.destination_name,
            "DESTINATION_NAME": self.destination_name,
            "SEGMENT_ID": self.segment_id,
            "SEGMENT_NAME": self.segment_name,
            "DESTINATION_INSTANCE_ID": self.flow_id,
            "DESTINATION_INSTANCE_NAME": self.flow_name,
            "ORGANIZATION_NAME": self.organization_name,
            "SANDBOX_NAME": self.sandbox_name,
        }


def render(template: str | None, context: NameContext, *, moment: datetime, extension: str) -> str:
    """The file name at ``moment``: macros replaced, unknown ``%text%`` kept as custom text."""
    texts = {**context.macro_texts(), "TIMESTAMP": str(int(moment.timestamp()))}

    def fill(match: re.Match[str]) -> str:
        macro, argument = match.group(1).upper(), match.group(2)
        if macro == "DATETIME":
            pattern = argument or "YYYYMMdd_HHmmss"
            value: str | None = _DATE_TOKENS.sub(lambda token: _date_part(token.group(0), moment), pattern)
        else:
            value = texts.get(macro)
        return match.group(0).strip("%") if value is None else UNSAFE.sub("_", value)

    name = _MACRO_IN_TEMPLATE.sub(fill, template or DEFAULT_TEMPLATE)
    return f"{name}.{extension}"


def _date_part(token: str, moment: datetime) -> str:
    if token == "SSS":  # noqa: S105 - a date pattern, not a secret
        return f"{moment.microsecond // 1000:03d}"
    return moment.strftime(_STRFTIME[token])


# Checking --------------------------------------------------------------------------------------------------


def check(template: str, field: str, context: NameContext, *, extension: str) -> None:
    """Refuse a template with an unknown macro, unsafe text, a missing required macro, or too long."""
    if not isinstance(template, str) or not template:
        raise invalid(field, "type", "must be a non-empty string")
    widths = {macro: len(text) for macro, text in context.macro_texts().items()} | {"TIMESTAMP": 10}
    macros: list[str] = []
    length = 0
    position = 0
    for found in _PERCENT_PAIR.finditer(template):
        length += _literal_length(template[position : found.start()], field)
        name, width = _macro(found.group(1), field, widths)
        if name:
            macros.append(name)
        length += width
        position = found.end()
    length += _literal_length(template[position:], field)
    if "DESTINATION_NAME" not in macros and "DESTINATION" not in macros:
        raise invalid(field, "required_macro", "must contain %DESTINATION_NAME% or %DESTINATION%")
    if "SEGMENT_ID" not in macros:
        raise invalid(field, "required_macro", "must contain %SEGMENT_ID%")
    total = length + len(extension) + 1
    if total > MAX_FILE_NAME:
        raise invalid(
            field,
            "max_length",
            f"renders a file name of {total} characters (extension included); the limit is {MAX_FILE_NAME}",
        )


def _literal_length(text: str, field: str) -> int:
    if "%" in text:
        raise invalid(field, "unbalanced_percent", "has a '%' without its closing '%'")
    if UNSAFE.search(text):
        raise invalid(field, "unsafe_character", 'must not contain \\ / : * ? " < > | or control characters')
    return len(text)


def _macro(inner: str, field: str, widths: dict[str, int]) -> tuple[str, int]:
    """(macro name or "" for custom text, rendered width)."""
    found = _MACRO_NAME.match(inner)
    if found is None:
        if not inner:
            raise invalid(field, "empty_macro", "has an empty %% pair")
        return "", _literal_length(inner, field)
    name, argument = found["name"], found["argument"]
    if name not in MACROS:
        known = ", ".join(f"%{macro}%" for macro in sorted(MACROS))
        raise invalid(field, "unknown_macro", f"unknown macro %{inner}% (macros: {known})")
    if name == "DATETIME":
        if argument is None or not _DATE_PATTERN.match(argument):
            raise invalid(
                field,
                "datetime_pattern",
                "%DATETIME(…)% takes a pattern of YYYY MM dd HH mm ss SSS and - _ . such as YYYYMMdd_HHmmss",
            )
        return name, _date_width(argument)
    if argument is not None:
        raise invalid(field, "macro_argument", f"%{name}% takes no argument")
    return name, widths[name]


def _date_width(pattern: str) -> int:
    return sum(_DATE_PART_WIDTH.get(part, 2) for part in _DATE_PART.findall(pattern))


def file_extension(file_type: str, compression: str) -> str:
    """The extension of an exported file: ``csv``, ``json`` or ``parquet``, with ``.gz`` when gzipped.

    A gzipped Parquet file stays ``.parquet``: Parquet compresses its pages inside the file.
    """
    base = {"CSV": "csv", "JSON": "json", "PARQUET": "parquet"}.get(file_type, "csv")
    return f"{base}.gz" if compression == "GZIP" and file_type != "PARQUET" else base
