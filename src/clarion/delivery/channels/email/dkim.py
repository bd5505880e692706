"""DKIM signing (RFC 6376) with ``rsa-sha256`` and ``ed25519-sha256`` (RFC 8463), relaxed/relaxed.

Our own signer on ``cryptography``: dkimpy, pure Python, spends most of a message's budget canonicalizing;
here the work per message is the body hash, the canonical form of the headers that vary (To, Subject, Date,
Message-ID, Content-Type's boundary …) and the signature. What a campaign version shares is done once:
the key objects, each key's fixed tags, and the canonical form of the skeleton's constant header block
(``DkimSigner.for_head``). Two keys give two signatures over the same body hash (both algorithms hash
with SHA-256 and canonicalize alike).

The signature header is prepended to the bytes ``MessageSkeleton.render`` wrote, which end every line with
CRLF and write each header once; the parser below relies on CRLF line ends (bare LF is not SMTP).
"""

from __future__ import annotations

import re
import time
from binascii import b2a_base64
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from hashlib import sha256

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from clarion.kit.dkim import Algorithm, PrivateKey, load_private_key

DEFAULT_HEADERS: tuple[str, ...] = (
    "from", "to", "subject", "date", "message-id", "mime-version", "content-type", "list-unsubscribe",
    "list-unsubscribe-post",
)  # fmt: skip
"""Signed when present (the issue's list): what a reader sees and what one-click unsubscribe acts on."""
OVERSIGNED = frozenset({"from", "sender", "reply-to", "to", "cc", "subject", "date", "message-id"})
"""Headers RFC 5322 §3.6 allows once: each signed one is named once more in ``h=`` than it occurs, so a
second one added in transit (a forged From shown above ours) breaks the signature (RFC 6376 §8.15)."""

_WSP_RUN = re.compile(rb"[ \t]+")
_WSP_NOT_SINGLE = re.compile(rb"[ \t]{2,}|\t")  # runs a single space does not already stand for
_SPACE_RUNS = re.compile(rb"  +")  # the same without tabs: a literal prefix the engine searches fast
_FIELD_SPLIT = re.compile(rb"\r\n(?![ \t])")
_OVERSIGNED = frozenset(name.encode("ascii") for name in OVERSIGNED)
_FOLD_AT = 78
_SEEN_MAX = 512
"""Raw header fields whose canonical form a signer remembers: the ones that repeat from message to message
(List-Unsubscribe, the Date of this second, a personalized sender's From) are canonicalized once."""
_B64_LINE = 76  # b= is folded at this many characters (whitespace inside b= is ignored by verifiers)


@dataclass(frozen=True, slots=True)
class DkimKey:
    """One signing identity: the loaded key, its ``d=``/``s=``, and the header names it signs (lowercase)."""

    domain: str
    selector: str
    algorithm: Algorithm
    key: PrivateKey
    headers: tuple[str, ...] = DEFAULT_HEADERS


def load_keys(stored: Iterable[Mapping[str, object]], open_secret: Callable[[str], str]) -> list[DkimKey]:
    """A configuration's stored ``dkim`` keys, loaded (``open_secret`` unseals ``privateKeySealed``)."""
    keys = []
    for entry in stored:
        algorithm: Algorithm = "rsa-sha256" if entry["algorithm"] == "rsa-sha256" else "ed25519-sha256"
        headers = entry.get("headers")
        keys.append(
            DkimKey(
                domain=str(entry["domain"]),
                selector=str(entry["selector"]),
                algorithm=algorithm,
                key=load_private_key(open_secret(str(entry["privateKeySealed"])), algorithm),
                headers=tuple(str(name).lower() for name in headers)
                if isinstance(headers, list) and headers
                else DEFAULT_HEADERS,
            )
        )
    return keys


