"""Failures are classified (auth, network, disk, config), say why without secrets, and leave no file."""

from __future__ import annotations

import os
import pickle
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from clarion.activation.export.destinations import Destination, local_folder, s3, sftp
from clarion.activation.export.errors import DestinationError
from tests.activation.servers import S3Server, SftpServer


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections (kernel backlog) but never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def sftp_to(server: SftpServer, **overrides: Any) -> Destination:
    """An SFTP destination on ``server`` (password login) with some arguments replaced."""
    arguments: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "username": server.username,
        "password": server.password,
        "private_key": None,
        "folder": "out",
        "host_key_fingerprint": None,
        "timeout": 10.0,
        **overrides,
    }
    return sftp(**arguments)


def s3_to(server: S3Server, **overrides: Any) -> Destination:
    """An S3 destination on ``server`` with some arguments replaced."""
    arguments: dict[str, Any] = {
        "bucket": server.bucket,
        "prefix": "out",
        "access_key": server.access_key,
        "secret_key": server.secret_key,
        "region": server.region,
        "endpoint_url": server.endpoint_url,
        "timeout": 10.0,
        **overrides,
    }
    return s3(**arguments)


async def failure_of(destination: Destination) -> DestinationError:
    """The error ``verify()`` raises; the destination is closed afterwards."""
    try:
        with pytest.raises(DestinationError) as caught:
            await destination.verify()
    finally:
        await destination.close()
    return caught.value


# --- SFTP -------------------------------------------------------------------------------------------


async def test_sftp_wrong_password_is_an_auth_error_without_the_password(sftp_server: SftpServer) -> None:
    error = await failure_of(sftp_to(sftp_server, password="not-the-password"))

    assert (error.kind, error.retryable) == ("auth", False)
    assert str(error) == (f"SFTP authentication failed for user 'exporter' at 127.0.0.1:{sftp_server.port}")
    assert "not-the-password" not in repr(error)


async def test_sftp_wrong_key_is_an_auth_error(sftp_server: SftpServer) -> None:
    stranger = asyncssh.generate_private_key("ssh-ed25519").export_private_key("openssh").decode()

    error = await failure_of(sftp_to(sftp_server, password=None, private_key=stranger))

    assert (error.kind, error.retryable) == ("auth", False)


async def test_sftp_private_key_logs_in_as_text_or_base64(sftp_server: SftpServer) -> None:
    for key in (sftp_server.private_key, sftp_server.private_key_base64):
        destination = sftp_to(sftp_server, password=None, private_key=key)
        await destination.verify()
        await destination.close()

    assert sftp_server.logins == 2


def test_sftp_unreadable_private_key_is_a_config_error(sftp_server: SftpServer) -> None:
    with pytest.raises(DestinationError) as caught:
        sftp_to(sftp_server, password=None, private_key="-----BEGIN OPENSSH PRIVATE KEY-----\ngarbage")

    assert caught.value.kind == "config"
    assert "garbage" not in str(caught.value)


async def test_sftp_closed_port_is_a_retryable_network_error(closed_port: int, tmp_path: Path) -> None:
    destination = sftp(
        host="127.0.0.1",
        port=closed_port,
        username="exporter",
        password="secret",
        private_key=None,
        folder="out",
        host_key_fingerprint=None,
        timeout=5.0,
    )

    error = await failure_of(destination)

    assert (error.kind, error.retryable) == ("network", True)
    assert f"127.0.0.1:{closed_port}" in str(error)


async def test_sftp_server_that_never_answers_times_out(silent_port: int) -> None:
    destination = sftp(
        host="127.0.0.1",
        port=silent_port,
        username="exporter",
        password="secret",
        private_key=None,
        folder="out",
        host_key_fingerprint=None,
        timeout=0.5,
    )

    error = await failure_of(destination)

    assert (error.kind, error.retryable) == ("network", True)
    assert "timed out after 0.5 s" in str(error)


async def test_sftp_pinned_fingerprint_mismatch_is_an_auth_error(sftp_server: SftpServer) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").get_fingerprint("sha256")

    error = await failure_of(sftp_to(sftp_server, host_key_fingerprint=other))

    assert (error.kind, error.retryable) == ("auth", False)
    assert other in str(error)
    assert sftp_server.logins == 0  # refused before any credential was sent


async def test_sftp_pinned_fingerprint_that_matches_is_accepted(sftp_server: SftpServer) -> None:
    destination = sftp_to(sftp_server, host_key_fingerprint=sftp_server.host_key_fingerprint)

    await destination.verify()
    await destination.close()

    assert (sftp_server.root / "out").is_dir()


def test_sftp_fingerprint_must_be_sha256(sftp_server: SftpServer) -> None:
    with pytest.raises(DestinationError) as caught:
        sftp_to(sftp_server, host_key_fingerprint="MD5:aa:bb")

    assert caught.value.kind == "config"


async def test_sftp_keeps_one_connection_for_the_destination(sftp_server: SftpServer) -> None:
    destination = sftp_to(sftp_server)
    await destination.verify()
    for name in ("a.csv", "b.csv", "c/d.csv"):
        upload = await destination.open(name)
        await upload.write(b"x")
        await upload.commit()
    await destination.close()

    assert sftp_server.logins == 1
    assert (sftp_server.root / "out" / "c" / "d.csv").read_bytes() == b"x"


async def test_sftp_lost_connection_is_retryable_and_abort_reconnects_to_clean_up(
    sftp_server: SftpServer,
) -> None:
    destination = sftp_to(sftp_server)
    upload = await destination.open("audience.csv")
    await upload.write(b"first chunk")
    sftp_server.drop_connections()

    with pytest.raises(DestinationError) as caught:
        await upload.write(b"second chunk")
    await upload.abort()
    await destination.close()

    assert (caught.value.kind, caught.value.retryable) == ("network", True)
    assert list((sftp_server.root / "out").iterdir()) == []
    assert sftp_server.logins == 2


