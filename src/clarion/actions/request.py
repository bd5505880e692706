"""From a stored custom action to the HTTP request of one call: query, authentication, rendered body."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from clarion.actions.validation import check_json, compile_body
from clarion.kit.secretbox import SecretBox
from clarion.models.actions import CustomAction
from clarion.templating import Template
from clarion.templating.runtime import lookup, to_text


@dataclass(frozen=True, slots=True)
class OutboundRequest:
    """One HTTP call to make. ``headers`` may hold credentials, so they stay out of ``repr``."""

    method: str
    url: str
    headers: dict[str, str] = field(repr=False)
    content: bytes | None
    timeout: float


@dataclass(frozen=True, slots=True)
class QueryParameter:
    """A constant ``value``, or the value at ``path`` in the event context."""

    name: str
    value: str | None = None
    path: tuple[str, ...] = ()

    def resolve(self, context: Mapping[str, Any], action: str) -> str:
        """The parameter's value for this call; a missing context value is an error, never a silent gap."""
        if self.value is not None:
            return self.value
        found = lookup(context, self.path)
        if found is None:
            path = ".".join(self.path)
            raise ValueError(
                f"custom action {action!r}: query parameter {self.name!r} reads context.{path}, "
                "which the event does not have"
            )
        return to_text(found)


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """Everything needed to build a call of a custom action: secrets decrypted, body template compiled."""

    id: str
    org_id: str
    sandbox_id: str
    name: str
    method: str
    url: str
    version: int
    timeout: float
    headers: Mapping[str, str] = field(default_factory=dict)
    query: tuple[QueryParameter, ...] = ()
    auth_header: tuple[str, str] | None = field(default=None, repr=False)
    body: Template | None = field(default=None, repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)
    """The decrypted credentials (and their encoded forms), to mask in anything recorded of a call."""

    def build_request(self, context: Mapping[str, Any]) -> OutboundRequest:
        """The request for one event; raises ValueError (with a clear message) when it cannot be built."""
        headers = dict(self.headers)
        if self.auth_header is not None:
            headers[self.auth_header[0]] = self.auth_header[1]
        return OutboundRequest(
            method=self.method,
            url=self._url(context),
            headers=headers,
            content=self._content(context),
            timeout=self.timeout,
        )

    def _url(self, context: Mapping[str, Any]) -> str:
        if not self.query:
            return self.url
        pairs = [(parameter.name, parameter.resolve(context, self.name)) for parameter in self.query]
        encoded = urlencode(pairs, safe="", quote_via=quote)
        if "?" not in self.url:
            return f"{self.url}?{encoded}"
        separator = "" if self.url.endswith(("?", "&")) else "&"
        return f"{self.url}{separator}{encoded}"

    def _content(self, context: Mapping[str, Any]) -> bytes | None:
        if self.body is None:
            return None
        text = self.body.render({"context": context})
        try:
            check_json(text)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"custom action {self.name!r}: the rendered body is not valid JSON: {error.msg} at line "
                f"{error.lineno}, column {error.colno} (insert numbers and objects with {{{{{{…}}}}}} "
                "outside quotes, text with {{…}} inside quotes)"
            ) from None
        return text.encode()


def action_spec(action: CustomAction, box: SecretBox) -> ActionSpec:
    """The runtime form of a stored action; raises ValueError if a secret does not decrypt."""
    header, secrets = credentials(action.authentication, box)
    return ActionSpec(
        id=action.id,
        org_id=action.org_id,
        sandbox_id=action.sandbox_id,
        name=action.name,
        method=action.method,
        url=action.url,
        version=action.version,
        timeout=float(action.timeout_seconds),
        headers=dict(action.headers),
        query=tuple(_query_parameter(item) for item in action.query_parameters),
        auth_header=header,
        body=compile_body(action.body) if action.body is not None else None,
        secrets=secrets,
    )


def _query_parameter(item: Mapping[str, Any]) -> QueryParameter:
    if item.get("fromContext") is not None:
        return QueryParameter(item["name"], path=tuple(item["fromContext"].split(".")))
    return QueryParameter(item["name"], value=item["value"])


def credentials(
    authentication: Mapping[str, Any], box: SecretBox
) -> tuple[tuple[str, str] | None, tuple[str, ...]]:
    """The (name, value) header that authenticates a call (None for ``type: none``) and the secrets in it."""
    kind = authentication.get("type", "none")
    if kind == "basic":
        password = box.open(authentication["passwordSealed"])
        encoded = base64.b64encode(f"{authentication['username']}:{password}".encode()).decode("ascii")
        return ("Authorization", f"Basic {encoded}"), (password, encoded)
    if kind == "bearer":
        token = box.open(authentication["tokenSealed"])
        return ("Authorization", f"Bearer {token}"), (token,)
    if kind == "apiKey":
        key = box.open(authentication["apiKeySealed"])
        return (authentication["headerName"], key), (key,)
    return None, ()
