"""Signed tokens for what is reachable without credentials (bounce addresses, unsubscribe and tracking links).

A token is ``payload || MAC`` in one compact text: the MAC is the first 12 bytes (96 bits) of an
HMAC-SHA256 under a key derived from the instance's secret key and the token's *purpose*, so a token of one
use (an unsubscribe link) is worthless for another (a click redirect). Tokens are not encrypted: the payload
is an id or a URL the recipient already has; what matters is that nobody can make or alter one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

MAC_BYTES = 12


class Signer:
    """Signs and verifies the tokens of one purpose."""

    __slots__ = ("_key",)

    def __init__(self, secret: bytes, purpose: str) -> None:
        self._key = hmac.new(secret, f"clarion/token/{purpose}".encode(), hashlib.sha256).digest()

    def _mac(self, payload: bytes) -> bytes:
        # hmac.digest: one call into OpenSSL (a third of hmac.new(...).digest(); tokens are signed several
        # times per tracked message and verified per pixel or click).
        return hmac.digest(self._key, payload, "sha256")[:MAC_BYTES]

    def sign(self, payload: bytes) -> str:
        """URL-safe base64 (no padding) of the payload and its MAC: for paths and links."""
        return base64.urlsafe_b64encode(payload + self._mac(payload)).rstrip(b"=").decode("ascii")

    def verify(self, token: str) -> bytes | None:
        """The payload of a token made by ``sign``; ``None`` for anything forged, altered or malformed."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            return None
        return self._checked(raw)

    def sign_lower(self, payload: bytes) -> str:
        """Lowercase base32 (no padding): for the local part of an address, which relays may case-fold."""
        return base64.b32encode(payload + self._mac(payload)).rstrip(b"=").decode("ascii").lower()

    def verify_lower(self, token: str) -> bytes | None:
        """The payload of a ``sign_lower`` token (any letter case); ``None`` when it does not verify."""
        try:
            raw = base64.b32decode(token.upper() + "=" * (-len(token) % 8))
        except (binascii.Error, ValueError):
            return None
        return self._checked(raw)

    def _checked(self, raw: bytes) -> bytes | None:
        if len(raw) <= MAC_BYTES:
            return None
        payload, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
        return payload if hmac.compare_digest(mac, self._mac(payload)) else None
