"""Domain errors. Each knows its HTTP status and a stable code; envelopes render them per API family."""

from __future__ import annotations

from typing import Any


class ClarionError(Exception):
    """Base of every error a client may see. ``code`` is stable; ``detail`` names the field and the rule."""

    status: int = 400
    code: str = "CLARION-0400"
    title: str = "Bad request"
    retry_after: float | None = None
    """Seconds after which a retry may succeed; sent as ``Retry-After`` when set (429, 503)."""

    def __init__(
        self, detail: str, *, code: str | None = None, context: dict[str, Any] | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.context: dict[str, Any] = context or {}


class ObjectEnvelope:
    """Mixin: in the Journey Orchestration envelope this error's ``error`` is an object, not a JSON string.

    The capping API documents one such answer (code 1451); every other JO error is stringified.
    """


class MessageEnvelope:
    """Mixin: the body is only ``{"message": …}``, the shape the ad-hoc activation API documents."""


class JourneyInternalError:
    """Mixin: Journey Orchestration answers this error as its generic ``500``/``4000`` "INTERNAL ERROR".

    That is what JO documents for a sandbox that does not exist (contract §3.5).
    """


class Invalid(ClarionError):
    """The request breaks a documented rule (a field, a value, a combination)."""

    status = 400
    code = "CLARION-0400"
    title = "Bad request"


class NotFound(ClarionError):
    """The addressed resource does not exist in the caller's organization and sandbox."""

    status = 404
    code = "CLARION-0404"
    title = "Resource not found"


class Conflict(ClarionError):
    """The request conflicts with the resource's current state."""

    status = 409
    code = "CLARION-0409"
    title = "Conflict"


class Forbidden(ClarionError):
    """The caller is authenticated but not allowed to do this."""

    status = 403
    code = "CLARION-0403"
    title = "Forbidden"


class PayloadTooLarge(ClarionError):
    """The request body is larger than the configured limit."""

    status = 413
    code = "CLARION-0413"
    title = "Payload too large"


class UnsupportedMediaType(ClarionError):
    """The request body is not in a media type the endpoint accepts."""

    status = 400
    code = "CLARION-0415"
    title = "BadRequestError"


class RateLimited(ClarionError):
    """The caller is over its rate; ``retry_after`` says when to come back (seconds)."""

    status = 429
    code = "CLARION-0429"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: float, code: str | None = None) -> None:
        super().__init__(detail, code=code)
        self.retry_after = retry_after


class Unavailable(ClarionError):
    """A backend the request needs is down."""

    status = 503
    code = "CLARION-0503"
    title = "Service unavailable"


class ServiceUnavailable(Unavailable):
    """A dependency (``database``, ``queue``) did not answer: an outage, not a bug; retry after a few seconds.

    ``kit.outages.outage_of`` is the one place that recognizes the drivers' exceptions as this error.
    """

    def __init__(self, dependency: str, *, retry_after: float) -> None:
        super().__init__(
            f"The {dependency} is unavailable; nothing of this request was accepted. "
            f"Retry in {retry_after:g} seconds.",
            context={"dependency": dependency},
        )
        self.dependency = dependency
        self.retry_after = retry_after


class GatewayError(ClarionError):
    """An authentication header is missing or wrong; rendered as the AEP gateway body, whatever the API."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message, code=error_code)
        self.status = status
