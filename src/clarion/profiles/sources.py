"""Import files: JSON lines or CSV, plain or gzip, read as a stream of checked writes with line numbers.

JSON lines: one item per line, shaped as a batch item ``{"identities": {...}, "attributes": {...}}``; blank
lines are skipped.

CSV: a header row, then one profile per row.

- ``identity:<namespace>`` columns (one or more) hold identities; several values in a cell are separated by
  ``;``. The first value of the first non-empty identity column (in header order) is the primary identity.
- Any other column is an attribute at a dotted path (``person.name.firstName``), a string unless the header
  ends with ``:number``, ``:boolean`` (true/false, yes/no, 1/0) or ``:json`` (any JSON value; ``null``
  removes the attribute, as in the API).
- An empty cell sets nothing: the stored value, if any, stays.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

import msgspec

from clarion.profiles.documents import (
    ProfileInput,
    check_namespace,
    checked_identities,
    invalid,
    parse_identities,
    parse_item,
    verbatim_document,
)
from clarion.profiles.errors import InvalidProfile

Format = Literal["jsonl", "csv"]
ColumnType = Literal["string", "number", "boolean", "json"]

IDENTITY_PREFIX = "identity:"
TYPE_SUFFIXES: tuple[ColumnType, ...] = ("number", "boolean", "json")
_INTEGER = re.compile(r"[+-]?\d+")
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_GZIP_BUFFER = 1 << 20


@dataclass(frozen=True, slots=True)
class SourceLine:
    """One line of an import file: a checked write, or why it was refused."""

    line: int
    write: ProfileInput | None = None
    error: str | None = None


def detect_format(path: Path) -> Format:
    """The format named by the file's extension (``.gz`` aside); a 400 when it names none."""
    suffixes = [suffix.lower() for suffix in path.suffixes if suffix.lower() != ".gz"]
    if suffixes and suffixes[-1] == ".csv":
        return "csv"
    if suffixes and suffixes[-1] in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise invalid("format", "unknown", f"cannot tell the format of {path.name}: give --format jsonl or csv")


def _known(file_format: str) -> Format:
    if file_format == "csv":
        return "csv"
    if file_format == "jsonl":
        return "jsonl"
    raise invalid("format", "unknown", f"unknown format {file_format!r}: use jsonl or csv")


class ImportFile:
    """An import file opened for one pass; ``position`` is in bytes of the file on disk (for progress)."""

    def __init__(self, path: Path, file_format: str | None = None) -> None:
        self.path = path
        self.format: Format = detect_format(path) if file_format is None else _known(file_format)
        self.size = path.stat().st_size
        self._raw: IO[bytes] = path.open("rb")
        self._stream: IO[bytes] = self._raw
        if self._raw.read(2) == _GZIP_MAGIC:
            # Buffered: GzipFile's own readline costs several times more per line of a large import.
            self._stream = io.BufferedReader(gzip.GzipFile(fileobj=self._raw, mode="rb"), _GZIP_BUFFER)
        self._raw.seek(0)

    def position(self) -> int:
        """Bytes of the file read so far."""
        return self._raw.tell()

    def lines(self) -> Iterator[SourceLine]:
        """Every line of the file, in order."""
        return read_jsonl(self._stream) if self.format == "jsonl" else read_csv(self._stream)

    def close(self) -> None:
        """Close the file."""
        self._stream.close()
        self._raw.close()

    def __enter__(self) -> ImportFile:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class _Line(msgspec.Struct, forbid_unknown_fields=True):
    """The usual shape of a JSON line, its attribute patch left undecoded."""

    identities: dict[str, list[str] | str]
    attributes: msgspec.Raw = msgspec.Raw(b"{}")


_decode_line = msgspec.json.Decoder(_Line).decode
_decode_any = msgspec.json.Decoder().decode


def read_jsonl(stream: IO[bytes]) -> Iterator[SourceLine]:
    """Checked writes of a JSON-lines stream."""
    for number, raw in enumerate(stream, start=1):
        text = raw.removeprefix(_BOM) if number == 1 else raw
        if not text.strip():
            continue
        try:
            yield SourceLine(number, write=jsonl_write(text))
        except msgspec.DecodeError as error:
            yield SourceLine(number, error=f"invalid JSON: {error}")
        except InvalidProfile as refused:
            yield SourceLine(number, error=refused.detail)