class _Identity:
    """A key ready to sign: its fixed tags pre-written, the ``h=`` value per shape of present headers."""

    __slots__ = ("_h_values", "canonical_prefix", "names", "prefix", "sign")

    def __init__(self, key: DkimKey) -> None:
        self.names = tuple(name.encode("ascii") for name in key.headers)
        self.prefix = (
            f"DKIM-Signature: v=1; a={key.algorithm}; c=relaxed/relaxed; d={key.domain};\r\n"
            f" s={key.selector}; t="
        ).encode("ascii")
        # The same in relaxed form (lowercase name, unfolded, no space after the colon), for the signed data.
        self.canonical_prefix = b"dkim-signature:" + self.prefix[16:].replace(b"\r\n", b"")
        self._h_values: dict[tuple[tuple[bytes, int], ...], tuple[bytes, bytes]] = {}
        self.sign: Callable[[bytes], bytes] = _signing_function(key.key)

    def h_value(self, shape: tuple[tuple[bytes, int], ...]) -> tuple[bytes, bytes]:
        """`` h=…;`` for the signed names present (name, instances), each named once per instance and once
        more when oversigned: folded at colons to keep lines short, and unfolded (its relaxed form)."""
        value = self._h_values.get(shape)
        if value is None:
            names = [name for name, count in shape for _ in range(count + (name in _OVERSIGNED))]
            lines, line = [], b" h="
            for index, name in enumerate(names):
                piece = name + (b":" if index < len(names) - 1 else b";")
                if len(line) + len(piece) > _FOLD_AT and line != b" h=":
                    lines.append(line)
                    line = b" "
                line += piece
            lines.append(line)
            folded = b"\r\n".join(lines)
            value = (folded, folded.replace(b"\r\n", b""))
            if len(self._h_values) < 64:  # a handful of shapes per campaign version; bounded all the same
                self._h_values[shape] = value
        return value


class DkimSigner:
    """Signs a campaign version's messages with one or two keys (``sign(raw)`` → signed bytes)."""

    __slots__ = ("_constant", "_head", "_identities", "_keys", "_seen", "_wanted")

    def __init__(self, keys: Sequence[DkimKey]) -> None:
        if not keys:
            raise ValueError("a DKIM signer needs at least one key")
        self._keys = tuple(keys)
        self._identities = tuple(_Identity(key) for key in keys)
        self._wanted = frozenset(name for identity in self._identities for name in identity.names)
        self._head = b""
        self._constant: dict[bytes, tuple[bytes, ...]] = {}
        self._seen: dict[bytes, tuple[bytes, bytes | None]] = {}

    def for_head(self, head: bytes) -> DkimSigner:
        """This signer, with the canonical form of ``head`` (the skeleton's constant header block that
        starts every message of the version) worked out once; messages not starting with it still sign."""
        primed = DkimSigner.__new__(DkimSigner)
        primed._keys, primed._identities, primed._wanted = self._keys, self._identities, self._wanted
        primed._head = head
        primed._seen = {}
        primed._constant = primed._fields(head, {})
        return primed

    def sign(self, raw: bytes, now: float | None = None) -> bytes:
        """``raw`` with a DKIM-Signature header per key in front of it."""
        end = raw.find(b"\r\n\r\n")
        if end < 0:
            raise ValueError("a message to sign needs a header block ended by an empty line")
        head, body = raw[: end + 2], raw[end + 4 :]
        bh = b2a_base64(sha256(canonical_body(body)).digest(), newline=False)
        constant = self._head
        if constant and head.startswith(constant):
            fields = self._fields(head[len(constant) :], dict(self._constant))
        else:
            fields = self._fields(head, {})
        timestamp = b"%d" % int(time.time() if now is None else now)
        signatures = [_signature(identity, fields, timestamp, bh) for identity in self._identities]
        signatures.append(raw)
        return b"".join(signatures)

    def _fields(self, head: bytes, into: dict[bytes, tuple[bytes, ...]]) -> dict[bytes, tuple[bytes, ...]]:
        """``into`` plus the relaxed canonical form (with CRLF) of each signed field of a CRLF header block,
        by lowercase name, in order of appearance."""
        if not head:
            return into
        seen = self._seen
        if len(seen) > _SEEN_MAX:  # per-recipient fields fill it; the repeating ones are back after one miss
            seen.clear()
        for field in _FIELD_SPLIT.split(head[:-2]):
            found = seen.get(field)
            if found is None:
                found = seen[field] = self._canonical(field)
            name, canonical = found
            if canonical is not None:
                into[name] = (*into[name], canonical) if name in into else (canonical,)
        return into

    def _canonical(self, field: bytes) -> tuple[bytes, bytes | None]:
        """A field's lowercase name and relaxed form with CRLF (RFC 6376 §3.4.2); None when not signed."""
        name, colon, value = field.partition(b":")
        if not colon:
            raise ValueError(f"not a header field: {field[:40]!r}")
        name = name.rstrip(b" \t").lower()
        if name not in self._wanted:
            return name, None
        if b"\r\n" in value:
            value = value.replace(b"\r\n", b"")
        if b"\t" in value or b"  " in value:
            value = _WSP_RUN.sub(b" ", value)
        return name, name + b":" + value.strip(b" ") + b"\r\n"


