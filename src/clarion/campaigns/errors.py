"""Errors of the campaigns domain."""

from __future__ import annotations

import re
from typing import Any

from clarion.errors import Conflict, Invalid, NotFound


class IpPoolNotFound(NotFound):
    """No such IP pool in the organization."""

    code = "CLARION-2404"


class ChannelConfigurationNotFound(NotFound):
    """No such channel configuration in the sandbox."""

    code = "CLARION-2414"


class CampaignNotFound(NotFound):
    """No such campaign in the sandbox."""

    code = "CLARION-2424"


class InUse(Conflict):
    """The resource is referenced and cannot be deleted."""

    code = "CLARION-2409"


class InvalidState(Conflict):
    """The campaign's lifecycle status does not allow the operation."""

    code = "CLARION-2419"


class NameTaken(Conflict):
    """Another resource of the same kind already has that name (the context's ``field`` is ``name``)."""

    code = "CLARION-2429"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, context=with_field(detail, None))


class InvalidCampaign(Invalid):
    """A campaign, configuration or pool breaks a rule (the detail names the field and the rule).

    The detail starts with the field (``email.ipPoolId: …``); it is also put in the context as ``field``
    when not given, so a client (the console) can show the refusal next to the field.
    """

    code = "CLARION-2400"

    def __init__(self, detail: str, *, context: dict[str, Any] | None = None) -> None:
        super().__init__(detail, context=with_field(detail, context))


def with_field(detail: str, context: dict[str, Any] | None) -> dict[str, Any]:
    """``context`` with ``field`` taken from the detail's ``field: …`` prefix when it has none."""
    context = dict(context or {})
    field, colon, _ = detail.partition(": ")
    if colon and "field" not in context and _FIELD.fullmatch(field):
        context["field"] = field
    return context


_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
