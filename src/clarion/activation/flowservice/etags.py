"""Etags of Flow Service entities: written quoted, required in ``If-Match`` by PATCH (catalogue 1403/1404)."""

from __future__ import annotations

from clarion.activation.errors import IfMatchMissing, VersionMismatch

CONCURRENT_CHANGE = "changed by a concurrent request"
"""Stands for the current version when another write won between our read and our conditional write."""


def quoted(etag: str) -> str:
    """An etag as Flow Service writes it: inside double quotes."""
    return f'"{etag}"'


def require_current(if_match: str | None, etag: str) -> None:
    """Pass when ``If-Match`` names ``etag`` (quoted or not, ``W/`` or not, or ``*``); raise 1403/1404."""
    if if_match is None or not if_match.strip():
        raise IfMatchMissing()
    candidates = {_bare(value) for value in if_match.split(",")}
    if "*" in candidates or etag in candidates:
        return
    raise VersionMismatch(if_match.strip(), quoted(etag))


def _bare(value: str) -> str:
    text = value.strip().removeprefix("W/")
    # Clients copy the JSON string of ``etag``, sometimes with its escaping backslashes.
    return text.replace('\\"', '"').strip('"')
