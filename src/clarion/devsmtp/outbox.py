"""The capture outbox: every message the bundled SMTP server accepted, as ``.eml`` files plus a JSONL index.

Layout of ``folder``::

    <id>.eml           the message exactly as received (CRLF, after SMTP dot-unstuffing)
    index.jsonl        one JSON object per message, in arrival order (id, received_at, mail_from, rcpt_tos,
                       subject, size, file_name, message_id: the Message-ID header, "" when absent)
    .lock              flock(2) target: serializes writers, also across processes (``serve`` vs the CLI)
    .incoming-*.tmp    a message being written; renamed to ``<id>.eml`` once complete

A message becomes visible only when its index line is appended, and the rename and the append happen under
the same lock that ``clear()`` takes, so a concurrent ``clear()`` never leaves a listed message without its
file. Readers need no lock: each ``Outbox`` keeps the parsed index in memory and reads only the bytes
appended since its last look (it notices a cleared or replaced index and starts over). The methods do
blocking file I/O; async callers run them in a thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage, MIMEPart
from email.parser import BytesHeaderParser, BytesParser
from pathlib import Path
from typing import Any

import structlog

from clarion.errors import NotFound
from clarion.kit.clock import iso_micro, utcnow
from clarion.kit.ids import new_id

INDEX_NAME = "index.jsonl"
LOCK_NAME = ".lock"
EML_SUFFIX = ".eml"
_TMP_PREFIX = ".incoming-"
_TMP_SUFFIX = ".tmp"

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class CapturedMail:
    """One captured message's envelope and listing metadata; the message itself stays in ``file_name``."""

    id: str
    received_at: datetime
    mail_from: str
    rcpt_tos: tuple[str, ...]
    subject: str
    size: int
    file_name: str
    message_id: str = ""
    """The ``Message-ID`` header as received (whose mail it is: ``delivery/attribution.py``)."""

    def to_json(self) -> dict[str, Any]:
        """The index line's object (``received_at`` as ISO-8601 UTC with ``Z``)."""
        return {
            "id": self.id,
            "received_at": iso_micro(self.received_at),
            "mail_from": self.mail_from,
            "rcpt_tos": list(self.rcpt_tos),
            "subject": self.subject,
            "size": self.size,
            "file_name": self.file_name,
            "message_id": self.message_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CapturedMail:
        """Rebuild from an index line's object; ``KeyError``, ``TypeError`` or ``ValueError`` if malformed."""
        rcpt_tos = data["rcpt_tos"]
        if not isinstance(rcpt_tos, builtins.list):
            raise TypeError("rcpt_tos must be a list")
        return cls(
            id=str(data["id"]),
            received_at=datetime.fromisoformat(data["received_at"]),
            mail_from=str(data["mail_from"]),
            rcpt_tos=tuple(str(rcpt) for rcpt in rcpt_tos),
            subject=str(data["subject"]),
            size=int(data["size"]),
            file_name=str(data["file_name"]),
            message_id=str(data.get("message_id", "")),  # absent from lines written before it existed
        )


@dataclass(frozen=True, slots=True)
class MailBodies:
    """The displayable bodies of a message: its preferred ``text/plain`` and ``text/html`` parts, if any."""

    text: str | None
    html: str | None


def bodies_of(message: EmailMessage) -> MailBodies:
    """The text and HTML bodies of a parsed message (attachments are skipped)."""
    return MailBodies(
        text=_part_text(message.get_body(preferencelist=("plain",))),
        html=_part_text(message.get_body(preferencelist=("html",))),
    )


def subject_of(data: bytes) -> str:
    """The decoded (RFC 2047, unfolded) ``Subject`` of a raw message; ``""`` if absent or unreadable."""
    return _headers_of(data)[0]


def _headers_of(data: bytes) -> tuple[str, str]:
    """``(Subject, Message-ID)`` of a raw message, each ``""`` if absent or unreadable."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        end = data.find(b"\n\n")
    head = data if end < 0 else data[: end + 2]  # parse the header block only, not a 30 MB body
    try:
        headers = BytesHeaderParser(policy=policy.default).parsebytes(head)
        subject, message_id = headers.get("subject"), headers.get("message-id")
    except Exception:  # metadata is best effort: a hostile header must never make a capture fail
        return "", ""
    return ("" if subject is None else _clean(str(subject))), (
        "" if message_id is None else _clean(str(message_id)).strip()
    )


class Outbox:
    """Captured mail under ``folder``: store, list newest first, read back, clear."""

    def __init__(self, folder: Path, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._folder = Path(folder)
        self._index_path = self._folder / INDEX_NAME
        self._clock = clock
        self._mutex = threading.Lock()  # guards _cache; file changes are serialized by the folder lock
        self._cache = _IndexCache()

    @property
    def folder(self) -> Path:
        """The folder holding the ``.eml`` files and the index."""
        return self._folder

    def store(self, mail_from: str, rcpt_tos: Sequence[str], data: bytes) -> CapturedMail:
        """File one accepted message: its bytes in ``<id>.eml`` (temp file + rename), then its index line."""
        self._folder.mkdir(parents=True, exist_ok=True)
        mail_id = new_id()
        subject, message_id = _headers_of(data)
        mail = CapturedMail(
            id=mail_id,
            received_at=self._clock(),
            mail_from=_clean(mail_from),
            rcpt_tos=tuple(_clean(rcpt) for rcpt in rcpt_tos),
            subject=subject,
            size=len(data),
            file_name=mail_id + EML_SUFFIX,
            message_id=message_id,
        )
        final_path = self._folder / mail.file_name
        fd, tmp_name = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=_TMP_SUFFIX, dir=self._folder)
        try:
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(data)
            with self._folder_lock():
                os.replace(tmp_name, final_path)
                self._append_index_line(mail)
        except BaseException:
            for leftover in (tmp_name, final_path):  # never leave an unlisted message behind
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(leftover)
            raise
        return mail

    def list(
        self,
        *,
        limit: int = 50,
        offset: int = 0,
        recipient: str | None = None,
        keep: Callable[[CapturedMail], bool] | None = None,
    ) -> builtins.list[CapturedMail]:
        """Captured messages, newest first; ``recipient`` keeps those sent to that address (any case),
        ``keep`` those it returns True for (whose mail a reader may see)."""
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        wanted = None if recipient is None else recipient.casefold()
        page: builtins.list[CapturedMail] = []
        skipped = 0
        with self._mutex:
            self._refresh_locked()
            for mail in reversed(self._cache.entries):
                if len(page) >= limit:
                    break
                if keep is not None and not keep(mail):
                    continue
                if wanted is not None and wanted not in {rcpt.casefold() for rcpt in mail.rcpt_tos}:
                    continue
                if skipped < offset:
                    skipped += 1
                    continue
                page.append(mail)
        return page

    def count(
        self, *, recipient: str | None = None, keep: Callable[[CapturedMail], bool] | None = None
    ) -> int:
        """How many messages ``list`` would page through with the same filters."""
        wanted = None if recipient is None else recipient.casefold()
        with self._mutex:
            self._refresh_locked()
            if wanted is None and keep is None:
                return len(self._cache.entries)
            return sum(
                1
                for mail in self._cache.entries
                if (keep is None or keep(mail))
                and (wanted is None or wanted in {rcpt.casefold() for rcpt in mail.rcpt_tos})
            )

    def get(self, id: str) -> CapturedMail | None:
        """The captured message with this id, or ``None``."""
        with self._mutex:
            self._refresh_locked()
            return self._cache.by_id.get(id)

    def raw(self, id: str) -> bytes:
        """The message's bytes exactly as received; ``NotFound`` if unknown or its file is gone."""
        mail = self.get(id)
        # file_name comes from our own index, but never let it point outside the folder.
        if mail is None or Path(mail.file_name).name != mail.file_name:
            raise NotFound(f"No captured message with id '{id}'.")
        try:
            return (self._folder / mail.file_name).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"The captured message '{id}' was removed.") from None

    def parse(self, id: str) -> EmailMessage:
        """The message parsed with ``email.policy.default``; ``NotFound`` if unknown."""
        return BytesParser(policy=policy.default).parsebytes(self.raw(id))

    def bodies(self, id: str) -> MailBodies:
        """The message's text and HTML bodies for display; ``NotFound`` if unknown."""
        return bodies_of(self.parse(id))

    def clear(self) -> int:
        """Delete every captured message (and the index); returns how many ``.eml`` files were removed."""
        removed = 0
        if self._folder.is_dir():
            with self._folder_lock():
                with contextlib.suppress(FileNotFoundError):
                    self._index_path.unlink()
                for path in self._folder.glob("*" + EML_SUFFIX):
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                        removed += 1
        with self._mutex:
            self._cache = _IndexCache()
        return removed

    @contextlib.contextmanager
    def _folder_lock(self) -> Iterator[None]:
        """Exclusive flock on ``folder/.lock``; also excludes other threads (each open is its own lock)."""
        with open(self._folder / LOCK_NAME, "ab") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _append_index_line(self, mail: CapturedMail) -> None:
        """Append one line; first terminates a torn line a crash may have left, so it cannot swallow ours."""
        line = json.dumps(mail.to_json(), separators=(",", ":")).encode("ascii") + b"\n"
        with open(self._index_path, "a+b") as index:
            size = index.seek(0, os.SEEK_END)
            if size:
                index.seek(size - 1)
                if index.read(1) != b"\n":
                    line = b"\n" + line
            index.write(line)

    def _refresh_locked(self) -> None:
        """Bring the cache up to date with the index file, reading only what was appended (holds _mutex)."""
        cache = self._cache
        try:
            index = open(self._index_path, "rb")  # noqa: SIM115 - closed below, after fstat
        except FileNotFoundError:
            self._cache = _IndexCache()
            return
        with index:
            size = os.fstat(index.fileno()).st_size
            if cache.offset and (
                size < cache.offset or index.read(len(cache.first_line)) != cache.first_line
            ):
                # Cleared and rewritten (maybe under the same inode number): every line holds a fresh
                # UUID, so an unchanged first line means the same file.
                cache = self._cache = _IndexCache()
            if size == cache.offset:
                return
            index.seek(cache.offset)
            chunk = index.read(size - cache.offset)
        end = chunk.rfind(b"\n")
        if end < 0:
            return  # only part of a line so far: a writer is mid-append
        if not cache.offset:
            cache.first_line = chunk[: chunk.find(b"\n") + 1]
        position = cache.offset
        for line in chunk[: end + 1].splitlines(keepends=True):
            mail = _decode_line(line)
            if mail is None:
                log.warning("devsmtp.index_line_skipped", index=str(self._index_path), offset=position)
            else:
                cache.entries.append(mail)
                cache.by_id[mail.id] = mail
            position += len(line)
        cache.offset += end + 1


@dataclass
class _IndexCache:
    """What one ``Outbox`` has read of the index: parsed entries up to ``offset``."""

    offset: int = 0
    first_line: bytes = b""
    entries: list[CapturedMail] = field(default_factory=list)
    by_id: dict[str, CapturedMail] = field(default_factory=dict)


def _decode_line(line: bytes) -> CapturedMail | None:
    """An index line's message, or ``None`` for a blank or torn line."""
    if not line.strip():
        return None
    try:
        data = json.loads(line)
        return CapturedMail.from_json(data) if isinstance(data, dict) else None
    except (ValueError, KeyError, TypeError):
        return None


def _part_text(part: MIMEPart | None) -> str | None:
    """A text part's decoded content; undecodable charsets fall back to UTF-8 with replacement."""
    if part is None:
        return None
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # unknown charset, broken transfer encoding
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else None
    return content if isinstance(content, str) else None


def _clean(text: str) -> str:
    """Text safe to show and to encode as JSON: escaped raw bytes (surrogates) read as UTF-8, else U+FFFD."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a surrogate that is not an escaped byte
        return text.encode("utf-8", "replace").decode("utf-8")
