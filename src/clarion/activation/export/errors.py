"""Errors of exporting: the one error every destination raises — why a transfer failed, and whether trying
again can help (the run executor retries the retryable ones)."""

from __future__ import annotations

import functools
from typing import Any, Literal

ErrorKind = Literal["auth", "network", "disk", "config"]

# Only a network failure is worth retrying by default: credentials, refused writes and bad settings stay
# wrong until a person changes something.
_RETRYABLE_BY_DEFAULT: dict[ErrorKind, bool] = {
    "auth": False,
    "network": True,
    "disk": False,
    "config": False,
}


class DestinationError(Exception):
    """A destination operation failed; ``str()`` is a readable reason that never contains a secret."""

    def __init__(self, kind: ErrorKind, reason: str, *, retryable: bool | None = None) -> None:
        super().__init__(reason)
        self.kind: ErrorKind = kind
        self.reason = reason
        self.retryable: bool = _RETRYABLE_BY_DEFAULT[kind] if retryable is None else retryable

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by constructor arguments (the default would call ``__init__`` with ``reason`` only)."""
        return (functools.partial(DestinationError, retryable=self.retryable), (self.kind, self.reason))

    def __repr__(self) -> str:
        return f"DestinationError(kind={self.kind!r}, retryable={self.retryable}, reason={self.reason!r})"
