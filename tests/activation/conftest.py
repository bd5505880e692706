"""Fixtures shared by the activation tests: a real SFTP server and a real S3-compatible server.

``sftp_server`` → tests.activation.servers.SftpServer: ``host``, ``port``, ``username``, ``password``,
``private_key`` (OpenSSH text; ``private_key_base64`` as Adobe's ``sshKey``), ``root`` (the local folder
the account is chrooted into), ``host_key_fingerprint``, ``quota_bytes`` (set it to simulate a full disk),
``logins`` (authentications so far), ``drop_connections()`` (cut clients off) and ``adobe_auth()`` (Adobe
base-connection auth params).

``s3_server`` → tests.activation.servers.S3Server: ``endpoint_url``, ``bucket`` (fresh and empty),
``access_key``, ``secret_key``, ``region``, and helpers ``client()`` (boto3), ``object_keys()``,
``pending_uploads()``, ``read(key)``, ``adobe_auth()``. The AWS_* environment is replaced by these fake
credentials for the test, so nothing can reach real AWS.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from tests.activation.servers import (
    S3Server,
    SftpServer,
    drop_bucket,
    enforce_auth,
    new_bucket,
    run_sftp_server,
    start_moto,
)

_AWS_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


@pytest.fixture
def sftp_server(tmp_path: Path) -> Iterator[SftpServer]:
    """An SFTP server on 127.0.0.1 chrooted in a fresh folder (password and public-key accounts)."""
    yield from run_sftp_server(tmp_path / "sftp-root")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[tuple[ThreadedMotoServer, str]]:
    """One moto server for the run (buckets isolate the tests)."""
    server, endpoint_url = start_moto()
    yield server, endpoint_url
    server.stop()


@pytest.fixture
def s3_server(
    moto_server: tuple[ThreadedMotoServer, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[S3Server]:
    """A fresh bucket on the moto server, with fake AWS credentials in the environment for this test."""
    s3 = new_bucket(moto_server[1])
    for variable in _AWS_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3.region)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    yield s3
    drop_bucket(s3)


@pytest.fixture
def s3_auth_enforced(s3_server: S3Server) -> Iterator[S3Server]:
    """The S3 server checking credentials for this test (moto accepts any key otherwise)."""
    enforce_auth(s3_server.endpoint_url, enabled=True)
    try:
        yield s3_server
    finally:
        enforce_auth(s3_server.endpoint_url, enabled=False)
