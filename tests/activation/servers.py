"""Real servers for export tests, on 127.0.0.1 with an ephemeral port: SFTP (asyncssh) and S3 (moto).

Both run in their own thread, so they serve whatever the test's event loop is doing (or a test with no
loop at all, e.g. one driving a ``clarion`` subprocess). Use them through the ``sftp_server`` and
``s3_server`` fixtures of tests/activation/conftest.py.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
import boto3  # type: ignore[import-untyped]
import httpx
from moto.server import ThreadedMotoServer

HOST = "127.0.0.1"


@dataclass
class SftpServer:
    """A running SFTP server.

    host, port      where to connect (127.0.0.1, ephemeral port)
    username        the only account; it authenticates with ``password`` or with ``private_key``
    password        the account's password
    private_key     the account's private key, OpenSSH text (``private_key_base64``: as Adobe's ``sshKey``)
    root            local folder the account is chrooted into: remote "/x" or "x" is ``root / "x"``
    host_key_fingerprint  the server key's "SHA256:…" fingerprint, as ``ssh-keygen -lf`` prints it
    quota_bytes     set it to make writes beyond this many bytes (all files together) fail with
                    "no space on filesystem"; None (default) = unlimited
    logins          how many clients have authenticated so far
    posix_rename    set False to refuse the posix-rename extension (clients fall back to plain rename)
    drop_connections()  cut every client connection from the server side
    """

    host: str
    port: int
    username: str
    password: str
    private_key: str
    root: Path
    host_key_fingerprint: str
    quota_bytes: int | None = None
    written_bytes: int = field(default=0)
    logins: int = field(default=0)  # successful authentications so far
    posix_rename: bool = True  # False: refuse OpenSSH's posix-rename, like servers without the extension
    _connections: list[asyncssh.SSHServerConnection] = field(default_factory=list, repr=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)

    def drop_connections(self) -> None:
        """Close every client connection from the server side (a network failure, as the client sees it)."""
        assert self._loop is not None

        async def drop() -> None:
            for connection in self._connections:
                connection.close()
            for connection in self._connections:
                await connection.wait_closed()
            self._connections.clear()

        asyncio.run_coroutine_threadsafe(drop(), self._loop).result(timeout=30)

    @property
    def private_key_base64(self) -> str:
        """The private key base64-encoded, the way Adobe's SFTP base connection carries ``sshKey``."""
        return base64.b64encode(self.private_key.encode()).decode()

    def adobe_auth(self, *, with_key: bool = False) -> dict[str, Any]:
        """Adobe SFTP base-connection ``auth.params`` for this server (password or SSH key)."""
        secret = {"sshKey": self.private_key_base64} if with_key else {"password": self.password}
        return {"domain": self.host, "port": self.port, "username": self.username, **secret}


class _Account(asyncssh.SSHServer):
    """One user, password or public-key authentication."""

    def __init__(self, state: SftpServer, public_key: asyncssh.SSHKey) -> None:
        self._state = state
        self._public_key = public_key

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._state._connections.append(conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == self._state.username and hmac.compare_digest(password, self._state.password)

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return username == self._state.username and key.public_data == self._public_key.public_data

    def auth_completed(self) -> None:
        self._state.logins += 1


class _ChrootedSftp(asyncssh.SFTPServer):
    """asyncssh's SFTP server confined to the root folder, with an optional byte quota."""

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], state: SftpServer) -> None:
        super().__init__(chan, chroot=str(state.root).encode())
        self._state = state

    def write(self, file_obj: object, offset: int, data: bytes) -> int:
        quota = self._state.quota_bytes
        if quota is not None and self._state.written_bytes + len(data) > quota:
            raise asyncssh.SFTPNoSpaceOnFilesystem("quota exceeded")
        self._state.written_bytes += len(data)
        written = super().write(file_obj, offset, data)
        assert isinstance(written, int)
        return written

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        if not self._state.posix_rename:
            raise asyncssh.SFTPOpUnsupported("posix-rename not supported")
        super().posix_rename(oldpath, newpath)


