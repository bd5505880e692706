"""The two ports every destination implements, and the naming rules they share."""

from __future__ import annotations

import secrets
from pathlib import PurePosixPath
from typing import Protocol

from clarion.activation.export.errors import DestinationError


class Upload(Protocol):
    """One file being written: invisible under its final name until ``commit``."""

    async def write(self, data: bytes) -> None:
        """Append bytes (chunks of ~64 KB to 8 MB)."""
        ...

    async def commit(self) -> None:
        """Publish the file atomically under its final name, replacing an existing file."""
        ...

    async def abort(self) -> None:
        """Remove every trace of the upload (temporary file, multipart upload); never raises."""
        ...


class Destination(Protocol):
    """A folder (local, SFTP) or bucket prefix (S3) that receives exported files."""

    async def verify(self) -> None:
        """Connect, authenticate and check the folder or bucket is writable."""
        ...

    async def open(self, name: str) -> Upload:
        """Start an upload of ``name`` (relative to the destination folder; sub-folders allowed)."""
        ...

    async def close(self) -> None:
        """Release the connection; the destination is not used afterwards."""
        ...


def clean_name(name: str) -> PurePosixPath:
    """Return ``name`` as a relative POSIX path, or raise a config error if it could leave its folder."""
    if not name or "\x00" in name or "\\" in name:
        raise DestinationError("config", f"invalid file name {name!r}")
    path = PurePosixPath(name)
    if path.is_absolute() or any(part in ("", ".", "..") for part in name.split("/")):
        raise DestinationError("config", f"file name {name!r} must be relative, without '.' or '..' parts")
    return path


def clean_folder(folder: str) -> PurePosixPath:
    """Return a destination folder as a POSIX path ('.' is the root; absolute kept); config error on '..'."""
    if "\x00" in folder or "\\" in folder:
        raise DestinationError("config", f"invalid folder {folder!r}")
    parts = [part for part in folder.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise DestinationError("config", f"folder {folder!r} must not contain '..'")
    return PurePosixPath("/" if folder.startswith("/") else ".", *parts)


# File systems cap a name at 255 bytes and so does Adobe's file name template: the temporary name
# (".", ".<12 hex>.part") must fit in the same limit, so it keeps only the start of a long final name.
_NAME_MAX_BYTES = 255
_TEMPORARY_AFFIX_BYTES = len(".") + len(".0123456789ab.part")


def temporary_name(final: PurePosixPath) -> PurePosixPath:
    """The hidden sibling a file is written under before it is renamed: ``.<name>.<random>.part``."""
    kept = final.name.encode()[: _NAME_MAX_BYTES - _TEMPORARY_AFFIX_BYTES].decode(errors="ignore")
    return final.with_name(f".{kept}.{secrets.token_hex(6)}.part")
