"""Adobe base + target connection parameters → a destination.

Adobe puts SFTP ``domain``, ``port``, ``username``, ``password`` and ``sshKey``, and S3 ``s3AccessKey``
and ``s3SecretKey`` in the base connection's ``auth.params``; ``remotePath`` (SFTP) or ``bucketName`` and
``path`` (S3) in the target connection's ``params``. Each name is looked up in ``auth`` first, then in
``params``, so a caller may merge non-secret base params into ``params``. Clarion's own extensions:
``hostKeyFingerprint`` (SFTP), ``endpointUrl`` and ``region`` (S3), ``path`` (or ``remotePath``) of a
local folder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from clarion.activation.export.destinations.base import Destination
from clarion.activation.export.destinations.local import local_folder
from clarion.activation.export.destinations.s3 import is_endpoint_url, s3
from clarion.activation.export.destinations.sftp import is_fingerprint, read_private_key, sftp
from clarion.activation.export.errors import DestinationError

# Adobe's bucketName pattern (destinations.yaml, AmazonS3TargetConnectionRequest).
_BUCKET_NAME = re.compile(
    r"(?=^.{3,63}$)(?!^(\d+\.)+\d+$)(^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])$)"
)
_SFTP_DEFAULT_PORT = 22


class _Params:
    """Typed reads of connection params; every complaint names the Adobe parameter."""

    def __init__(self, auth: Mapping[str, Any], params: Mapping[str, Any]) -> None:
        # Accept a whole ``auth`` object ({"specName", "params"}) as well as its ``params``.
        inner = auth.get("params")
        self._sources = (inner if isinstance(inner, Mapping) else auth, params)

    def _raw(self, *names: str) -> tuple[str, Any]:
        for name in names:
            for source in self._sources:
                if source.get(name) is not None:
                    return name, source[name]
        return names[0], None

    def text(self, *names: str, required: bool = True) -> str | None:
        """The first of ``names`` present, as a non-empty string (or None when optional and absent)."""
        name, value = self._raw(*names)
        if value is None:
            if required:
                raise DestinationError("config", f"missing connection parameter {name!r}")
            return None
        if not isinstance(value, str) or not value.strip():
            raise DestinationError("config", f"connection parameter {name!r} must be a non-empty string")
        return value

    def required(self, *names: str) -> str:
        """Like ``text`` but never None."""
        value = self.text(*names)
        assert value is not None
        return value

    def folder(self, *names: str, required: bool = True) -> str:
        """A folder or prefix; may be the empty string (the root), absent only when optional."""
        name, value = self._raw(*names)
        if value is None and not required:
            return ""
        if value is None:
            raise DestinationError("config", f"missing connection parameter {name!r}")
        if not isinstance(value, str):
            raise DestinationError("config", f"connection parameter {name!r} must be a string")
        return value

    def port(self, name: str, default: int) -> int:
        """A TCP port given as an integer or a numeric string."""
        _, value = self._raw(name)
        if value is None:
            return default
        if isinstance(value, bool) or not str(value).isdigit() or not 0 < int(value) < 65536:
            raise DestinationError("config", f"connection parameter {name!r} must be a port number (1-65535)")
        return int(value)


def from_connection(
    kind: Literal["local", "sftp", "s3"],
    *,
    auth: dict[str, Any],
    params: dict[str, Any],
    landing_zone: Path,
    timeout: float,
) -> Destination:
    """The destination described by a base connection's ``auth`` and a target connection's ``params``."""
    values = _Params(auth, params)
    if kind == "local":
        # Optional: like Adobe's Data Landing Zone, a local destination may be the landing zone itself.
        return local_folder(landing_zone, values.folder("path", "remotePath", required=False))
    if kind == "sftp":
        return _sftp_from(values, timeout)
    if kind == "s3":
        return _s3_from(values, timeout)
    raise DestinationError("config", f"unknown destination kind {kind!r}")


def _sftp_from(values: _Params, timeout: float) -> Destination:
    password = values.text("password", required=False)
    ssh_key = values.text("sshKey", required=False)
    if password is None and ssh_key is None:
        raise DestinationError("config", "missing connection parameter 'password' or 'sshKey'")
    if ssh_key is not None:
        try:
            read_private_key(ssh_key)
        except DestinationError as exc:
            raise DestinationError("config", f"connection parameter 'sshKey': {exc.reason}") from None
    fingerprint = values.text("hostKeyFingerprint", required=False)
    if fingerprint is not None and not is_fingerprint(fingerprint):
        raise DestinationError("config", "connection parameter 'hostKeyFingerprint' must be 'SHA256:…'")
    return sftp(
        host=values.required("domain", "host"),
        port=values.port("port", _SFTP_DEFAULT_PORT),
        username=values.required("username"),
        password=password,
        private_key=ssh_key,
        folder=values.folder("remotePath", "path"),
        host_key_fingerprint=fingerprint,
        timeout=timeout,
    )


def _s3_from(values: _Params, timeout: float) -> Destination:
    bucket = values.required("bucketName")
    if not _BUCKET_NAME.match(bucket):
        raise DestinationError("config", f"parameter 'bucketName' is not a bucket name: {bucket!r}")
    endpoint_url = values.text("endpointUrl", required=False)
    if endpoint_url is not None and not is_endpoint_url(endpoint_url):
        raise DestinationError("config", "connection parameter 'endpointUrl' must be an http(s) URL")
    return s3(
        bucket=bucket,
        prefix=values.folder("path"),
        access_key=values.required("s3AccessKey"),
        secret_key=values.required("s3SecretKey"),
        region=values.text("region", required=False),
        endpoint_url=endpoint_url,
        timeout=timeout,
    )
