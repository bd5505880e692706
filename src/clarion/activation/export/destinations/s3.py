"""S3-compatible destination (aiobotocore): multipart uploads that become objects only when completed.

Data is buffered into 8 MiB parts; a file smaller than one part is sent with a single PutObject at commit.
Either way nothing is visible under the key before ``commit``, and ``abort`` drops the multipart upload.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import structlog
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
)

from clarion.activation.export.destinations.base import Upload, clean_name, temporary_name
from clarion.activation.export.errors import DestinationError

PART_BYTES = 8 << 20
_AUTH_CODES = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "AllAccessDisabled",
    "403",
}
_MISSING_BUCKET_CODES = {"NoSuchBucket", "404", "NotFound"}
_TRANSIENT_CODES = {"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "NoSuchUpload"}
log = structlog.get_logger(__name__)


def s3(
    *,
    bucket: str,
    prefix: str,
    access_key: str,
    secret_key: str,
    region: str | None,
    endpoint_url: str | None,
    timeout: float,
) -> S3Destination:
    """A bucket prefix on AWS S3, or on any S3-compatible server when ``endpoint_url`` is given."""
    if not bucket:
        raise DestinationError("config", "S3 needs a bucket name")
    if endpoint_url is not None and not is_endpoint_url(endpoint_url):
        raise DestinationError("config", f"S3 endpoint URL {endpoint_url!r} is not an http(s) URL")
    return S3Destination(
        bucket=bucket,
        prefix=prefix.strip("/"),
        credentials=(access_key, secret_key),
        region=region,
        endpoint_url=endpoint_url,
        timeout=timeout,
    )


def is_endpoint_url(text: str) -> bool:
    """Whether ``text`` is an absolute http(s) URL an S3 client can talk to."""
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _client_config(*, compatible: bool, timeout: float) -> AioConfig:
    """Timeouts, a few retries of transient faults, and the settings third-party S3 servers need."""
    return AioConfig(
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"mode": "standard", "total_max_attempts": 3},
        # AWS_ENDPOINT_URL* or a profile's endpoint_url must never redirect an export somewhere else.
        ignore_configured_endpoint_urls=True,
        # Path-style addressing and only the checksums S3 requires: S3-compatible servers (MinIO, Ceph, …)
        # do not all accept virtual-host buckets or the newer default CRC checksums.
        s3={"addressing_style": "path"} if compatible else {},
        request_checksum_calculation="when_required" if compatible else "when_supported",
        response_checksum_validation="when_required" if compatible else "when_supported",
    )


class S3Destination:
    """One bucket prefix; a single client (connection pool) shared by every upload, created on first use."""

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str,
        credentials: tuple[str, str],
        region: str | None,
        endpoint_url: str | None,
        timeout: float,
    ) -> None:
        self.bucket = bucket
        self._prefix = prefix
        self._credentials = credentials
        self._region = region
        self._endpoint_url = endpoint_url
        self._timeout = timeout
        self._lock = asyncio.Lock()
        self._exits = contextlib.AsyncExitStack()
        self._client: Any = None

    def key_of(self, name: str) -> str:
        """The object key of ``name``: the prefix and the name joined by exactly one '/'."""
        relative = str(clean_name(name))
        return f"{self._prefix}/{relative}" if self._prefix else relative

    @contextlib.asynccontextmanager
    async def guard(self, action: str) -> AsyncIterator[None]:
        """Time-limit one request and turn its failure into a ``DestinationError``."""
        try:
            async with asyncio.timeout(self._timeout):
                yield
        except DestinationError:
            raise
        except (ClientError, BotoCoreError, OSError) as exc:
            raise self._describe(exc, action) from exc

    def _describe(self, exc: Exception, action: str) -> DestinationError:
        """Classify a failure of ``action`` as auth, network, disk or config."""
        where = f"S3 bucket {self.bucket!r}"
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            if code in _AUTH_CODES:
                return DestinationError("auth", f"{where} refused the access key ({code}) to {action}")
            if code in _MISSING_BUCKET_CODES:
                return DestinationError("config", f"{where} does not exist")
            if code in _TRANSIENT_CODES or status >= 500:
                return DestinationError("network", f"{where} failed to {action}: {code or status}")
            return DestinationError("disk", f"{where} refused to {action}: {code or status}")
        if isinstance(exc, TimeoutError):
            return DestinationError("network", f"{where}: {action} timed out after {self._timeout:g} s")
        if isinstance(exc, ConnectionError | HTTPClientError | OSError):
            return DestinationError("network", f"{where}: cannot reach the S3 endpoint to {action}")
        return DestinationError("config", f"{where}: cannot {action}: {type(exc).__name__}")

    async def client(self) -> Any:
        """The S3 client, created on first use."""
        async with self._lock:
            if self._client is None:
                access_key, secret_key = self._credentials
                factory = get_session().create_client(
                    "s3",
                    region_name=self._region or "us-east-1",
                    endpoint_url=self._endpoint_url,
                    aws_access_key_id=access_key,
                    aws_secret_access_key=secret_key,
                    config=_client_config(compatible=self._endpoint_url is not None, timeout=self._timeout),
                )
                async with self.guard("connect"):
                    self._client = await self._exits.enter_async_context(factory)
            return self._client

    async def verify(self) -> None:
        """Check the bucket exists and a multipart upload can be started (then abort it: nothing appears)."""
        client = await self.client()
        async with self.guard("find the bucket"):
            await client.head_bucket(Bucket=self.bucket)
        probe = self.key_of(str(temporary_name(clean_name(".clarion-verify"))))
        async with self.guard("write"):
            started = await client.create_multipart_upload(Bucket=self.bucket, Key=probe)
            await client.abort_multipart_upload(Bucket=self.bucket, Key=probe, UploadId=started["UploadId"])

    async def open(self, name: str) -> Upload:
        """Start buffering ``name``; the multipart upload begins with the first full part."""
        key = self.key_of(name)
        return S3Upload(self, name, key, await self.client())

    async def close(self) -> None:
        """Close the client's connection pool (never raises)."""
        self._client = None
        exits, self._exits = self._exits, contextlib.AsyncExitStack()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self._timeout):
                await exits.aclose()


