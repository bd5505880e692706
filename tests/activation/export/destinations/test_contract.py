"""The Destination/Upload contract, run against a local folder, a real SFTP server and a real S3 server."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re

import pytest

from clarion.activation.export.destinations.s3 import PART_BYTES
from clarion.activation.export.errors import DestinationError
from tests.activation.export.destinations.conftest import FOLDER, Storage

TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.[0-9a-f]{12}\.part$")


def published(storage: Storage, name: str) -> str:
    """How a committed file shows in ``storage.entries()`` (every kind lists paths from its root)."""
    return f"{FOLDER}/{name}"


async def upload(storage: Storage, name: str, chunks: list[bytes]) -> None:
    """Write ``chunks`` to ``name`` and commit."""
    file = await storage.destination.open(name)
    for chunk in chunks:
        await file.write(chunk)
    await file.commit()


async def test_verify_succeeds_and_leaves_nothing(storage: Storage) -> None:
    await storage.destination.verify()

    assert storage.entries() == []


async def test_chunks_committed_become_the_exact_file(storage: Storage) -> None:
    chunks = [b"id,email\n", b"1,a@example.com\n" * 5000, b"", b"2,b@example.com\n"]

    await upload(storage, "audience.csv", chunks)

    assert storage.read("audience.csv") == b"".join(chunks)
    assert storage.entries() == [published(storage, "audience.csv")]


async def test_a_reader_sees_nothing_before_commit(storage: Storage) -> None:
    file = await storage.destination.open("audience.csv.gz")
    await file.write(os.urandom(PART_BYTES + 1000))  # one full S3 part already sent

    assert storage.read("audience.csv.gz") is None
    assert published(storage, "audience.csv.gz") not in storage.entries()
    await file.commit()
    assert storage.read("audience.csv.gz") is not None


async def test_the_partial_file_is_hidden_beside_the_final_one(storage: Storage) -> None:
    file = await storage.destination.open("a/audience.csv")
    await file.write(os.urandom(PART_BYTES + 1))

    (entry,) = storage.entries()
    await file.abort()
    if storage.kind == "s3":  # no partial object: an unfinished multipart upload, listed only as such
        assert entry == f"(pending) {FOLDER}/a/audience.csv"
        return
    folder, _, temp = entry.rpartition("/")
    match = TEMP_NAME.match(temp)
    assert folder == f"{FOLDER}/a"
    assert match is not None
    assert match["name"] == "audience.csv"


async def test_a_name_of_255_bytes_fits_with_its_temporary_name(storage: Storage) -> None:
    name = "é" * 100 + "x" * 51 + ".csv"  # 255 bytes in UTF-8

    await upload(storage, name, [b"long name"])

    assert storage.read(name) == b"long name"
    assert storage.entries() == [published(storage, name)]


@pytest.mark.parametrize("size", [10, PART_BYTES + 10])
async def test_abort_leaves_nothing(storage: Storage, size: int) -> None:
    file = await storage.destination.open("sub/audience.json")
    await file.write(os.urandom(size))

    await file.abort()
    await file.abort()  # a second abort is harmless

    assert storage.entries() == []


async def test_commit_replaces_an_existing_file(storage: Storage) -> None:
    await upload(storage, "audience.csv", [b"old contents, longer than the new ones\n"])

    await upload(storage, "audience.csv", [b"new\n"])

    assert storage.read("audience.csv") == b"new\n"
    assert storage.entries() == [published(storage, "audience.csv")]


async def test_names_may_contain_sub_folders(storage: Storage) -> None:
    await upload(storage, "2024/07/22/audience.parquet", [b"PAR1", b"PAR1"])
    await upload(storage, "2024/07/23/audience.parquet", [b"PAR1"])

    assert storage.read("2024/07/22/audience.parquet") == b"PAR1PAR1"
    assert storage.entries() == [
        published(storage, "2024/07/22/audience.parquet"),
        published(storage, "2024/07/23/audience.parquet"),
    ]


async def test_large_file_in_several_parts_keeps_its_integrity(storage: Storage) -> None:
    sizes = [65_536, 1_000_003, 3 << 20, PART_BYTES + 5, 7 << 20, 12_345]  # 2 full parts + a tail on S3
    chunks = [os.urandom(size) for size in sizes]

    await upload(storage, "big.csv.gz", chunks)

    stored = storage.read("big.csv.gz")
    assert stored is not None
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(b"".join(chunks)).hexdigest()


async def test_concurrent_uploads_of_different_names(storage: Storage) -> None:
    contents = {f"part-{index}.csv": os.urandom(300_000 + index) for index in range(6)}

    async def send(name: str, data: bytes) -> None:
        file = await storage.destination.open(name)
        for start in range(0, len(data), 64_000):
            await file.write(data[start : start + 64_000])
        await file.commit()

    await asyncio.gather(*(send(name, data) for name, data in contents.items()))

    assert {name: storage.read(name) for name in contents} == contents
    assert storage.entries() == sorted(published(storage, name) for name in contents)


async def test_abort_after_commit_keeps_the_file(storage: Storage) -> None:
    file = await storage.destination.open("audience.csv")
    await file.write(b"kept")
    await file.commit()

    await file.abort()

    assert storage.read("audience.csv") == b"kept"


async def test_an_upload_cannot_be_written_after_commit(storage: Storage) -> None:
    file = await storage.destination.open("audience.csv")
    await file.commit()

    with pytest.raises(RuntimeError, match="already finished"):
        await file.write(b"late")
    assert storage.read("audience.csv") == b""


@pytest.mark.parametrize(
    "name", ["", "/etc/passwd", "../outside.csv", "a/../../outside.csv", "a//b.csv", ".", "a\\b.csv"]
)
async def test_names_leaving_the_folder_are_refused(storage: Storage, name: str) -> None:
    with pytest.raises(DestinationError) as caught:
        await storage.destination.open(name)

    assert caught.value.kind == "config"
    assert not caught.value.retryable
    assert storage.entries() == []
