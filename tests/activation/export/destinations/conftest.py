"""One harness per destination kind: the destination under test plus a direct view of its storage."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from clarion.activation.export.destinations import Destination, local_folder, s3, sftp
from tests.activation.servers import S3Server, SftpServer

FOLDER = "exports/daily"
TIMEOUT = 10.0


@dataclass
class Storage:
    """A destination and what a reader of its storage sees, independent of the code under test."""

    kind: str
    destination: Destination
    entries: Callable[[], list[str]]  # every file under the folder ("(pending) key" = open S3 upload)
    read: Callable[[str], bytes | None]  # a file's bytes by name, None if it does not exist


def _files_under(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if not path.is_dir())


def _read_file(folder: Path, name: str) -> bytes | None:
    path = folder / name
    return path.read_bytes() if path.is_file() else None


def local_storage(root: Path) -> Storage:
    """A local folder destination in a fresh landing zone."""
    folder = root / FOLDER
    return Storage(
        "local", local_folder(root, FOLDER), lambda: _files_under(root), lambda n: _read_file(folder, n)
    )


def sftp_storage(server: SftpServer) -> Storage:
    """An SFTP destination (password login) on the test server."""
    destination = sftp(
        host=server.host,
        port=server.port,
        username=server.username,
        password=server.password,
        private_key=None,
        folder=FOLDER,
        host_key_fingerprint=None,
        timeout=TIMEOUT,
    )
    folder = server.root / FOLDER
    return Storage("sftp", destination, lambda: _files_under(server.root), lambda n: _read_file(folder, n))


def s3_storage(server: S3Server) -> Storage:
    """An S3 destination on the moto server's fresh bucket."""
    destination = s3(
        bucket=server.bucket,
        prefix=FOLDER,
        access_key=server.access_key,
        secret_key=server.secret_key,
        region=server.region,
        endpoint_url=server.endpoint_url,
        timeout=TIMEOUT,
    )

    def entries() -> list[str]:
        return server.object_keys() + [f"(pending) {key}" for key in server.pending_uploads()]

    def read(name: str) -> bytes | None:
        key = f"{FOLDER}/{name}"
        return server.read(key) if key in server.object_keys() else None

    return Storage("s3", destination, entries, read)


@pytest.fixture(params=["local", "sftp", "s3"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    """Each destination kind in turn, closed after the test."""
    if request.param == "local":
        built = local_storage(tmp_path / "landing")
    elif request.param == "sftp":
        built = sftp_storage(request.getfixturevalue("sftp_server"))
    else:
        built = s3_storage(request.getfixturevalue("s3_server"))
    yield built
    await built.destination.close()
