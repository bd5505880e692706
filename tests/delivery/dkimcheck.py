"""DKIM verification with an independent implementation (dkimpy), its DNS answered from a dict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dkim

from clarion.kit import dkim as keys


def record_of(selector: str, domain: str, key: keys.PrivateKey) -> tuple[str, str]:
    """``(name, TXT value)`` as a zone would publish it for ``key``."""
    algorithm: keys.Algorithm = "rsa-sha256" if hasattr(key, "key_size") else "ed25519-sha256"
    record = keys.dns_record(selector, domain, algorithm, keys.public_key_b64(key))
    return record.name, record.value


def verify(message: bytes, records: Mapping[str, str]) -> list[bool]:
    """Whether each DKIM-Signature of ``message`` verifies (dkimpy, DNS from ``records``)."""

    def dnsfunc(name: bytes, timeout: int = 5, **_: Any) -> bytes | None:
        value = records.get(name.decode().rstrip("."))
        return value.encode() if value is not None else None

    head = message.split(b"\r\n\r\n", 1)[0]
    count = sum(1 for line in head.split(b"\r\n") if line.lower().startswith(b"dkim-signature:"))
    results = []
    for index in range(count):
        try:
            results.append(bool(dkim.DKIM(message).verify(idx=index, dnsfunc=dnsfunc)))
        except dkim.ValidationError:  # dkimpy raises for a body hash mismatch instead of answering False
            results.append(False)
    return results
