"""Identifiers and secrets."""

from __future__ import annotations

import hashlib
import secrets
import uuid


def new_id() -> str:
    """A random UUID4 string, the id of every stored entity."""
    return str(uuid.uuid4())


def new_secret(nbytes: int = 32) -> str:
    """A URL-safe random secret with ``nbytes`` of entropy (tokens, API keys)."""
    return secrets.token_urlsafe(nbytes)


def hash_secret(secret: str) -> str:
    """SHA-256 hex digest of a high-entropy secret.

    Tokens are 256-bit random values, so a fast hash is safe (no dictionary to attack) and lets the
    gateway find a token by its hash in one indexed lookup; slow password hashes are for low-entropy input.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def new_ims_org_id() -> str:
    """An organization id in the ``<24 hex>@AdobeOrg`` form clients expect."""
    return secrets.token_hex(12).upper() + "@AdobeOrg"
