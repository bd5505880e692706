"""Errors of the campaigns domain."""

from __future__ import annotations

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
    """Another resource of the same kind already has that name."""

    code = "CLARION-2429"


class InvalidCampaign(Invalid):
    """A campaign, configuration or pool breaks a rule (the detail names the field and the rule)."""

    code = "CLARION-2400"