async def test_sftp_without_posix_rename_still_replaces_the_file(sftp_server: SftpServer) -> None:
    sftp_server.posix_rename = False
    destination = sftp_to(sftp_server)
    for contents in (b"first version", b"second"):
        upload = await destination.open("audience.csv")
        await upload.write(contents)
        await upload.commit()
    await destination.close()

    assert [path.name for path in (sftp_server.root / "out").iterdir()] == ["audience.csv"]
    assert (sftp_server.root / "out" / "audience.csv").read_bytes() == b"second"


async def test_sftp_full_disk_is_a_disk_error_and_leaves_nothing(sftp_server: SftpServer) -> None:
    sftp_server.quota_bytes = 100_000
    destination = sftp_to(sftp_server)
    upload = await destination.open("audience.csv")

    with pytest.raises(DestinationError) as caught:
        await upload.write(os.urandom(300_000))
    await upload.abort()
    await destination.close()

    assert (caught.value.kind, caught.value.retryable) == ("disk", False)
    assert "quota exceeded" in str(caught.value)  # SFTP v3 carries the server's reason, not ENOSPC
    assert list((sftp_server.root / "out").iterdir()) == []


async def test_sftp_folder_blocked_by_a_file_is_a_disk_error(sftp_server: SftpServer) -> None:
    (sftp_server.root / "out").write_bytes(b"not a folder")

    error = await failure_of(sftp_to(sftp_server))

    assert error.kind == "disk"
    assert (sftp_server.root / "out").read_bytes() == b"not a folder"


# --- S3 ---------------------------------------------------------------------------------------------


async def test_s3_missing_bucket_is_a_config_error(s3_server: S3Server) -> None:
    error = await failure_of(s3_to(s3_server, bucket="no-such-bucket-here"))

    assert (error.kind, error.retryable) == ("config", False)
    assert str(error) == "S3 bucket 'no-such-bucket-here' does not exist"


async def test_s3_missing_bucket_fails_the_upload_too(s3_server: S3Server) -> None:
    destination = s3_to(s3_server, bucket="no-such-bucket-here")
    upload = await destination.open("audience.csv")
    await upload.write(b"data")

    with pytest.raises(DestinationError) as caught:
        await upload.commit()
    await destination.close()

    assert caught.value.kind == "config"


async def test_s3_closed_port_is_a_retryable_network_error(s3_server: S3Server, closed_port: int) -> None:
    error = await failure_of(s3_to(s3_server, endpoint_url=f"http://127.0.0.1:{closed_port}"))

    assert (error.kind, error.retryable) == ("network", True)


async def test_s3_unknown_access_key_is_an_auth_error(s3_auth_enforced: S3Server) -> None:
    error = await failure_of(s3_to(s3_auth_enforced))

    assert (error.kind, error.retryable) == ("auth", False)
    assert s3_auth_enforced.secret_key not in repr(error)


async def test_s3_prefix_joins_with_exactly_one_slash(s3_server: S3Server) -> None:
    for prefix, name in (("/exports/", "a.csv"), ("exports", "b/c.csv"), ("", "root.csv")):
        destination = s3_to(s3_server, prefix=prefix)
        upload = await destination.open(name)
        await upload.commit()
        await destination.close()

    assert s3_server.object_keys() == ["exports/a.csv", "exports/b/c.csv", "root.csv"]


def test_s3_endpoint_must_be_an_http_url(s3_server: S3Server) -> None:
    with pytest.raises(DestinationError) as caught:
        s3_to(s3_server, endpoint_url="ftp://127.0.0.1/")

    assert caught.value.kind == "config"


# --- local folder -----------------------------------------------------------------------------------


@pytest.mark.parametrize("folder", ["../outside", "/etc", "a/../../outside"])
def test_local_folder_escaping_the_root_is_a_config_error(tmp_path: Path, folder: str) -> None:
    with pytest.raises(DestinationError) as caught:
        local_folder(tmp_path / "landing", folder)

    assert (caught.value.kind, caught.value.retryable) == ("config", False)


def test_local_folder_through_a_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "landing").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "landing" / "exports").symlink_to(tmp_path / "elsewhere")

    with pytest.raises(DestinationError) as caught:
        local_folder(tmp_path / "landing", "exports")

    assert caught.value.kind == "config"
    assert "escapes the landing zone" in str(caught.value)


async def test_local_sub_folder_symlinked_out_of_the_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "landing"
    (root / "exports").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    destination = local_folder(root, "exports")
    (root / "exports" / "daily").symlink_to(tmp_path / "elsewhere")

    with pytest.raises(DestinationError) as caught:
        await destination.open("daily/audience.csv")

    assert caught.value.kind == "config"
    assert list((tmp_path / "elsewhere").iterdir()) == []


async def test_local_folder_blocked_by_a_file_is_a_disk_error(tmp_path: Path) -> None:
    root = tmp_path / "landing"
    root.mkdir()
    (root / "exports").write_bytes(b"not a folder")

    with pytest.raises(DestinationError) as caught:
        await local_folder(root, "exports").verify()

    assert (caught.value.kind, caught.value.retryable) == ("disk", False)
    assert str(root) not in str(caught.value)


def test_errors_survive_pickling_with_their_classification() -> None:
    error = DestinationError("disk", "SFTP server 127.0.0.1:22 is out of space", retryable=True)

    copy = pickle.loads(pickle.dumps(error))

    assert (copy.kind, copy.retryable, str(copy)) == ("disk", True, str(error))