def jsonl_write(line: bytes) -> ProfileInput:
    """The write of one JSON line: what ``parse_item`` makes of it, with the same errors.

    Most lines take a shortcut several times cheaper, which counts in an import of millions: a typed decode
    that leaves the attribute patch as JSON bytes, stored as they are when ``verbatim_document`` allows.
    Any other line (another shape, a malformed one, a patch that needs checking) goes the general way.
    """
    try:
        item = _decode_line(line)
    except msgspec.DecodeError:
        return parse_item(_decode_any(line))
    document = verbatim_document(bytes(item.attributes))
    if document is None:
        return parse_item(_decode_any(line))
    return ProfileInput(checked_identities(parse_identities(item.identities)), document=document)


@dataclass(frozen=True, slots=True)
class Column:
    """A CSV column: an identity namespace, or an attribute path with its type."""

    identity: str | None
    path: tuple[str, ...]
    type: ColumnType


def read_csv(stream: IO[bytes]) -> Iterator[SourceLine]:
    """Checked writes of a CSV stream (header first); a 400 when the header itself is wrong."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        reader = csv.reader(text)
        header = next(reader, None)
        if header is None:
            return
        columns = parse_header(header)
        for row in reader:
            if not any(row):
                continue
            try:
                yield SourceLine(reader.line_num, write=parse_item(csv_item(columns, row)))
            except InvalidProfile as refused:
                yield SourceLine(reader.line_num, error=refused.detail)
    finally:
        # A dropped wrapper closes the stream under it; the file's owner still reads its position.
        text.detach()


def parse_header(header: list[str]) -> list[Column]:
    """The columns of a CSV header; a 400 naming the column when one is malformed."""
    columns = [_column(name.strip(), position) for position, name in enumerate(header, start=1)]
    leaves = {column.path for column in columns if column.identity is None}
    for column in columns:
        prefixes = {column.path[:length] for length in range(1, len(column.path))}
        clash = prefixes & leaves
        if clash:
            parent = ".".join(sorted(clash)[0])
            raise invalid("header", "path_clash", f"column {'.'.join(column.path)} is inside column {parent}")
    if not any(column.identity for column in columns):
        raise invalid("header", "identity_required", "needs at least one identity:<namespace> column")
    return columns


def _column(name: str, position: int) -> Column:
    if name.startswith(IDENTITY_PREFIX):
        namespace = name.removeprefix(IDENTITY_PREFIX)
        check_namespace(namespace, field=f"header column {position}")
        return Column(namespace, (), "string")
    column_type: ColumnType = "string"
    path_text = name
    if ":" in name:
        path_text, suffix = name.rsplit(":", 1)
        if suffix not in TYPE_SUFFIXES:
            raise invalid(
                f"header column {position}",
                "type_suffix",
                f"unknown type {suffix!r} (use :{', :'.join(TYPE_SUFFIXES)} or none for strings)",
            )
        column_type = suffix
    path = tuple(path_text.split("."))
    if not all(path):
        raise invalid(f"header column {position}", "path", f"{name!r} is not a dotted attribute path")
    return Column(None, path, column_type)


def csv_item(columns: list[Column], row: list[str]) -> dict[str, Any]:
    """The batch item of a CSV row; a 400 naming the column when a cell does not fit its type."""
    if len(row) != len(columns):
        raise invalid("row", "field_count", f"has {len(row)} fields, the header has {len(columns)}")
    identities: dict[str, list[str]] = {}
    attributes: dict[str, Any] = {}
    for column, cell in zip(columns, row, strict=True):
        if column.identity is not None:
            values = [value.strip() for value in cell.split(";") if value.strip()]
            if values:
                identities.setdefault(column.identity, []).extend(values)
        elif cell != "":
            _set(attributes, column.path, _typed(column, cell))
    return {"identities": identities, "attributes": attributes}


def _typed(column: Column, cell: str) -> Any:
    field = ".".join(column.path)
    if column.type == "string":
        return cell
    if column.type == "boolean":
        flag = _BOOLEANS.get(cell.strip().lower())
        if flag is None:
            raise invalid(field, "boolean", f"{cell[:40]!r} is not a boolean (true/false, yes/no, 1/0)")
        return flag
    if column.type == "number":
        return _number(field, cell.strip())
    try:
        return msgspec.json.decode(cell)
    except msgspec.DecodeError as error:
        raise invalid(field, "json", f"invalid JSON: {error}") from None


def _number(field: str, text: str) -> int | float:
    if _INTEGER.fullmatch(text):
        return int(text)
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise invalid(field, "number", f"{text[:40]!r} is not a number")
    return number


def _set(document: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        document = document.setdefault(key, {})
    document[path[-1]] = value
