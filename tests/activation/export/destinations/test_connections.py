"""from_connection: Adobe base-connection auth params + target-connection params → a working destination."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pytest

from clarion.activation.export.destinations import Destination, from_connection
from clarion.activation.export.errors import DestinationError
from tests.activation.servers import S3Server, SftpServer

Kind = Literal["local", "sftp", "s3"]


async def deliver(destination: Destination, name: str, data: bytes) -> None:
    """Verify the destination, upload one file, close."""
    try:
        await destination.verify()
        upload = await destination.open(name)
        await upload.write(data)
        await upload.commit()
    finally:
        await destination.close()


def build(kind: Kind, auth: dict[str, Any], params: dict[str, Any], landing_zone: Path) -> Destination:
    return from_connection(kind, auth=auth, params=params, landing_zone=landing_zone, timeout=10.0)


async def test_local_folder_path_is_relative_to_the_landing_zone(tmp_path: Path) -> None:
    await deliver(build("local", {}, {"path": "acme/exports"}, tmp_path), "a.csv", b"local")

    assert (tmp_path / "acme" / "exports" / "a.csv").read_bytes() == b"local"


async def test_local_folder_without_a_path_is_the_landing_zone(tmp_path: Path) -> None:
    await deliver(build("local", {}, {"fileType": "CSV"}, tmp_path), "a.csv", b"root")

    assert (tmp_path / "a.csv").read_bytes() == b"root"


async def test_sftp_with_password(sftp_server: SftpServer, tmp_path: Path) -> None:
    params = {"remotePath": "/drop/acme", "fileType": "CSV", "compression": "NONE"}

    await deliver(build("sftp", sftp_server.adobe_auth(), params, tmp_path), "a.csv", b"by password")

    assert (sftp_server.root / "drop" / "acme" / "a.csv").read_bytes() == b"by password"


async def test_sftp_with_base64_ssh_key_and_string_port(sftp_server: SftpServer, tmp_path: Path) -> None:
    auth = {**sftp_server.adobe_auth(with_key=True), "port": str(sftp_server.port)}

    await deliver(build("sftp", auth, {"remotePath": "drop"}, tmp_path), "a.csv", b"by key")

    assert (sftp_server.root / "drop" / "a.csv").read_bytes() == b"by key"


async def test_sftp_accepts_the_whole_auth_object(sftp_server: SftpServer, tmp_path: Path) -> None:
    auth = {"specName": "SFTP with Password", "params": sftp_server.adobe_auth()}
    params = {"remotePath": "drop", "hostKeyFingerprint": sftp_server.host_key_fingerprint}

    await deliver(build("sftp", auth, params, tmp_path), "a.csv", b"pinned")

    assert (sftp_server.root / "drop" / "a.csv").read_bytes() == b"pinned"


async def test_s3_with_access_key_and_endpoint(s3_server: S3Server, tmp_path: Path) -> None:
    params = {
        "mode": "Server-to-server",
        "bucketName": s3_server.bucket,
        "path": "folder/subfolder",
        "compression": "GZIP",
        "fileType": "CSV",
    }

    await deliver(build("s3", s3_server.adobe_auth(), params, tmp_path), "a.csv.gz", b"to s3")

    assert s3_server.read("folder/subfolder/a.csv.gz") == b"to s3"


SFTP_AUTH = {"domain": "127.0.0.1", "port": 22, "username": "u", "password": "pw-secret"}
S3_AUTH = {"s3AccessKey": "AKIAEXAMPLE", "s3SecretKey": "sk-secret"}
S3_PARAMS = {"bucketName": "my-bucket", "path": "exports"}


def without(values: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: value for name, value in values.items() if name not in names}


@pytest.mark.parametrize(
    ("kind", "auth", "params", "named"),
    [
        ("sftp", without(SFTP_AUTH, "domain"), {"remotePath": "x"}, "domain"),
        ("sftp", without(SFTP_AUTH, "username"), {"remotePath": "x"}, "username"),
        ("sftp", without(SFTP_AUTH, "password"), {"remotePath": "x"}, "sshKey"),
        ("sftp", SFTP_AUTH, {}, "remotePath"),
        ("sftp", {**SFTP_AUTH, "port": "ssh"}, {"remotePath": "x"}, "port"),
        ("sftp", {**SFTP_AUTH, "port": 70000}, {"remotePath": "x"}, "port"),
        ("sftp", {**SFTP_AUTH, "username": 7}, {"remotePath": "x"}, "username"),
        ("sftp", {**without(SFTP_AUTH, "password"), "sshKey": "bm90IGEga2V5"}, {"remotePath": "x"}, "sshKey"),
        ("sftp", SFTP_AUTH, {"remotePath": "x", "hostKeyFingerprint": "aa:bb"}, "hostKeyFingerprint"),
        ("sftp", SFTP_AUTH, {"remotePath": "../x"}, "'../x'"),
        ("s3", without(S3_AUTH, "s3AccessKey"), S3_PARAMS, "s3AccessKey"),
        ("s3", without(S3_AUTH, "s3SecretKey"), S3_PARAMS, "s3SecretKey"),
        ("s3", S3_AUTH, without(S3_PARAMS, "bucketName"), "bucketName"),
        ("s3", S3_AUTH, {**S3_PARAMS, "bucketName": "Not_A_Bucket"}, "bucketName"),
        ("s3", S3_AUTH, without(S3_PARAMS, "path"), "path"),
        ("s3", {**S3_AUTH, "endpointUrl": "localhost:9000"}, S3_PARAMS, "endpointUrl"),
        ("local", {}, {"path": "../../etc"}, "'../../etc'"),
        ("local", {}, {"path": "/etc"}, "'/etc'"),
    ],
)
def test_missing_or_invalid_params_are_config_errors_naming_them(
    kind: Kind, auth: dict[str, Any], params: dict[str, Any], named: str, tmp_path: Path
) -> None:
    with pytest.raises(DestinationError) as caught:
        build(kind, auth, params, tmp_path)

    assert (caught.value.kind, caught.value.retryable) == ("config", False)
    assert named in str(caught.value)
    assert "secret" not in str(caught.value)
