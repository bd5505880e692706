"""The rules of a custom action beyond its shape: URL, headers, authentication and body template.

Each broken rule is a 400 whose context names the ``field`` and the ``rule``.

IP-literal hosts are allowed on purpose. Adobe refuses them (contract §3.7) because its actions run
inside Adobe's network; a self-hosted Clarion calls the operator's own services, which are often
reachable only by a private address (``http://10.0.0.7/hook``). Every caller is an authenticated
organization, and an operator who hosts tenants it does not trust filters egress at the network, where
DNS names resolving to private addresses are caught too (a host-name rule here would not catch those).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import SplitResult, urlsplit

from clarion.actions.errors import InvalidAction
from clarion.actions.schemas import ApiKeyAuthentication, Authentication, BasicAuthentication
from clarion.templating import Template, TemplateSyntaxError, compile_template

DEFAULT_PORTS = {"http": 80, "https": 443}
RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
        "expect",
        "proxy-authorization",
    }
)
"""Headers the HTTP client owns (hop-by-hop, framing, routing): a configured value would break the call."""
DEFAULT_CONTENT_TYPE = "application/json"

_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_DNS_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?$")
_BAD_VALUE_CHARACTERS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def invalid(field: str, rule: str, message: str) -> InvalidAction:
    """A 400 naming the field and the rule."""
    return InvalidAction(f"{field}: {message}", context={"field": field, "rule": rule})


def check_url(url: str, *, any_port: bool = False) -> None:
    """An absolute http(s) URL on its scheme's default port (any port when the operator allows it),
    without credentials or fragment."""
    if any(character.isspace() or not character.isprintable() for character in url):
        raise invalid("url", "characters", "must not contain spaces or control characters")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.netloc:
        raise invalid("url", "absolute_http_url", f"must be an absolute http:// or https:// URL, not {url!r}")
    if "@" in parts.netloc:
        raise invalid("url", "no_userinfo", "must not contain credentials (use authentication)")
    if parts.fragment or url.endswith("#"):
        raise invalid("url", "no_fragment", "must not contain a fragment (#…); it is never sent")
    _check_port(parts, scheme, any_port=any_port)
    _check_host(parts.hostname or "")


def _check_port(parts: SplitResult, scheme: str, *, any_port: bool) -> None:
    try:
        port = parts.port
    except ValueError:
        raise invalid("url", "port", "the port is not a number from 0 to 65535") from None
    if port is not None and port != DEFAULT_PORTS[scheme] and not any_port:
        raise invalid(
            "url",
            "default_port_only",
            f"only the default port is allowed (80 for http, 443 for https), not {port}",
        )


def _check_host(host: str) -> None:
    if not host:
        raise invalid("url", "host", "names no host")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return  # IP literals are allowed: see the module docstring
    if not host.isascii():
        raise invalid("url", "host", "the host must be ASCII (write internationalized names as xn--…)")
    if not _DNS_NAME.match(host):
        raise invalid("url", "host", f"{host!r} is not a valid host name")


def check_headers(headers: Mapping[str, str], *, method: str) -> dict[str, str]:
    """The headers to store: valid names and values, none reserved, Content-Type defaulted for a body."""
    seen: dict[str, str] = {}
    for name, value in headers.items():
        field = f"headers.{name}"
        lowered = name.lower()
        if not re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", name) or len(name) > 256:
            raise invalid(field, "header_name", "is not a valid HTTP header name")
        if lowered in RESERVED_HEADERS:
            raise invalid(field, "reserved_header", "is set by the HTTP client and cannot be configured")
        if lowered == "authorization":
            raise invalid(
                field, "use_authentication", "configure credentials in authentication (they stay secret)"
            )
        if lowered in seen:
            raise invalid(field, "duplicate_header", f"given twice (also as {seen[lowered]!r})")
        if _BAD_VALUE_CHARACTERS.search(value) or len(value) > 8192:
            raise invalid(field, "header_value", "must be at most 8192 characters without line breaks")
        seen[lowered] = name
    stored = dict(headers)
    if method != "GET" and "content-type" not in seen:
        stored["Content-Type"] = DEFAULT_CONTENT_TYPE
    return stored


def check_authentication(authentication: Authentication, headers: Mapping[str, str]) -> None:
    """A basic user name without ``:``; an API-key header that is neither reserved nor configured twice."""
    if isinstance(authentication, BasicAuthentication) and ":" in authentication.username:
        raise invalid("authentication.username", "no_colon", "must not contain ':' (HTTP Basic, RFC 7617)")
    for name in ("token", "api_key"):
        secret = getattr(authentication, name, None)
        if secret is not None and _BAD_VALUE_CHARACTERS.search(secret):
            field = f"authentication.{'apiKey' if name == 'api_key' else name}"
            raise invalid(field, "header_value", "must not contain line breaks or control characters")
    if isinstance(authentication, ApiKeyAuthentication):
        lowered = authentication.header_name.lower()
        if lowered in RESERVED_HEADERS:
            raise invalid(
                "authentication.headerName", "reserved_header", "is set by the HTTP client, pick another"
            )
        if any(name.lower() == lowered for name in headers):
            raise invalid("authentication.headerName", "duplicate_header", "is also configured in headers")


def check_body(body: str | None, *, method: str) -> None:
    """GET has no body; a body compiles, reads only ``context``, and is JSON when it has no expression."""
    if body is None:
        return
    if method == "GET":
        raise invalid("body", "no_body_on_get", "a GET action cannot have a body")
    try:
        template = compile_body(body)
    except TemplateSyntaxError as error:
        raise InvalidAction(
            f"body: template does not parse: {error.message} at line {error.line}, column {error.column}",
            context={"field": "body", "rule": "template_syntax", "line": error.line, "column": error.column},
        ) from None
    for reference in template.references:
        if reference.path == "profile" or reference.path.startswith("profile."):
            raise invalid(
                "body",
                "context_only",
                f"{{{{{reference.path}}}}} at line {reference.line}, column {reference.column} reads the "
                "profile; custom action bodies see the event context only ({{context.…}})",
            )
    if not template.references:
        _check_static_json(template)


def _check_static_json(template: Template) -> None:
    try:
        check_json(template.render({}))
    except json.JSONDecodeError as error:
        raise InvalidAction(
            f"body: not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}",
            context={"field": "body", "rule": "json", "line": error.lineno, "column": error.colno},
        ) from None


def check_json(text: str) -> None:
    """Raise ``json.JSONDecodeError`` unless ``text`` is strict JSON (Python also takes NaN and Infinity)."""

    def refuse(name: str) -> Any:
        raise json.JSONDecodeError(f"{name} is not a JSON value", text, max(text.find(name), 0))

    json.loads(text, parse_constant=refuse)


@functools.lru_cache(maxsize=1024)
def compile_body(source: str) -> Template:
    """The compiled body template (cached: templates are immutable and keep no per-render state).

    ``{{…}}`` output is escaped for the inside of a JSON string, so values with quotes or line breaks
    stay valid JSON; ``{{{…}}}`` inserts raw text (a number, or an object, which renders as JSON).
    """
    return compile_template(source, autoescape=True, escape="json")