class S3Upload:
    """Parts of 8 MiB sent as they fill; completed (or a single PutObject) on commit."""

    def __init__(self, destination: S3Destination, name: str, key: str, client: Any) -> None:
        self._destination = destination
        self._name = name
        self._key = key
        self._client = client
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._finished = False
        self._committed = False

    async def write(self, data: bytes) -> None:
        """Buffer ``data`` and send every full 8 MiB part."""
        if self._finished:
            raise RuntimeError(f"upload of {self._name!r} is already finished")
        self._buffer += data
        while len(self._buffer) >= PART_BYTES:
            part = bytes(self._buffer[:PART_BYTES])
            del self._buffer[:PART_BYTES]
            await self._send_part(part)

    async def _send_part(self, body: bytes) -> None:
        bucket = self._destination.bucket
        if self._upload_id is None:
            async with self._destination.guard(f"start uploading {self._name!r}"):
                started = await self._client.create_multipart_upload(Bucket=bucket, Key=self._key)
            self._upload_id = str(started["UploadId"])
        number = len(self._parts) + 1
        async with self._destination.guard(f"upload part {number} of {self._name!r}"):
            sent = await self._client.upload_part(
                Bucket=bucket, Key=self._key, UploadId=self._upload_id, PartNumber=number, Body=body
            )
        self._parts.append({"ETag": sent["ETag"], "PartNumber": number})

    async def commit(self) -> None:
        """Complete the multipart upload (or put the small object); on failure nothing is left behind."""
        if self._finished:
            raise RuntimeError(f"upload of {self._name!r} is already finished")
        try:
            await self._publish()
        except BaseException:
            await self.abort()
            raise
        self._finished = self._committed = True

    async def _publish(self) -> None:
        bucket = self._destination.bucket
        if self._upload_id is None:
            async with self._destination.guard(f"upload {self._name!r}"):
                await self._client.put_object(Bucket=bucket, Key=self._key, Body=bytes(self._buffer))
            return
        if self._buffer:
            await self._send_part(bytes(self._buffer))
        async with self._destination.guard(f"complete {self._name!r}"):
            await self._client.complete_multipart_upload(
                Bucket=bucket, Key=self._key, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}
            )

    async def abort(self) -> None:
        """Drop the buffered bytes and abort the multipart upload; failures are logged, never raised."""
        if self._committed:
            return
        self._finished = True
        self._buffer = bytearray()
        upload_id, self._upload_id = self._upload_id, None
        if upload_id is None:
            return
        try:
            async with self._destination.guard(f"abort the upload of {self._name!r}"):
                await self._client.abort_multipart_upload(
                    Bucket=self._destination.bucket, Key=self._key, UploadId=upload_id
                )
        except Exception as exc:  # abort runs while another error is being reported: never mask it
            log.warning("destination.s3.abort_failed", file=self._name, error=str(exc))
