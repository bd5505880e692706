"""DKIM keys (RFC 6376, RFC 8463): parsing what people paste, the public key's DNS record, key generation.

Shared by the save-time checks of a channel configuration (campaigns), the signer that loads the unsealed
key (delivery) and ``clarion dkim keygen`` (cli), so the three agree on what a key is. Signing itself is in
``delivery/channels/email/dkim.py``.

Accepted private keys: PEM, PKCS#8 (``BEGIN PRIVATE KEY``, either algorithm) or PKCS#1 (``BEGIN RSA PRIVATE
KEY``); for ed25519 also the raw 32-byte seed in base64 (what ``openssl``-free tools and dkimpy's
``dknewkey`` print), or the 64-byte seed + public key of libsodium. Keys are stored as PKCS#8 PEM whatever
form they came in, so the signer reads one format.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

Algorithm = Literal["ed25519-sha256", "rsa-sha256"]
ALGORITHMS: tuple[Algorithm, ...] = ("ed25519-sha256", "rsa-sha256")
PrivateKey = ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey

RSA_MIN_BITS = 1024
"""RFC 8301 §3.2: signers MUST use RSA keys of at least 1024 bits (verifiers refuse shorter ones)."""
RSA_MAX_BITS = 4096
"""RFC 8301 §3.2: verifiers must handle keys up to 4096 bits; a longer one may not verify anywhere."""
RSA_DEFAULT_BITS = 2048
DNS_STRING_MAX = 255
"""The longest character-string of a TXT record (RFC 1035 §3.3); longer values are several strings."""

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DNS_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_KEY_TYPE = {"ed25519-sha256": "ed25519", "rsa-sha256": "rsa"}


class DkimKeyError(ValueError):
    """A key or a name that cannot be used for DKIM; the message says why, for a person."""


@dataclass(frozen=True, slots=True)
class DnsRecord:
    """The TXT record that publishes a public key: ``chunks`` are ≤ 255-byte strings for DNS UIs that need
    them (one string is enough when the value is short, e.g. every ed25519 key)."""

    name: str
    value: str
    chunks: tuple[str, ...]
    type: str = "TXT"


def check_domain(domain: str) -> str:
    """``d=``: a domain of two or more DNS labels, lowercased (``DkimKeyError`` when it is not one)."""
    if len(domain) > 253 or not _DNS_NAME.fullmatch(domain) or "." not in domain:
        raise DkimKeyError(
            f"{domain!r} is not a domain name (two or more labels of letters, digits and inner hyphens, "
            "each at most 63 characters)"
        )
    return domain.lower()


def check_selector(selector: str, domain: str) -> str:
    """``s=``: one or more DNS labels; ``<selector>._domainkey.<domain>`` must stay a valid name."""
    if not _DNS_NAME.fullmatch(selector):
        raise DkimKeyError(
            f"{selector!r} is not a DKIM selector (DNS labels of letters, digits and inner hyphens, "
            "separated by dots)"
        )
    if len(record_name(selector, domain)) > 253:
        raise DkimKeyError(f"{record_name(selector, domain)!r} is longer than the 253 characters of a name")
    return selector.lower()


def record_name(selector: str, domain: str) -> str:
    """Where verifiers look the key up (RFC 6376 §3.6.2.1)."""
    return f"{selector}._domainkey.{domain}"


def load_private_key(text: str, algorithm: Algorithm) -> PrivateKey:
    """The key in ``text`` (PEM or, for ed25519, a base64 seed), checked to suit ``algorithm``."""
    text = text.strip()
    if not text:
        raise DkimKeyError("the private key is empty")
    key = _load_pem(text) if text.startswith("-----BEGIN") else _load_seed(text, algorithm)
    if algorithm == "ed25519-sha256":
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise DkimKeyError(f"this is {_describe(key)}, not an ed25519 key: choose algorithm rsa-sha256")
        return key
    if not isinstance(key, rsa.RSAPrivateKey):
        raise DkimKeyError(f"this is {_describe(key)}, not an RSA key: choose algorithm ed25519-sha256")
    if key.key_size < RSA_MIN_BITS:
        raise DkimKeyError(
            f"the RSA key has {key.key_size} bits; DKIM needs at least {RSA_MIN_BITS} (RFC 8301), "
            f"{RSA_DEFAULT_BITS} is usual"
        )
    if key.key_size > RSA_MAX_BITS:
        raise DkimKeyError(
            f"the RSA key has {key.key_size} bits; verifiers only promise to handle up to {RSA_MAX_BITS} "
            "(RFC 8301)"
        )
    return key


def private_pem(key: PrivateKey) -> str:
    """The key as unencrypted PKCS#8 PEM: the one form Clarion stores (sealed) and prints."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def public_key_b64(key: PrivateKey) -> str:
    """The ``p=`` value: base64 of the raw 32 bytes (ed25519, RFC 8463) or of the SubjectPublicKeyInfo DER
    (rsa, RFC 6376 §3.6.1)."""
    public = key.public_key()
    if isinstance(public, ed25519.Ed25519PublicKey):
        data = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    else:
        data = public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    return base64.b64encode(data).decode("ascii")


