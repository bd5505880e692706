"""The signed tokens a sent message carries, and what each one proves when it comes back.

- **VERP bounce address** (``b-<token>@<bounceDomain>``): the envelope sender of each message, so a bounce
  or complaint delivered to it names its message (RFC 3464 reports often lose the original headers);
- **unsubscribe** (``<base>/u/<token>``, RFC 8058): the message whose recipient asks to leave;
- **open** and **click** (``<base>/t/o/<token>``, ``<base>/t/c/<token>``): the message, and for a click the
  original URL itself (signed, so the redirect goes only where the message's link went: never an open
  redirect, and no database read to find the URL).

Every token embeds the ledger id of its message (``<execution uuid>:<index>``), packed into 17 to 21 bytes,
and a MAC (``kit/signing.py``) under a key per purpose. Nothing else is in it: the message row says who, which
organization and sandbox, and which campaign.
"""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import NamedTuple

from clarion.kit.secretbox import SecretBox

VERP_PREFIX = "b-"
_PACKED_UUID = b"\x01"
_PACKED_TEXT = b"\x02"


@lru_cache(maxsize=1024)
def pack_message_id(message_id: str) -> bytes:
    """A message id in few bytes: the execution's UUID and the index as a varint (any other id as text).

    Cached: one message's tokens (unsubscribe, pixel, each tracked link) pack the same id several times in
    a row, and parsing the UUID is most of the cost of signing one."""
    execution, _, index = message_id.rpartition(":")
    if index.isdigit() and len(index) <= 10:
        try:
            execution_uuid = uuid.UUID(execution)
        except ValueError:
            pass
        else:
            if str(execution_uuid) == execution:  # the canonical form only: the text must come back equal
                return _PACKED_UUID + execution_uuid.bytes + _varint(int(index))
    return _PACKED_TEXT + message_id.encode()


def unpack_message_id(packed: bytes) -> str | None:
    """The message id of ``pack_message_id``'s bytes; ``None`` when they are not such bytes."""
    kind, body = packed[:1], packed[1:]
    if kind == _PACKED_TEXT:
        try:
            return body.decode()
        except UnicodeDecodeError:
            return None
    if kind == _PACKED_UUID and len(body) >= 17:
        index = _read_varint(body[16:])
        return None if index is None else f"{uuid.UUID(bytes=body[:16])}:{index}"
    return None


class Click(NamedTuple):
    """A verified click token: the message and the URL its link pointed to."""

    message_id: str
    url: str


class MessageTokens:
    """Makes and reads the tokens of sent messages under the instance's secret key."""

    __slots__ = ("_click", "_open", "_unsubscribe", "_verp")

    def __init__(self, secrets: SecretBox) -> None:
        self._verp = secrets.signer("verp")
        self._unsubscribe = secrets.signer("unsubscribe")
        self._open = secrets.signer("open")
        self._click = secrets.signer("click")

    def bounce_address(self, message_id: str, bounce_domain: str) -> str:
        """The envelope sender of a message: ``b-<token>@<bounce_domain>`` (lowercase, ≤ 64-char local part
        for every id Clarion makes)."""
        return f"{VERP_PREFIX}{self._verp.sign_lower(pack_message_id(message_id))}@{bounce_domain}"

    def read_bounce_address(self, address: str) -> str | None:
        """The message id of a bounce address; ``None`` for a forged, mangled or foreign one."""
        local = address.strip().strip("<>").rpartition("@")[0]
        if local[: len(VERP_PREFIX)].lower() != VERP_PREFIX:
            return None
        packed = self._verp.verify_lower(local[len(VERP_PREFIX) :])
        return None if packed is None else unpack_message_id(packed)

    def unsubscribe(self, message_id: str) -> str:
        """The token of a message's one-click unsubscribe link."""
        return self._unsubscribe.sign(pack_message_id(message_id))

    def read_unsubscribe(self, token: str) -> str | None:
        """The message id of an unsubscribe token, or ``None``."""
        packed = self._unsubscribe.verify(token)
        return None if packed is None else unpack_message_id(packed)

    def open(self, message_id: str) -> str:
        """The token of a message's open pixel."""
        return self._open.sign(pack_message_id(message_id))

    def read_open(self, token: str) -> str | None:
        """The message id of an open token, or ``None``."""
        packed = self._open.verify(token)
        return None if packed is None else unpack_message_id(packed)

    def click(self, message_id: str, url: str) -> str:
        """The token of one tracked link of a message: its id and the URL to redirect to."""
        packed = pack_message_id(message_id)
        return self._click.sign(bytes([len(packed)]) + packed + url.encode())

    def read_click(self, token: str) -> Click | None:
        """The message and URL of a click token, or ``None``."""
        payload = self._click.verify(token)
        if not payload:
            return None
        end = 1 + payload[0]
        message_id = unpack_message_id(payload[1:end])
        if message_id is None:
            return None
        try:
            return Click(message_id, payload[end:].decode())
        except UnicodeDecodeError:
            return None


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte, number = number & 0x7F, number >> 7
        if number:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes) -> int | None:
    number = shift = 0
    for position, byte in enumerate(data):
        number |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return number if position == len(data) - 1 else None
        shift += 7
        if shift > 63:
            return None
    return None
