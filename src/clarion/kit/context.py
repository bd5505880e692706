"""What the current request is, for its log lines: one context variable set per request.

A plain ``ContextVar`` rather than structlog's ``bind_contextvars``: setting it costs a quarter as much, and
it is read only when a line is logged (``ops.logging`` adds it to every line), not on every request.
"""

from __future__ import annotations

from contextvars import ContextVar

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
"""The id of the request being served (the ``x-request-id`` of its answer), or None outside a request."""
