"""What the export engine is asked for and answers: which members and columns, the file format, the result.

The runs sub-package builds these (from a dataflow's export shape, or an export job's request) and calls
``service.export_audience``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from clarion.activation.export.filenames import file_extension

FileType = Literal["CSV", "JSON", "PARQUET"]
Compression = Literal["NONE", "GZIP"]
STATUS_COLUMN = "segmentMembership.status"
"""The pseudo attribute that exports the member's status (realized, existing, exited)."""

IDENTITY_PREFIX = "identityMap."
"""How a column (or a mapping's source) names an identity namespace rather than an attribute path."""


@dataclass(frozen=True)
class Audience:
    """Which members to read: an audience of a sandbox (None: every profile), restricted to some statuses
    and optionally to a window of qualification times."""

    org_id: str
    sandbox_id: str
    segment_id: str | None
    statuses: tuple[str, ...] = ("realized", "existing")
    qualified_from: datetime | None = None
    qualified_to: datetime | None = None


@dataclass(frozen=True)
class Columns:
    """The exported columns, in order: identity namespaces, then attribute paths."""

    identities: tuple[str, ...]
    attributes: tuple[str, ...]
    whole_profile: bool = False
    """JSON only: the whole attribute document, plus the listed columns."""

    @property
    def names(self) -> list[str]:
        """Header names: ``identityMap.<namespace>`` then the dotted attribute paths."""
        return [IDENTITY_PREFIX + namespace for namespace in self.identities] + list(self.attributes)


@dataclass(frozen=True)
class CsvOptions:
    """The target connection's ``csvOptions`` (contract §2.4): Adobe's defaults are ``,`` ``"`` ``\\``."""

    delimiter: str = ","
    quote: str = '"'
    escape: str = "\\"
    null_value: str = ""

    @classmethod
    def from_params(cls, options: dict[str, Any] | None) -> CsvOptions:
        """Options from the connection's ``csvOptions`` (``""`` as quote means no quote character)."""
        options = options or {}
        quote = options.get("quote", '"')
        null_value = options.get("nullValue", "")
        return cls(
            delimiter=options.get("delimiter", ","),
            # PostgreSQL cannot turn quoting off; \x01 never appears in profile text, so nothing gets quoted.
            quote="\x01" if quote in ("", '""', "\x00") else quote,
            escape=options.get("escape", "\\"),
            null_value="null" if null_value == "null" else "",
        )


@dataclass(frozen=True)
class FileFormat:
    """What the file looks like."""

    file_type: FileType = "CSV"
    compression: Compression = "NONE"
    csv: CsvOptions = field(default_factory=CsvOptions)

    @property
    def extension(self) -> str:
        """``csv``, ``json``, ``parquet``, with ``.gz`` when gzip-compressed (Parquet compresses inside)."""
        return file_extension(self.file_type, self.compression)


@dataclass(frozen=True)
class FileResult:
    """What one export wrote."""

    rows: int
    bytes: int
    sha256: str
    seconds: float
