"""Errors of the custom actions domain."""

from __future__ import annotations

from clarion.errors import Conflict, Invalid, NotFound


class CustomActionNotFound(NotFound):
    """No such custom action in the sandbox."""

    code = "CLARION-4404"


class ActionNameTaken(Conflict):
    """Another custom action of the sandbox already has that name."""

    code = "CLARION-4409"


class InvalidAction(Invalid):
    """A custom action breaks a rule (the detail and the context name the field and the rule)."""

    code = "CLARION-4400"
