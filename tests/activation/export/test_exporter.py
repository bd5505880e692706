"""The export engine writes exact files from the database, in every format, on both dialects."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from typing import Any

import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from clarion.activation.export import service
from clarion.activation.export.schemas import Audience, Columns, CsvOptions, FileFormat
from clarion.activation.export.service import export_audience
from clarion.container import Container
from clarion.kit.ids import new_id
from clarion.models.audiences import SegmentDefinition, SegmentMembership
from clarion.models.profiles import Profile
from clarion.models.tenancy import Sandbox
from tests.builders import Tenant

COLUMNS = Columns(
    identities=("email",),
    attributes=("person.name.firstName", "loyalty.points", "consents.marketing", "segmentMembership.status"),
)


class MemoryUpload:
    """The in-memory twin of a destination upload: bytes visible only after commit."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.committed: bytes | None = None
        self.aborted = False

    async def write(self, data: bytes) -> None:
        self.parts.append(data)

    async def commit(self) -> None:
        self.committed = b"".join(self.parts)

    async def abort(self) -> None:
        self.aborted = True


async def _audience(container: Container, tenant: Tenant, documents: list[dict[str, Any]]) -> Audience:
    async with container.unit_of_work() as uow:
        sandbox = (await uow.session.scalars(select(Sandbox).where(Sandbox.org_id == tenant.org_id))).one()
        segment = SegmentDefinition(
            org_id=tenant.org_id,
            sandbox_id=sandbox.id,
            name="all",
            expression={"type": "PQL", "format": "pql/text", "value": "true"},
            merge_policy_id=new_id(),
        )
        uow.session.add(segment)
        await uow.session.flush()
        for index, document in enumerate(documents):
            profile = Profile(
                org_id=tenant.org_id,
                sandbox_id=sandbox.id,
                attributes=document,
                identities={"email": [f"p{index}@example.com"]},
            )
            uow.session.add(profile)
            await uow.session.flush()
            uow.session.add(
                SegmentMembership(
                    segment_id=segment.id,
                    profile_id=profile.id,
                    org_id=tenant.org_id,
                    sandbox_id=sandbox.id,
                    status="exited" if index % 10 == 9 else "realized",
                    job_id="job",
                )
            )
        await uow.commit()
    return Audience(tenant.org_id, sandbox.id, segment.id)


TRICKY = [
    {"person": {"name": {"firstName": 'Zoë "Z" O\'Neil, Jr.'}}, "loyalty": {"points": 12.5}},
    {"person": {"name": {"firstName": "line\nbreak"}}, "consents": {"marketing": True}},
    {"person": {"name": {"firstName": ""}}, "loyalty": {"points": 0}, "consents": {"marketing": False}},
    {"loyalty": {"points": 7}},
]


def _documents(count: int) -> list[dict[str, Any]]:
    return [TRICKY[i % len(TRICKY)] for i in range(count)]


def _expected(documents: list[dict[str, Any]]) -> list[list[str | None]]:
    rows = []
    for index, document in enumerate(documents):
        if index % 10 == 9:
            continue
        points = document.get("loyalty", {}).get("points")
        marketing = document.get("consents", {}).get("marketing")
        rows.append(
            [
                f"p{index}@example.com",
                document.get("person", {}).get("name", {}).get("firstName"),
                None if points is None else str(points),
                None if marketing is None else json.dumps(marketing),
                "realized",
            ]
        )
    return sorted(rows, key=lambda row: str(row[0]))


async def _export(container: Container, audience: Audience, file_format: FileFormat) -> bytes:
    upload = MemoryUpload()
    async with container.unit_of_work() as uow:
        result = await export_audience(uow.session, audience, COLUMNS, file_format, upload)
    assert upload.committed is not None
    assert result.bytes == len(upload.committed)
    assert result.sha256 == hashlib.sha256(upload.committed).hexdigest()
    return upload.committed


async def test_csv_gzip_round_trips_every_value(container: Container, tenant: Tenant) -> None:
    documents = _documents(40)
    audience = await _audience(container, tenant, documents)
    data = await _export(container, audience, FileFormat("CSV", "GZIP", CsvOptions(escape='"')))
    reader = csv.reader(io.StringIO(gzip.decompress(data).decode()))
    header, *rows = list(reader)
    assert header == COLUMNS.names
    # Empty text and missing values both read back as empty fields in CSV.
    expected = [[value or "" for value in row] for row in _expected(documents)]
    assert sorted(rows, key=lambda row: row[0]) == expected


async def test_json_lines_keep_types_and_nesting(container: Container, tenant: Tenant) -> None:
    documents = _documents(12)
    audience = await _audience(container, tenant, documents)
    lines = (await _export(container, audience, FileFormat("JSON"))).decode().splitlines()
    parsed = sorted((json.loads(line) for line in lines), key=lambda doc: doc["identityMap"]["email"][0])
    assert len(parsed) == len(_expected(documents))
    first = next(doc for doc in parsed if doc["identityMap"]["email"] == ["p0@example.com"])
    assert first["person"]["name"]["firstName"] == 'Zoë "Z" O\'Neil, Jr.'
    assert first["loyalty"]["points"] == 12.5
    assert first["segmentMembership"]["status"] == "realized"
    second = next(doc for doc in parsed if doc["identityMap"]["email"] == ["p1@example.com"])
    assert second["consents"]["marketing"] is True
    assert second["person"]["name"]["firstName"] == "line\nbreak"


@pytest.mark.parametrize("compression", ["NONE", "GZIP"])
async def test_parquet_holds_every_row(
    container: Container, tenant: Tenant, compression: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small Arrow pieces force several row groups and record-boundary cuts inside the stream.
    monkeypatch.setattr(service, "ARROW_CHUNK_BYTES", 512)
    documents = _documents(300)
    audience = await _audience(container, tenant, documents)
    data = await _export(container, audience, FileFormat("PARQUET", compression))  # type: ignore[arg-type]
    table = pq.read_table(io.BytesIO(data))
    assert table.column_names == COLUMNS.names
    rows = sorted(
        ([table.column(i)[r].as_py() for i in range(len(COLUMNS.names))] for r in range(table.num_rows)),
        key=lambda row: str(row[0]),
    )
    assert rows == _expected(documents)


async def test_empty_audience_writes_a_header_only_file(container: Container, tenant: Tenant) -> None:
    audience = await _audience(container, tenant, [])
    data = await _export(container, audience, FileFormat("CSV"))
    assert data.decode().strip() == ",".join(COLUMNS.names)


async def test_a_failing_upload_is_aborted(container: Container, tenant: Tenant) -> None:
    audience = await _audience(container, tenant, _documents(5))

    class Broken(MemoryUpload):
        async def commit(self) -> None:
            raise OSError("disk full")

    upload = Broken()
    async with container.unit_of_work() as uow:
        with pytest.raises(OSError, match="disk full"):
            await export_audience(uow.session, audience, COLUMNS, FileFormat("CSV"), upload)
    assert upload.aborted
    assert upload.committed is None
