"""SFTP destination (asyncssh): one SSH connection per destination, files renamed into place on commit.

Host keys: when no ``host_key_fingerprint`` is configured any server key is accepted, because Adobe's SFTP
destination takes only domain, port and credentials and pins nothing either; a connection created through
the Adobe-compatible API therefore has no fingerprint to check. Give one (``SHA256:…`` as printed by
``ssh-keygen -lf``) to refuse a server whose key does not match, before any credential is sent.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import PurePosixPath

import asyncssh
import structlog

from clarion.activation.export.destinations.base import Upload, clean_folder, clean_name, temporary_name
from clarion.activation.export.errors import DestinationError

log = structlog.get_logger(__name__)


def sftp(
    *,
    host: str,
    port: int,
    username: str,
    password: str | None,
    private_key: str | None,
    folder: str,
    host_key_fingerprint: str | None,
    timeout: float,
) -> SftpDestination:
    """An SFTP destination authenticating with a password or a private key (PEM/OpenSSH, or base64 of it)."""
    if password is None and private_key is None:
        raise DestinationError("config", "SFTP needs a password or a private key")
    if host_key_fingerprint is not None and not is_fingerprint(host_key_fingerprint):
        raise DestinationError("config", "host key fingerprint must look like 'SHA256:…' (ssh-keygen -lf)")
    return SftpDestination(
        _Server(host=host, port=port, username=username, fingerprint=host_key_fingerprint),
        password=password,
        key=read_private_key(private_key) if private_key is not None else None,
        folder=clean_folder(folder),
        timeout=timeout,
    )


def is_fingerprint(text: str) -> bool:
    """Whether ``text`` is a SHA256 key fingerprint as ``ssh-keygen -lf`` prints it."""
    return text.startswith("SHA256:") and len(text) > len("SHA256:")


def read_private_key(text: str) -> asyncssh.SSHKey:
    """Parse a private key given as PEM/OpenSSH text or, as Adobe sends ``sshKey``, base64 of that text."""
    candidates: list[bytes | str] = [text]
    with contextlib.suppress(binascii.Error, ValueError):
        candidates.append(base64.b64decode("".join(text.split()), validate=True))
    for candidate in candidates:
        with contextlib.suppress(asyncssh.KeyImportError, ValueError):
            return asyncssh.import_private_key(candidate)
    raise DestinationError("config", "the SFTP private key is not a readable, unencrypted PEM/OpenSSH key")


class _Server:
    """Where to connect and whom as; the texts of every error come from here (never a secret)."""

    def __init__(self, *, host: str, port: int, username: str, fingerprint: str | None) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.fingerprint = fingerprint

    def describe(self, exc: BaseException, action: str, timeout: float) -> DestinationError:
        """Classify a failure of ``action`` as auth, network, disk or config."""
        at = f"{self.host}:{self.port}"
        if isinstance(exc, asyncssh.PermissionDenied):
            return DestinationError("auth", f"SFTP authentication failed for user {self.username!r} at {at}")
        if isinstance(exc, asyncssh.HostKeyNotVerifiable):
            return DestinationError("auth", f"SFTP server {at} host key does not match {self.fingerprint}")
        if isinstance(exc, TimeoutError):
            return DestinationError("network", f"SFTP {action} at {at} timed out after {timeout:g} s")
        if isinstance(exc, asyncssh.SFTPError):
            return _sftp_refusal(exc, action, at)
        if isinstance(exc, asyncssh.ChannelOpenError):
            return DestinationError("config", f"SFTP server {at} refused an SFTP session: {exc.reason}")
        if isinstance(exc, socket.gaierror):
            return DestinationError("network", f"cannot resolve SFTP host {self.host!r}")
        if isinstance(exc, ConnectionRefusedError):
            return DestinationError("network", f"SFTP connection to {at} refused")
        if isinstance(exc, asyncssh.DisconnectError):
            return DestinationError("network", f"SFTP connection to {at} lost during {action}: {exc.reason}")
        if isinstance(exc, OSError):
            return DestinationError("network", f"SFTP {action} at {at} failed: {exc.strerror or exc}")
        return DestinationError("network", f"SFTP {action} at {at} failed: {type(exc).__name__}")


def _sftp_refusal(exc: asyncssh.SFTPError, action: str, at: str) -> DestinationError:
    """An SFTP status reply: the server refused to store the file, or the session is gone."""
    if isinstance(exc, asyncssh.SFTPConnectionLost | asyncssh.SFTPNoConnection):
        return DestinationError("network", f"SFTP connection to {at} lost during {action}")
    if isinstance(exc, asyncssh.SFTPPermissionDenied):
        return DestinationError("disk", f"SFTP server {at} denied permission to {action}")
    if isinstance(exc, asyncssh.SFTPNoSpaceOnFilesystem | asyncssh.SFTPQuotaExceeded):
        return DestinationError("disk", f"SFTP server {at} is out of space ({action})")
    return DestinationError("disk", f"SFTP server {at} could not {action}: {exc.reason}")


class _PinnedHostKey(asyncssh.SSHClient):
    """Accept the server only if its key has the configured SHA256 fingerprint."""

    def __init__(self, fingerprint: str) -> None:
        self._fingerprint = fingerprint

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        """Compare fingerprints the way ``ssh-keygen -lf`` prints them."""
        return key.get_fingerprint("sha256") == self._fingerprint


def _host_key_options(fingerprint: str | None) -> dict[str, object]:
    """Accept any host key, or trust none but the one whose fingerprint is pinned."""
    if fingerprint is None:
        return {"known_hosts": None}
    return {"known_hosts": ([], [], []), "client_factory": lambda: _PinnedHostKey(fingerprint)}


class SftpDestination:
    """A remote folder reached over one SSH connection, opened on first use and kept until ``close``."""

    def __init__(
        self,
        server: _Server,
        *,
        password: str | None,
        key: asyncssh.SSHKey | None,
        folder: PurePosixPath,
        timeout: float,
    ) -> None:
        self._server = server
        self._password = password
        self._key = key
        self._folder = folder
        self._timeout = timeout
        self._lock = asyncio.Lock()
        self._connection: asyncssh.SSHClientConnection | None = None
        self._client: asyncssh.SFTPClient | None = None
        self._made_folders: set[str] = set()

    @contextlib.asynccontextmanager
    async def guard(self, action: str) -> AsyncIterator[None]:
        """Time-limit one network operation and turn its failure into a ``DestinationError``."""
        try:
            async with asyncio.timeout(self._timeout):
                yield
        except DestinationError:
            raise
        except (OSError, asyncssh.Error, asyncssh.SFTPError) as exc:
            raise self._server.describe(exc, action, self._timeout) from exc

    async def sftp_client(self) -> asyncssh.SFTPClient:
        """The live SFTP session, (re)connecting if there is none or it was lost."""
        async with self._lock:
            if self._client is None or self._connection is None or self._connection.is_closed():
                self._client = await self._connect()
                self._made_folders.clear()
            return self._client

    async def _connect(self) -> asyncssh.SFTPClient:
        server = self._server
        async with self.guard("login"):
            connection = await asyncssh.connect(
                server.host,
                server.port,
                username=server.username,
                password=self._password,
                client_keys=[self._key] if self._key is not None else None,
                public_key_auth=self._key is not None,
                password_auth=self._password is not None,
                kbdint_auth=self._password is not None,
                host_based_auth=False,
                gss_auth=False,
                gss_kex=False,
                agent_path=None,  # never the operator's ssh-agent, ~/.ssh keys or ~/.ssh/config
                config=None,
                **_host_key_options(server.fingerprint),
                connect_timeout=self._timeout,
                login_timeout=self._timeout,
            )
            try:
                client = await connection.start_sftp_client()
            except BaseException:
                connection.close()
                raise
        self._connection = connection
        return client

    async def makedirs(self, folder: PurePosixPath) -> None:
        """Create ``folder`` and its parents once per connection."""
        path = str(folder)
        if path in (".", "/") or path in self._made_folders:
            return
        client = await self.sftp_client()
        async with self.guard(f"create folder {path!r}"):
            await client.makedirs(path, exist_ok=True)
        self._made_folders.add(path)

    async def verify(self) -> None:
        """Log in, create the folder if needed and write then delete an empty probe file."""
        await self.makedirs(self._folder)
        probe = str(self._folder / temporary_name(PurePosixPath(".clarion-verify")))
        client = await self.sftp_client()
        async with self.guard("write to the destination folder"):
            file = await client.open(probe, "wb")
            await file.close()
            await client.remove(probe)

    async def open(self, name: str) -> Upload:
        """Create ``.<name>.<random>.part`` in the final file's folder."""
        relative = clean_name(name)
        final = self._folder / relative
        temp = final.parent / temporary_name(relative).name
        await self.makedirs(final.parent)
        client = await self.sftp_client()
        async with self.guard(f"create {name!r}"):
            file = await client.open(str(temp), "wb")
        return SftpUpload(self, name, final=str(final), temp=str(temp), file=file)

    async def close(self) -> None:
        """Close the SSH connection (bounded by the timeout; never raises)."""
        connection, self._connection, self._client = self._connection, None, None
        if connection is None:
            return
        connection.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self._timeout):
                await connection.wait_closed()


