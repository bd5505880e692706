"""Errors of the action-call ledger API (``/v1/action-calls``); they share the custom actions' codes."""

from __future__ import annotations

from clarion.errors import Invalid, NotFound


class ActionCallNotFound(NotFound):
    """No such call in the sandbox's action-call ledger."""

    code = "CLARION-4414"


class InvalidCallFilter(Invalid):
    """A filter of the ledger breaks a rule (the context names the field and the rule)."""

    code = "CLARION-4400"
    """The custom actions API's 400 code (as ``actions.errors.InvalidAction``): the ledger is part of it."""


def invalid_filter(field: str, rule: str, message: str) -> InvalidCallFilter:
    """A 400 naming the field and the rule."""
    return InvalidCallFilter(f"{field}: {message}", context={"field": field, "rule": rule})
