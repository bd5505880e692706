"""Local-folder destination: files land under the server's landing zone, published by ``os.replace``.

Writes run in a worker thread so a slow disk never blocks the event loop; small chunks are batched so the
thread hop is paid per ~1 MiB, not per chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import BinaryIO, TypeVar

import structlog

from clarion.activation.export.destinations.base import Upload, clean_folder, clean_name, temporary_name
from clarion.activation.export.errors import DestinationError

_BATCH_BYTES = 1 << 20
_T = TypeVar("_T")
log = structlog.get_logger(__name__)


def local_folder(root: Path, folder: str) -> LocalFolder:
    """A destination writing under ``root / folder``; refuses folders that escape ``root``."""
    relative = clean_folder(folder)
    if relative.is_absolute():
        raise DestinationError("config", f"folder {folder!r} must be relative to the landing zone")
    return LocalFolder(root, relative)


async def _on_disk(what: str, action: Callable[[], _T]) -> _T:
    """Run a blocking file operation in a thread; an ``OSError`` becomes a disk error naming ``what``."""
    try:
        return await asyncio.to_thread(action)
    except DestinationError:
        raise
    except OSError as exc:
        raise _disk_error(what, exc) from exc


def _disk_error(what: str, exc: OSError) -> DestinationError:
    """Describe a failed file operation without the absolute path of the landing zone."""
    reason = exc.strerror or errno.errorcode.get(exc.errno or 0, type(exc).__name__)
    return DestinationError("disk", f"cannot {what}: {reason}")


class LocalFolder:
    """A folder inside the landing zone; every path is re-checked to stay inside it (symlinks included)."""

    def __init__(self, root: Path, folder: PurePosixPath) -> None:
        self._root = root.resolve()
        self._folder = self._inside(self._root / folder, str(folder))

    def _inside(self, path: Path, shown: str) -> Path:
        """Resolve ``path`` and refuse it unless it stays under the root."""
        resolved = path.resolve()
        if not resolved.is_relative_to(self._root):
            raise DestinationError("config", f"path {shown!r} escapes the landing zone")
        return resolved

    async def verify(self) -> None:
        """Create the folder if needed and prove a file can be created in it."""
        await _on_disk("write to the destination folder", self._probe)

    def _probe(self) -> None:
        self._folder.mkdir(parents=True, exist_ok=True)
        probe = self._folder / temporary_name(PurePosixPath(".clarion-verify")).name
        with probe.open("xb"):
            pass
        probe.unlink()

    async def open(self, name: str) -> Upload:
        """Create ``.<name>.<random>.part`` beside the final file (one directory: the rename is atomic)."""
        relative = clean_name(name)
        final = self._folder / relative
        temp = final.parent / temporary_name(relative).name

        def create() -> BinaryIO:
            # Checked before mkdir (an existing symlinked sub-folder) and after (one swapped in meanwhile);
            # the final name itself may be a symlink: os.replace swaps the link, never writes through it.
            self._inside(final.parent, name).mkdir(parents=True, exist_ok=True)
            self._inside(final.parent, name)
            return temp.open("xb")

        file = await _on_disk(f"create {name!r}", create)
        return LocalUpload(name, final, temp, file)

    async def close(self) -> None:
        """Nothing to release: local files hold no connection."""


class LocalUpload:
    """A temporary file written in batches off the event loop, fsynced and renamed on commit."""

    def __init__(self, name: str, final: Path, temp: Path, file: BinaryIO) -> None:
        self._name = name
        self._final = final
        self._temp = temp
        self._file = file
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._finished = False
        self._committed = False

    async def write(self, data: bytes) -> None:
        """Queue ``data``; hand the queue to a thread once it holds ~1 MiB."""
        if self._finished:
            raise RuntimeError(f"upload of {self._name!r} is already finished")
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._pending_bytes >= _BATCH_BYTES:
            await self._flush()

    async def _flush(self) -> None:
        chunks, self._pending, self._pending_bytes = self._pending, [], 0
        if chunks:
            await _on_disk(f"write {self._name!r}", lambda: self._file.writelines(chunks))

    async def commit(self) -> None:
        """Flush, fsync and ``os.replace`` onto the final name; on failure nothing is left behind."""
        if self._finished:
            raise RuntimeError(f"upload of {self._name!r} is already finished")
        try:
            await self._flush()
            await _on_disk(f"publish {self._name!r}", self._publish)
        except BaseException:
            await self.abort()
            raise
        self._finished = self._committed = True

    def _publish(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._temp, self._final)
        _fsync_directory(self._final.parent)

    async def abort(self) -> None:
        """Close and delete the temporary file; errors are logged, never raised."""
        if self._committed:
            return
        self._finished = True
        self._pending = []
        try:
            await asyncio.to_thread(self._discard)
        except Exception as exc:  # abort must never raise: it runs while another error is reported
            log.warning("destination.local.abort_failed", file=self._name, error=str(exc))

    def _discard(self) -> None:
        self._file.close()
        self._temp.unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    """Persist the rename itself (the directory entry), not only the file's bytes."""
    descriptor = os.open(directory, os.O_RDONLY)
    with contextlib.ExitStack() as stack:
        stack.callback(os.close, descriptor)
        os.fsync(descriptor)