class SftpUpload:
    """A remote temporary file; commit renames it over the final name."""

    def __init__(
        self, destination: SftpDestination, name: str, *, final: str, temp: str, file: asyncssh.SFTPClientFile
    ) -> None:
        self._destination = destination
        self._name = name
        self._final = final
        self._temp = temp
        self._file: asyncssh.SFTPClientFile | None = file
        self._committed = False

    async def write(self, data: bytes) -> None:
        """Send ``data`` (asyncssh pipelines large chunks in parallel requests)."""
        if self._file is None:
            raise RuntimeError(f"upload of {self._name!r} is already finished")
        async with self._destination.guard(f"write {self._name!r}"):
            await self._file.write(data)

    async def commit(self) -> None:
        """Close the file and rename it into place; on failure the temporary file is removed."""
        if self._file is None:
            raise RuntimeError(f"upload of {self._name!r} is already finished")
        try:
            file, self._file = self._file, None
            async with self._destination.guard(f"finish writing {self._name!r}"):
                await file.close()
            await self._publish()
        except BaseException:
            await self.abort()
            raise
        self._committed = True

    async def _publish(self) -> None:
        client = await self._destination.sftp_client()
        async with self._destination.guard(f"rename {self._name!r} into place"):
            try:
                await client.posix_rename(self._temp, self._final)
            except asyncssh.SFTPOpUnsupported:
                # Plain SFTP rename refuses an existing target: remove it first (a short window without file).
                with contextlib.suppress(asyncssh.SFTPNoSuchFile):
                    await client.remove(self._final)
                await client.rename(self._temp, self._final)

    async def abort(self) -> None:
        """Close and remove the temporary file; failures are logged, never raised."""
        if self._committed:
            return
        file, self._file = self._file, None
        try:
            if file is not None:
                with contextlib.suppress(Exception):
                    async with self._destination.guard(f"close the partial {self._name!r}"):
                        await file.close()
            client = await self._destination.sftp_client()
            async with self._destination.guard(f"remove the partial {self._name!r}"):
                with contextlib.suppress(asyncssh.SFTPNoSuchFile):
                    await client.remove(self._temp)
        except Exception as exc:  # abort runs while another error is being reported: never mask it
            log.warning("destination.sftp.abort_failed", file=self._name, error=str(exc))
