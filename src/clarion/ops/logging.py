"""Logging: JSON lines in production, pretty console output on a terminal; stdlib loggers routed through."""

from __future__ import annotations

import logging
import sys

import structlog

from clarion.config import LogFormat
from clarion.kit.context import REQUEST_ID

_SECRET_KEYS = frozenset({"authorization", "password", "token", "access_token", "api_key", "secret"})


def _redact(_logger: object, _name: str, event: structlog.types.EventDict) -> structlog.types.EventDict:
    """Never let a secret reach a log line, whatever a caller passed."""
    for key in event.keys() & _SECRET_KEYS:
        event[key] = "***"
    return event


def _add_request_id(
    _logger: object, _name: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    """Every line logged while a request is served carries its ``request_id`` (api/middleware.py sets it)."""
    request_id = REQUEST_ID.get()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    return event


def configure_logging(log_format: LogFormat = "auto", level: str = "INFO") -> None:
    """Configure structlog and the standard library logging once per process."""
    pretty = sys.stderr.isatty() if log_format == "auto" else log_format == "pretty"
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        _add_request_id,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer() if pretty else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info if not pretty else _identity,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "aiosqlite", "mail.log", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at emit time (test runners and CLIs swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def _identity(_logger: object, _name: str, event: structlog.types.EventDict) -> structlog.types.EventDict:
    return event
