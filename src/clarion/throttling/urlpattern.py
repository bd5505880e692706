"""URL patterns of throttling and capping configurations, compiled once into a single regular expression.

A pattern is an absolute ``http``/``https`` URL. ``*`` may appear in the path and in the query, never in the
scheme, host or port. Matching an outbound URL against a compiled pattern:

- scheme and host compare case-insensitively, the port exactly, with the default ports normalised
  (``https://h/x`` and ``https://h:443/x`` are the same pattern and match the same URLs);
- ``*`` in the path matches any run of characters, ``/`` included (never ``?`` or ``#``); the rest of the
  path compares exactly (paths are case-sensitive), and an empty path is ``/``;
- a pattern without a query matches the URL whatever its query; a pattern with a query also requires the
  URL's query to match it, where ``*`` matches any run of characters (``&`` and ``=`` included);
- the URL's user information and fragment are ignored.

``UrlPattern.matches`` runs for every outbound HTTP call, so it is one ``re.fullmatch`` on the raw URL text:
no parsing, no allocation beyond the match object.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_LENGTH = 2048

_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
_PATH = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*")
_QUERY = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*")


class PatternError(ValueError):
    """The text is not a usable URL pattern."""


class MalformedPattern(PatternError):
    """Not an absolute http(s) URL (throttling code 104, capping 101)."""


class WildcardInHost(PatternError):
    """A ``*`` in the scheme, host or port (throttling code 105, capping 102)."""


@dataclass(frozen=True, slots=True)
class UrlPattern:
    """A compiled URL pattern; ``matches`` tells whether an outbound URL falls under it."""

    text: str
    scheme: str
    host: str
    port: int
    path: str
    query: str | None
    regex: re.Pattern[str]

    def matches(self, url: str) -> bool:
        """True when ``url`` (absolute, as sent) falls under this pattern."""
        return self.regex.fullmatch(url) is not None


@functools.lru_cache(maxsize=4096)
def compile_pattern(text: str) -> UrlPattern:
    """Parse and compile ``text``; raises ``MalformedPattern`` or ``WildcardInHost``."""
    if len(text) > MAX_LENGTH:
        raise MalformedPattern(f"longer than {MAX_LENGTH} characters")
    scheme, separator, rest = text.partition("://")
    if not separator:
        raise MalformedPattern("not an absolute http or https URL")
    if "*" in scheme:
        raise WildcardInHost("wildcard in the scheme")
    scheme = scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise MalformedPattern("not an absolute http or https URL")
    authority, path, query = _split(rest)
    if "*" in authority:
        raise WildcardInHost("wildcard in the host or port")
    host, port = _authority(authority, scheme)
    if not _PATH.fullmatch(path) or (query is not None and not _QUERY.fullmatch(query)):
        raise MalformedPattern("invalid character in the path or query")
    path = path or "/"
    regex = _regex(scheme, host, port, path, query)
    return UrlPattern(text, scheme, host, port, path, query, regex)


def _split(rest: str) -> tuple[str, str, str | None]:
    """Authority, path and query (None when absent or empty) of the text after ``scheme://``."""
    if "#" in rest:
        raise MalformedPattern("a pattern has no fragment")
    end = len(rest)
    for stop in "/?":
        index = rest.find(stop)
        if index != -1:
            end = min(end, index)
    authority, remainder = rest[:end], rest[end:]
    path, _, query = remainder.partition("?")
    return authority, path, query or None


def _authority(authority: str, scheme: str) -> tuple[str, int]:
    if "@" in authority:
        raise MalformedPattern("a pattern has no user information")
    host, port_text = _host_and_port(authority)
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError as exc:
            raise MalformedPattern("invalid IPv6 host") from exc
    elif len(host) > 253 or not _HOSTNAME.fullmatch(host):
        raise MalformedPattern("invalid host")
    if port_text is None:
        return host.lower().rstrip("."), DEFAULT_PORTS[scheme]
    if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise MalformedPattern("invalid port")
    return host.lower().rstrip("."), int(port_text)


def _host_and_port(authority: str) -> tuple[str, str | None]:
    if authority.startswith("["):
        closing = authority.find("]")
        if closing == -1:
            raise MalformedPattern("unclosed IPv6 host")
        host, after = authority[: closing + 1], authority[closing + 1 :]
        if after and not after.startswith(":"):
            raise MalformedPattern("invalid host")
        return host, after[1:] if after else None
    host, colon, port = authority.partition(":")
    return host, port if colon else None


def _regex(scheme: str, host: str, port: int, path: str, query: str | None) -> re.Pattern[str]:
    port_part = f"(?::{port})?" if port == DEFAULT_PORTS[scheme] else f":{port}"
    path_part = _glob(path, r"[^?#]")
    # An empty URL path is "/": accept it wherever "/" alone would match.
    if re.fullmatch(path_part, "/"):
        path_part = f"(?:{path_part})?"
    query_part = r"(?:\?[^#]*)?" if query is None else r"\?" + _glob(query, r"[^#]")
    return re.compile(
        f"(?i:{re.escape(scheme)})://(?:[^@/?#]*@)?(?i:{re.escape(host)})\\.?{port_part}"
        f"{path_part}{query_part}(?:#.*)?",
        re.DOTALL,
    )


def _glob(text: str, star: str) -> str:
    """``*`` → ``star`` (a character class), without backtracking between wildcards.

    Each literal between two wildcards is taken at its first occurrence, in an atomic group: for globs
    whose only wildcard is ``*`` that choice never loses a match, and it keeps matching linear where a
    plain ``.*a.*b.*`` regex backtracks polynomially (patterns are tenant input; the matcher is shared).
    """
    first, *middle, last = text.split("*") if "*" in text else (text, None)
    if last is None:
        return re.escape(first)
    groups = "".join(f"(?>{star}*?{re.escape(part)})" for part in middle if part)
    return f"{re.escape(first)}{groups}{star}*{re.escape(last)}"
