"""Errors of the profile store."""

from __future__ import annotations

from clarion.errors import Conflict, Invalid, NotFound


class ProfileNotFound(NotFound):
    """No profile of the sandbox owns the identity."""

    code = "CLARION-6404"


class IdentityTaken(Conflict):
    """An identity given for a profile already belongs to another profile of the sandbox."""

    code = "CLARION-6409"


class InvalidProfile(Invalid):
    """A profile write breaks a rule (the detail names the field and the rule)."""

    code = "CLARION-6400"
