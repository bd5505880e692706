"""Errors of the Segmentation API (segment definitions, segment jobs), rendered in the AEP envelope."""

from __future__ import annotations

from clarion.errors import Conflict, Invalid, NotFound, RateLimited

JOB_CAP_MESSAGE = (
    "There are too many segmentation jobs in processing at the moment. Try again at a later time."
)
"""The 429 text of ``POST /segment/jobs`` (segmentation.yaml)."""


class InvalidSegment(Invalid):
    """A segment definition or a segment job request breaks a rule (the detail names the field)."""

    code = "CLARION-5400"


class InvalidPql(InvalidSegment):
    """The PQL expression does not parse or type-check; the context carries its position and token."""

    code = "CLARION-5401"


class SegmentNotFound(NotFound):
    """No such segment definition in the sandbox."""

    code = "CLARION-5404"


class SegmentJobNotFound(NotFound):
    """No such segment job in the sandbox."""

    code = "CLARION-5414"


class PreviewNotFound(NotFound):
    """No such preview job in the sandbox."""

    code = "CLARION-5424"


class SegmentNameTaken(Invalid):
    """Another segment definition of the sandbox has that name (the contract answers 422, not 409)."""

    status = 422
    code = "CLARION-5422"
    title = "Already exists"


class SegmentInUse(Conflict):
    """The segment definition is activated by a dataflow and cannot be deleted."""

    code = "CLARION-5409"


class TooManySegmentJobs(RateLimited):
    """The sandbox already has ``segment_jobs_max_processing`` jobs waiting or running."""

    code = "CLARION-5429"