def dns_record(selector: str, domain: str, algorithm: Algorithm, public_key: str) -> DnsRecord:
    """The TXT record to publish for a key (``public_key``: the ``p=`` value)."""
    value = f"v=DKIM1; k={_KEY_TYPE[algorithm]}; p={public_key}"
    chunks = tuple(value[i : i + DNS_STRING_MAX] for i in range(0, len(value), DNS_STRING_MAX))
    return DnsRecord(record_name(selector, domain), value, chunks)


def generate(algorithm: Algorithm, bits: int = RSA_DEFAULT_BITS) -> PrivateKey:
    """A new key; ``bits`` is for rsa only (1024 to 4096)."""
    if algorithm == "ed25519-sha256":
        return ed25519.Ed25519PrivateKey.generate()
    if not RSA_MIN_BITS <= bits <= RSA_MAX_BITS:
        raise DkimKeyError(f"RSA keys for DKIM have {RSA_MIN_BITS} to {RSA_MAX_BITS} bits (got {bits})")
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _load_pem(text: str) -> object:
    if "ENCRYPTED" in text.split("\n", 1)[0] or "Proc-Type: 4,ENCRYPTED" in text:
        raise DkimKeyError("the private key is encrypted: give it without a passphrase (it is stored sealed)")
    if "PUBLIC KEY" in text.split("\n", 1)[0]:
        raise DkimKeyError("this is a public key: give the private key (the public one is derived from it)")
    try:
        return serialization.load_pem_private_key(text.encode("ascii", "replace"), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise DkimKeyError(
            "the PEM private key does not parse (expected PKCS#8 'BEGIN PRIVATE KEY' or PKCS#1 "
            f"'BEGIN RSA PRIVATE KEY'): {_first_line(error)}"
        ) from None


def _load_seed(text: str, algorithm: Algorithm) -> PrivateKey:
    if algorithm != "ed25519-sha256":
        raise DkimKeyError("an RSA private key must be PEM ('-----BEGIN PRIVATE KEY-----' …)")
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise DkimKeyError(
            "the private key is neither PEM nor base64 (an ed25519 key may be its 32-byte seed in base64)"
        ) from None
    if len(data) not in (32, 64):
        raise DkimKeyError(
            "a base64 ed25519 key is the 32-byte seed (or 64 bytes: seed + public key), "
            f"not {len(data)} bytes"
        )
    key = ed25519.Ed25519PrivateKey.from_private_bytes(data[:32])
    if len(data) == 64:
        public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        if public != data[32:]:
            raise DkimKeyError("the 64-byte ed25519 key's second half is not the public key of its seed")
    return key


def _describe(key: object) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return f"an RSA key ({key.key_size} bits)"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "an ed25519 key"
    return f"a {type(key).__name__.removeprefix('_').replace('PrivateKey', '')} key"


def _first_line(error: Exception) -> str:
    return str(error).partition("\n")[0] or type(error).__name__