class _LoopThread:
    """An event loop running in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="test-sftp-server", daemon=True)
        self._thread.start()

    def run(self, coroutine: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(timeout=30)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=30)
        self.loop.close()


def run_sftp_server(root: Path, *, username: str = "exporter") -> Iterator[SftpServer]:
    """Start an SFTP server chrooted in ``root``, yield it, stop it (generator for a fixture)."""
    root.mkdir(parents=True, exist_ok=True)
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    state = SftpServer(
        host=HOST,
        port=0,
        username=username,
        password=secrets.token_urlsafe(12),
        private_key=client_key.export_private_key("openssh").decode(),
        root=root,
        host_key_fingerprint=host_key.get_fingerprint("sha256"),
    )
    public_key = client_key.convert_to_public()
    thread = _LoopThread()
    state._loop = thread.loop

    async def start() -> asyncssh.SSHAcceptor:
        return await asyncssh.create_server(
            lambda: _Account(state, public_key),
            HOST,
            0,
            server_host_keys=[host_key],
            sftp_factory=lambda chan: _ChrootedSftp(chan, state),
            allow_scp=False,
        )

    async def stop(acceptor: asyncssh.SSHAcceptor) -> None:
        acceptor.close()
        await acceptor.wait_closed()

    acceptor = thread.run(start())
    state.port = acceptor.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        thread.run(stop(acceptor))
        thread.stop()


@dataclass
class S3Server:
    """A moto S3 server and one fresh, empty bucket.

    endpoint_url    "http://127.0.0.1:<port>" (pass as ``endpoint_url`` / Adobe ``endpointUrl``)
    bucket          a bucket created for this test (deleted with everything in it afterwards)
    access_key, secret_key, region   credentials the server accepts (moto does not check them unless a
                    test enforces authentication, see ``enforce_auth``)
    """

    endpoint_url: str
    bucket: str
    access_key: str
    secret_key: str
    region: str

    def client(self) -> Any:
        """A synchronous boto3 client on this server, to inspect or prepare the bucket."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )

    def adobe_auth(self) -> dict[str, Any]:
        """Adobe S3 base-connection ``auth.params`` plus Clarion's ``endpointUrl`` and ``region``."""
        return {
            "s3AccessKey": self.access_key,
            "s3SecretKey": self.secret_key,
            "endpointUrl": self.endpoint_url,
            "region": self.region,
        }

    def object_keys(self) -> list[str]:
        """Every object key in the bucket."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def pending_uploads(self) -> list[str]:
        """Keys of multipart uploads started and neither completed nor aborted."""
        answer = self.client().list_multipart_uploads(Bucket=self.bucket)
        return sorted(upload["Key"] for upload in answer.get("Uploads", []))

    def read(self, key: str) -> bytes:
        """The bytes of one object."""
        body: bytes = self.client().get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body


def start_moto() -> tuple[ThreadedMotoServer, str]:
    """Start a moto server on 127.0.0.1 (ephemeral port); return it and its endpoint URL."""
    server = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def new_bucket(endpoint_url: str) -> S3Server:
    """Create a fresh bucket with test credentials."""
    s3 = S3Server(
        endpoint_url=endpoint_url,
        bucket=f"clarion-test-{secrets.token_hex(6)}",
        access_key="AKIA" + secrets.token_hex(8).upper(),
        secret_key=secrets.token_urlsafe(30)[:40],
        region="us-east-1",
    )
    s3.client().create_bucket(Bucket=s3.bucket)
    return s3


def drop_bucket(s3: S3Server) -> None:
    """Abort pending uploads, delete every object and the bucket (moto keeps them in memory)."""
    client = s3.client()
    for upload in client.list_multipart_uploads(Bucket=s3.bucket).get("Uploads", []):
        client.abort_multipart_upload(Bucket=s3.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    for key in s3.object_keys():
        client.delete_object(Bucket=s3.bucket, Key=key)
    client.delete_bucket(Bucket=s3.bucket)


def enforce_auth(endpoint_url: str, enabled: bool) -> None:
    """Make moto check credentials against its IAM (unknown keys get InvalidAccessKeyId), or stop checking."""
    count = "0" if enabled else "inf"
    httpx.post(f"{endpoint_url}/moto-api/reset-auth", content=count, timeout=10).raise_for_status()
