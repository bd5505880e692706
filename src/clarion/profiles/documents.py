"""Rules of profile documents: identity namespaces and values, attribute limits, the deep merge.

Pure functions shared by the HTTP API and the bulk import, so both accept and refuse the same things.

- Namespaces match ``[A-Za-z0-9_.-]{1,64}`` and are case-sensitive (``email`` and ``Email`` differ), except
  that values of a namespace named ``email`` in any case are lower-cased on every write and lookup: mailbox
  providers treat ``Jane@Shop.example`` and ``jane@shop.example`` as one address, and a profile must not be
  split by a capital letter. (``str.lower``, not ``casefold``: casefold turns ``ß`` into ``ss``.)
- Identity values are 1-512 characters; a write carries at most 50 identities.
- Attributes are a JSON object of at most 100 KB serialized and 16 levels deep (the top object is level 1);
  the limits apply to the stored document after the merge.
- Attributes merge deeply: objects merge key by key, any other value (lists included) replaces, and a JSON
  ``null`` removes its key.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from clarion.kit.params import CONTROL, nul_path
from clarion.profiles.errors import InvalidProfile

NAMESPACE_RULE = "[A-Za-z0-9_.-]{1,64}"
MAX_VALUE_LENGTH = 512
MAX_IDENTITIES = 50
MAX_ATTRIBUTE_BYTES = 100 * 1024
MAX_DEPTH = 16
CASE_FOLDED_NAMESPACE = "email"
"""Values of this namespace (compared lower-cased) are stored lower-cased."""

_NAMESPACE = re.compile(NAMESPACE_RULE)
MAX_REMEMBERED_NAMESPACES = 1024
_CHECKED_NAMESPACES: dict[str, bool] = {}
"""Valid namespaces met so far, and whether their values are lower-cased."""
_ITEM_FIELDS = frozenset({"identities", "attributes"})
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode
_RESPELLED_NUMBER = re.compile(rb"[0-9][eE]|\.[0-9]*0(?![0-9])|[0-9][0-9.]{15}")
"""Number spellings that decoding and re-encoding change: exponents, trailing zeros of a fraction, more
digits than a float keeps (may match inside strings too: a false alarm only costs the full path)."""
_NUMBER_CLASSES = bytes(
    ord("d") if byte in b"0123456789" else ord("e") if byte in b"eE" else byte if byte == ord(".") else 32
    for byte in range(256)
)
"""A translation keeping only what numbers are spelled with: digits as ``d``, ``e`` for both cases, dots."""

Identity = tuple[str, str]
"""``(namespace, value)``, value normalized."""


class ProfileInput:
    """One profile write: its identities (primary first, normalized, unique) and an attribute patch.

    The patch is held as a dict, or as ``document``: JSON already known to be storable as it is (see
    ``verbatim_document``), decoded only if a merge needs it. A bulk import creates most profiles from such
    documents without ever building their dicts. ``removes`` tells whether the patch holds a ``null`` (a
    key to remove), so that merging must copy it.
    """

    __slots__ = ("_attributes", "document", "identities", "removes")

    def __init__(
        self,
        identities: tuple[Identity, ...],
        attributes: dict[str, Any] | None = None,
        removes: bool = False,
        *,
        document: bytes | None = None,
    ) -> None:
        self.identities = identities
        self._attributes = attributes
        self.removes = removes
        self.document = document

    @property
    def attributes(self) -> dict[str, Any]:
        """The attribute patch."""
        if self._attributes is None:
            self._attributes = decode_object(self.document or b"{}")
        return self._attributes

    @property
    def primary(self) -> Identity:
        """The identity that chooses the profile."""
        return self.identities[0]


def invalid(field: str, rule: str, message: str) -> InvalidProfile:
    """A 400 naming the field and the rule."""
    return InvalidProfile(f"{field}: {message}", context={"field": field, "rule": rule})


def check_namespace(namespace: str, *, field: str = "namespace") -> str:
    """``namespace`` if it matches the namespace rule, else a 400."""
    if not _NAMESPACE.fullmatch(namespace):
        raise invalid(field, "namespace_pattern", f"namespace {namespace[:80]!r} must match {NAMESPACE_RULE}")
    return namespace


def normalize_value(namespace: str, value: str, *, field: str = "id") -> str:
    """The stored form of an identity value (lower-cased for email), checked for length."""
    if not 1 <= len(value) <= MAX_VALUE_LENGTH:
        raise invalid(field, "value_length", f"identity values must be 1-{MAX_VALUE_LENGTH} characters")
    if CONTROL.search(value):
        # PostgreSQL's text type refuses NUL; no identity holds a control character.
        raise invalid(field, "value_printable", "identity values must not contain control characters")
    return value.lower() if namespace.lower() == CASE_FOLDED_NAMESPACE else value


def identity(namespace: str, value: str, *, field: str = "id") -> Identity:
    """A checked, normalized identity."""
    check_namespace(namespace)
    return namespace, normalize_value(namespace, value, field=field)


def parse_identities(raw: Any, *, field: str = "identities") -> list[Identity]:
    """``{namespace: [value, …]}`` (a single string is accepted for a list of one) as identities in order."""
    if not isinstance(raw, dict):
        raise invalid(field, "type", "must be an object of namespace to list of values")
    found: list[Identity] = []
    for namespace, values in raw.items():
        fold = _folds(namespace, field)
        listed = [values] if isinstance(values, str) else values
        if not isinstance(listed, list):
            raise invalid(f"{field}.{namespace}", "type", "must be a list of strings")
        for value in listed:
            # The checks of normalize_value, inline: this loop runs for every identity of a bulk import.
            if not isinstance(value, str) or not 1 <= len(value) <= MAX_VALUE_LENGTH:
                _refuse_value(f"{field}.{namespace}[{listed.index(value)}]", value)
            found.append((namespace, value.lower() if fold else value))
    return found


def _folds(namespace: str, field: str) -> bool:
    """Whether values of a valid ``namespace`` are lower-cased; a 400 naming ``field`` when it is invalid.

    Remembers the namespaces it checked (a bulk import meets the same few on every line), up to a bound
    that a file of random names cannot push.
    """
    fold = _CHECKED_NAMESPACES.get(namespace)
    if fold is None:
        check_namespace(namespace, field=f"{field}.{namespace}")
        fold = namespace.lower() == CASE_FOLDED_NAMESPACE
        if len(_CHECKED_NAMESPACES) < MAX_REMEMBERED_NAMESPACES:
            _CHECKED_NAMESPACES[namespace] = fold
    return fold


def _refuse_value(where: str, value: Any) -> None:
    if not isinstance(value, str):
        raise invalid(where, "type", "identity values must be strings")
    normalize_value("", value, field=where)


def profile_input(identities: list[Identity], attributes: Any, *, field: str = "attributes") -> ProfileInput:
    """A write from identities (primary first; duplicates dropped) and an attribute patch."""
    unique = checked_identities(identities)
    if attributes is None:
        attributes = {}
    if not isinstance(attributes, dict):
        raise invalid(field, "type", "must be a JSON object")
    try:
        removes = _inspect(attributes, MAX_DEPTH)
    except _TooDeep:
        raise invalid(field, "max_depth", f"nesting deeper than {MAX_DEPTH} levels") from None
    if (where := nul_path(attributes, field)) is not None:
        raise invalid(where, "no_nul", "must not contain NUL characters (\\u0000)")
    return ProfileInput(unique, attributes, removes)


def checked_identities(identities: list[Identity]) -> tuple[Identity, ...]:
    """The identities of a write without duplicates (primary first); a 400 for none or too many."""
    unique = tuple(dict.fromkeys(identities))
    if not unique:
        raise invalid("identities", "required", "at least one identity is required")
    if len(unique) > MAX_IDENTITIES:
        raise invalid(
            "identities", "max_identities", f"at most {MAX_IDENTITIES} identities per profile write"
        )
    return unique


def verbatim_document(raw: bytes) -> bytes | None:
    """``raw``, the JSON of an attribute patch, if storing it as is equals checking, merging it into
    nothing and re-encoding it (``profile_input`` then ``encoded_document``); else ``None``.

    Cheap scans of the bytes that hold for the common patch: an object, no ``null`` (the merge would drop
    it), at most ``MAX_DEPTH`` brackets (so it cannot nest deeper), within the size limit (re-encoding
    never lengthens it) and no number a float would spell differently. The JSON itself was validated by
    the decoder that cut ``raw`` out. Whitespace and key order may differ from a re-encoding; jsonb does
    not keep either.
    """
    if (
        raw[:1] == b"{"
        and len(raw) <= MAX_ATTRIBUTE_BYTES
        and raw.count(b"{") + raw.count(b"[") <= MAX_DEPTH
        and b"null" not in raw
        and b"\\u0000" not in raw  # a NUL (PostgreSQL stores none): profile_input refuses it
        and not _respelled_number(raw)
    ):
        return raw
    return None


def _respelled_number(raw: bytes) -> bool:
    """Whether ``raw`` may hold a number that decoding and re-encoding spell differently.

    Substring tests on a translated copy first (an import asks this for every line, and the regex alone
    costs several microseconds): most documents have no fraction, and then need no regex at all.
    """
    classes = raw.translate(_NUMBER_CLASSES)
    if b"de" in classes or b"dddddddddddddddd" in classes:
        return True
    return b"d.d" in classes and _RESPELLED_NUMBER.search(raw) is not None


def decode_object(document: bytes) -> dict[str, Any]:
    """A JSON object as a dict (``document`` holds one: a ``verbatim_document`` or a stored document)."""
    decoded: dict[str, Any] = _decode(document)
    return decoded


def parse_item(raw: Any) -> ProfileInput:
    """A batch or import item ``{"identities": …, "attributes": …}``; its first identity is primary."""
    if not isinstance(raw, dict):
        raise invalid("item", "type", "must be a JSON object with identities and attributes")
    if raw.keys() - _ITEM_FIELDS:
        unknown = sorted(raw.keys() - _ITEM_FIELDS)[0]
        raise invalid(unknown, "unknown_field", "unknown field (allowed: identities, attributes)")
    if "identities" not in raw:
        raise invalid("identities", "required", "at least one identity is required")
    return profile_input(parse_identities(raw["identities"]), raw.get("attributes"))


class _TooDeep(Exception):
    """A document nests deeper than allowed."""


def _inspect(document: dict[str, Any], allowed: int) -> bool:
    """Whether a merge of ``document`` removes keys (a ``null`` outside lists); raises ``_TooDeep``.

    One pass for both questions (the top object uses one level of ``allowed``): a bulk import asks them
    for every line, and a patch that removes nothing can be stored as is, without a merged copy.
    """
    if allowed == 0:
        raise _TooDeep
    removes = False
    for value in document.values():
        if value is None:
            removes = True
        elif isinstance(value, dict):
            removes = _inspect(value, allowed - 1) or removes
        elif isinstance(value, list):
            _check_list(value, allowed - 1)
    return removes


def _check_list(items: list[Any], allowed: int) -> None:
    if allowed == 0:
        raise _TooDeep
    for item in items:
        if isinstance(item, dict):
            _inspect(item, allowed - 1)
        elif isinstance(item, list):
            _check_list(item, allowed - 1)


def encoded_document(document: dict[str, Any], *, field: str = "attributes") -> bytes:
    """The JSON of a document to store; a 400 when it passes ``MAX_ATTRIBUTE_BYTES``.

    (No depth check here: a merge is never deeper than the deeper of its two checked inputs.)
    """
    encoded = _encode(document)
    if len(encoded) > MAX_ATTRIBUTE_BYTES:
        raise invalid(
            field,
            "max_size",
            f"the stored document would be {len(encoded)} bytes serialized, over the "
            f"{MAX_ATTRIBUTE_BYTES}-byte limit",
        )
    return encoded


def changes(current: dict[str, Any], patch: dict[str, Any]) -> bool:
    """Whether ``merge(current, patch)`` differs from ``current``, found without building the merge.

    A re-import mostly sends what is stored already: this walk allocates nothing and stops at the first
    difference.
    """
    for key, value in patch.items():
        if value is None:
            if key in current:
                return True
        elif isinstance(value, dict):
            base = current.get(key)
            # Merged into a non-object, a patch object replaces it: a change even when empty.
            if not isinstance(base, dict) or changes(base, value):
                return True
        elif key not in current or current[key] != value:
            return True
    return False


def merge(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``current`` deep-merged with ``patch`` (a new dict; neither argument changes). ``None`` removes."""
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict):
            base = merged.get(key)
            merged[key] = merge(base if isinstance(base, dict) else {}, value)
        else:
            merged[key] = value
    return merged