def _signature(
    identity: _Identity, fields: Mapping[bytes, tuple[bytes, ...]], timestamp: bytes, bh: bytes
) -> bytes:
    """One DKIM-Signature header (folded, CRLF-ended) over ``fields`` and the body hash ``bh``."""
    present = [name for name in identity.names if name in fields]
    shape = tuple([(name, len(fields[name])) for name in present])
    # Several instances of a name are signed from the last one up (RFC 6376 §5.4.2).
    signed = [canonical for name in present for canonical in reversed(fields[name])]
    folded, flat = identity.h_value(shape)
    header = b"".join((identity.prefix, timestamp, b";\r\n", folded, b"\r\n bh=", bh, b";\r\n b="))
    # The signature header itself comes last, canonical, with b= empty and no trailing CRLF (§3.7): built
    # from the same pieces unfolded (the relaxed form of what we write) rather than canonicalized again.
    signed.extend((identity.canonical_prefix, timestamp, b";", flat, b" bh=", bh, b"; b="))
    signature = b2a_base64(identity.sign(b"".join(signed)), newline=False)
    folded = b"\r\n ".join([signature[i : i + _B64_LINE] for i in range(0, len(signature), _B64_LINE)])
    return header + folded + b"\r\n"


def canonical_body(body: bytes) -> bytes:
    """The relaxed body (RFC 6376 §3.4.4): blank runs become one space, none at a line's end, no empty
    lines at the end, and a non-empty body ends with CRLF. Blanks of a last line without CRLF stay (one
    space), as dkimpy and OpenDKIM read it; the writer always ends a body with CRLF anyway.

    What the MIME writer produces mostly is canonical already (base64 and quoted-printable lines, one final
    CRLF): three scans of the bytes find that out and the body is hashed as it is, without a copy.
    """
    # Runs first (then every blank run is one space), so the line ends are a plain replace: a regular
    # expression with a look-ahead tries every space of the body and cost 10x the whole rest.
    if b"\t" in body:
        body = _WSP_NOT_SINGLE.sub(b" ", body)
    elif b"  " in body:
        body = _SPACE_RUNS.sub(b" ", body)
    if b" \r\n" in body:
        body = body.replace(b" \r\n", b"\r\n")
    if body.endswith(b"\r\n") and not body.endswith(b"\r\n\r\n") and body != b"\r\n":
        return body
    body = body.rstrip(b"\r\n")
    return body + b"\r\n" if body else b""


def _signing_function(key: PrivateKey) -> Callable[[bytes], bytes]:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        sign_ed25519 = key.sign
        # RFC 8463 §3: the signature is PureEdDSA over the SHA-256 of the data (not the data itself).
        return lambda data: sign_ed25519(sha256(data).digest())
    assert isinstance(key, rsa.RSAPrivateKey)
    sign_rsa, pkcs1, sha256_hash = key.sign, padding.PKCS1v15(), hashes.SHA256()
    return lambda data: sign_rsa(data, pkcs1, sha256_hash)
