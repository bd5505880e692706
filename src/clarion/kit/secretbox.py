"""Encryption of secrets Clarion must use later in clear (SMTP relay and provider passwords).

Our own API credentials are hashed (they are only ever compared); third-party credentials cannot be,
so they are encrypted with a key kept outside the database (``CLARION_SECRET_KEY`` or, embedded,
``$CLARION_HOME/secret.key``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from clarion.kit.signing import Signer


class SecretBox:
    """Authenticated symmetric encryption (Fernet: AES-128-CBC + HMAC-SHA256)."""

    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())
        self._key = key.encode()

    def tag(self, purpose: str, value: str, *, length: int = 20) -> str:
        """An opaque, unforgeable label of ``value`` (lowercase base32 of an HMAC-SHA256, ``length`` chars).

        The same key, purpose and value always give the same tag; without the key nobody can make one, nor
        tell the value from it. ``purpose`` keeps the tags of different uses apart.
        """
        digest = hmac.new(self._key, f"{purpose}\0{value}".encode(), hashlib.sha256).digest()
        return base64.b32encode(digest).decode("ascii").lower()[:length]

    def signer(self, purpose: str) -> Signer:
        """Signs and verifies the tokens of ``purpose`` under this instance's key (``kit/signing.py``)."""
        return Signer(self._key, purpose)

    def seal(self, secret: str) -> str:
        """Encrypt ``secret`` for storage."""
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        """Decrypt a value produced by ``seal``; raises ``ValueError`` if it was tampered with."""
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as error:
            raise ValueError("a stored secret does not decrypt with CLARION_SECRET_KEY") from error


def new_key() -> str:
    """A fresh key for ``CLARION_SECRET_KEY``."""
    return Fernet.generate_key().decode()


def load_or_create_key(path: Path) -> str:
    """The key stored at ``path``, created (mode 0600) on first use."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = new_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key
