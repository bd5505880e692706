"""The extension of an exported file: one rule for the name checked at save time and the file written."""

from __future__ import annotations

import pytest

from clarion.activation.export.filenames import file_extension
from clarion.activation.export.schemas import Compression, FileFormat, FileType

EXPECTED: list[tuple[FileType, Compression, str]] = [
    ("CSV", "NONE", "csv"),
    ("CSV", "GZIP", "csv.gz"),
    ("JSON", "NONE", "json"),
    ("JSON", "GZIP", "json.gz"),
    ("PARQUET", "NONE", "parquet"),
    ("PARQUET", "GZIP", "parquet"),  # gzip pages inside the file: it stays a .parquet
]


@pytest.mark.parametrize(("file_type", "compression", "extension"), EXPECTED)
def test_the_checked_name_and_the_written_file_share_one_extension(
    file_type: FileType, compression: Compression, extension: str
) -> None:
    assert file_extension(file_type, compression) == extension
    assert FileFormat(file_type, compression).extension == extension
